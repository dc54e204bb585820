"""A letter type as intake checks it at the door (required documents and form fields), and the
checks. The types themselves are the kabupaten's catalogue's, read from signing's
CatalogueService (services/intake/catalogue.py): intake keeps no list of its own.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from common.domain import field_values
from common.wib import indonesian_date, parse_indonesian_date

FieldKind = Literal["text", "date", "choice", "digits", "time"]


# How each kind of syarat is labelled where residents read it.
SYARAT_KIND_LABELS = {
    "wajib": "Wajib diunggah",
    "opsional": "Tidak wajib",
    "bawa_asli": "Bawa berkas asli ke kantor desa",
}
# The kinds a file is uploaded for; `bawa_asli` is brought to the office instead.
UPLOADED_KINDS = ("wajib", "opsional")


@dataclass(frozen=True)
class Requirement:
    code: str  # attachment kind
    name: str  # shown to the resident
    description: str = ""  # what exactly to upload, shown to the resident
    # The catalogue's kind: wajib (uploaded, required), opsional (if the resident has it),
    # bawa_asli (the original is brought to the office, not uploaded).
    kind: str = "wajib"

    @property
    def kind_label(self) -> str:
        return SYARAT_KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class FormField:
    """One field of a letter's form. The label names the field and nothing else; how to fill
    it in (an example, a unit) is the hint, which pages show beside the field, so that a page
    showing the value never shows "Tanggal lahir (TTTT-BB-HH) 1990-08-15"."""

    name: str
    label: str  # shown to the resident
    required: bool = False
    kind: FieldKind = "text"
    max_length: int = 100  # of the stored value (a date is stored as 1990-08-15)
    choices: tuple[str, ...] = ()  # the stored values
    hint: str = ""  # shown beside the field
    # The words for each choice ("L" -> "Laki-laki"); a choice without is shown as it is.
    choice_labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def choice_label(self, value: str) -> str:
        return field_values.value_label(self.choice_labels, value)

    @property
    def options(self) -> tuple[tuple[str, str], ...]:
        """(stored value, words) for a select."""
        return tuple((c, self.choice_label(c)) for c in self.choices)

    def shown(self, value: str) -> str:
        """A stored value as people read it: "15 Agustus 1990", "Perempuan", "08.30"."""
        if self.kind == "date" and (day := parse_indonesian_date(value)) is not None:
            return indonesian_date(day)
        if self.kind == "choice":
            return self.choice_label(value)
        if self.kind == "time" and _TIME.fullmatch(value):
            return value.replace(":", ".")
        return value


@dataclass(frozen=True)
class LetterType:
    code: str
    name: str
    description: str
    requirements: tuple[Requirement, ...]
    fields: tuple[FormField, ...]
    # A NIK in no desa's population register may ask for it (issue 13 item 6): a newcomer's
    # SKD. Every other letter attests what the desa's register says about the resident.
    open_to_non_residents: bool = False
    field_index: Mapping[str, FormField] = field(init=False, repr=False, compare=False)
    # Whom the letter is about when it is not the applicant (a birth, a death): the resident
    # may choose them from their own KK, and the register fills their fields
    # (register_data.SUBJECT_FIELDS). "" when the letter is about the applicant.
    subject: str = ""
    online: bool = True  # residents may request it online (the catalogue's flag)
    # The catalogue version this is (`<code>-v<n>`): an application records it.
    template_version: str = ""
    # Every syarat in the catalogue's order, the optional and bring-the-original ones too:
    # shown to residents; `requirements` (the wajib ones) are the uploads asked for.
    syarat: tuple[Requirement, ...] = ()

    @property
    def other_syarat(self) -> tuple[Requirement, ...]:
        """The syarat that are not uploaded as required: opsional and bawa_asli."""
        return tuple(r for r in self.syarat if r.kind != "wajib")

    @property
    def uploadable(self) -> tuple[Requirement, ...]:
        """The syarat a resident may upload, in the catalogue's order: the wajib ones (required
        at submission) and the opsional ones (never required). Types read before `syarat`
        was kept list the wajib ones only."""
        return tuple(r for r in self.syarat if r.kind in UPLOADED_KINDS) or self.requirements

    @property
    def to_bring(self) -> tuple[Requirement, ...]:
        """The originals brought to the desa office: shown as an instruction, never uploaded."""
        return tuple(r for r in self.syarat if r.kind not in UPLOADED_KINDS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_index", {f.name: f for f in self.fields})

    @property
    def requirement_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.requirements)


class InvalidFields(ValueError):
    """A form field is missing, unknown or malformed. `str(exc)` is the Indonesian message."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field_name = field_name


PURPOSE_MAX_LENGTH = 500

# Examples in the words the page shows a value in; every message about a date or a time gives
# the same one.
DATE_EXAMPLE = "15 Agustus 1990"
TIME_EXAMPLE = "08.30"


def check_fields(letter_type: LetterType, fields: Mapping[str, str]) -> dict[str, str]:
    """Returns the fields trimmed and in their stored form (a date as 1990-08-15, a time as
    08:30, a choice as its code), with empty optional ones dropped, or raises InvalidFields
    naming the first field that is wrong."""
    errors = field_errors(letter_type, fields)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidFields(message, name)
    cleaned: dict[str, str] = {}
    for spec in letter_type.fields:
        value = stored_value(spec, fields.get(spec.name, ""))
        if value:
            cleaned[spec.name] = value
    return cleaned


def stored_value(spec: FormField, value: str) -> str:
    """What is stored for a value as typed or picked: a date picker's 1990-08-15 and a typed
    "15 Agustus 1990" are both 1990-08-15; "08.30" is 08:30; "Perempuan" is P. A value that
    is none of these stays as typed (field_errors says what is wrong with it)."""
    value = value.strip()
    if spec.kind == "date" and (day := parse_indonesian_date(value)) is not None:
        return day.isoformat()
    if spec.kind == "time" and _TIME.fullmatch(value.replace(".", ":")):
        return value.replace(".", ":")
    if spec.kind == "choice" and value not in spec.choices:
        by_words = {label.lower(): code for code, label in spec.options}
        return by_words.get(value.lower(), value)
    return value


def field_errors(letter_type: LetterType, fields: Mapping[str, str]) -> dict[str, str]:
    """Every wrong field with its Indonesian message (unknown names first, then the form's
    order); empty when the fields are right. The portal's form shows them all at once."""
    errors = {
        name: f"Isian '{name}' tidak dikenal untuk {letter_type.name}."
        for name in fields
        if name not in letter_type.field_index
    }
    for spec in letter_type.fields:
        message = _field_error(spec, stored_value(spec, fields.get(spec.name, "")))
        if message is not None:
            errors[spec.name] = message
    return errors


def _field_error(spec: FormField, value: str) -> str | None:
    if not value:
        return f"{spec.label} wajib diisi." if spec.required else None
    if spec.kind == "date" and not _is_past_date(value):
        return f"{spec.label} harus tanggal yang valid dan sudah lewat, misalnya {DATE_EXAMPLE}."
    if len(value) > spec.max_length:
        return f"{spec.label} terlalu panjang (paling banyak {spec.max_length} karakter)."
    if spec.kind == "choice" and value not in spec.choices:
        words = [label for _, label in spec.options]
        return f"{spec.label} harus salah satu dari: {', '.join(words)}."
    if spec.kind == "digits" and not (value.isascii() and value.isdigit()):
        return f"{spec.label} harus berupa angka."
    if spec.kind == "time" and not _is_time(value):
        return f"{spec.label} harus jam yang valid, misalnya {TIME_EXAMPLE}."
    return None


_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _is_time(value: str) -> bool:
    return _TIME.fullmatch(value) is not None


def _is_past_date(value: str) -> bool:
    """`value` is a stored date (stored_value made any accepted form of it ISO)."""
    day = parse_indonesian_date(value)
    return day is not None and day.isoformat() == value and day <= date.today()
