"""The letter types a resident can request, as data: what intake checks at the door (required
documents and form fields). Routes, numbering and templates belong to verification and signing.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

FieldKind = Literal["text", "date", "choice", "digits"]


@dataclass(frozen=True)
class Requirement:
    code: str  # attachment kind
    name: str  # shown to the resident


@dataclass(frozen=True)
class FormField:
    name: str
    label: str  # shown to the resident
    required: bool = False
    kind: FieldKind = "text"
    max_length: int = 100
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class LetterType:
    code: str
    name: str
    description: str
    requirements: tuple[Requirement, ...]
    fields: tuple[FormField, ...]
    field_index: Mapping[str, FormField] = field(init=False, repr=False, compare=False)

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

_IDENTITY_FIELDS = (
    FormField("nama", "Nama lengkap", required=True),
    FormField("tempat_lahir", "Tempat lahir"),
    FormField("tanggal_lahir", "Tanggal lahir (TTTT-BB-HH)", kind="date", max_length=10),
    FormField("jenis_kelamin", "Jenis kelamin (L/P)", kind="choice", choices=("L", "P")),
    FormField("agama", "Agama", max_length=50),
    FormField("pekerjaan", "Pekerjaan"),
    FormField("alamat", "Alamat", required=True, max_length=300),
    FormField("rt", "RT", kind="digits", max_length=3),
    FormField("rw", "RW", kind="digits", max_length=3),
)

LETTER_TYPES: dict[str, LetterType] = {
    lt.code: lt
    for lt in (
        LetterType(
            code="SKD",
            name="Surat Keterangan Domisili",
            description="Menerangkan bahwa pemohon bertempat tinggal di desa ini.",
            requirements=(
                Requirement("KTP", "KTP pemohon"),
                Requirement("KK", "Kartu Keluarga"),
            ),
            fields=_IDENTITY_FIELDS,
        ),
    )
}


def find_letter_type(code: str) -> LetterType | None:
    return LETTER_TYPES.get(code)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_fields(letter_type: LetterType, fields: Mapping[str, str]) -> dict[str, str]:
    """Returns the fields trimmed, with empty optional ones dropped, or raises InvalidFields
    naming the first field that is wrong."""
    for name in fields:
        if name not in letter_type.field_index:
            raise InvalidFields(f"Isian '{name}' tidak dikenal untuk {letter_type.name}.", name)
    cleaned: dict[str, str] = {}
    for spec in letter_type.fields:
        value = fields.get(spec.name, "").strip()
        if not value:
            if spec.required:
                raise InvalidFields(f"{spec.label} wajib diisi.", spec.name)
            continue
        if len(value) > spec.max_length:
            raise InvalidFields(
                f"{spec.label} terlalu panjang (paling banyak {spec.max_length} karakter).",
                spec.name,
            )
        if spec.kind == "date" and not _is_past_date(value):
            raise InvalidFields(
                f"{spec.label} harus tanggal yang valid, misalnya 1990-08-17.", spec.name
            )
        if spec.kind == "choice" and value not in spec.choices:
            raise InvalidFields(
                f"{spec.label} harus salah satu dari: {', '.join(spec.choices)}.", spec.name
            )
        if spec.kind == "digits" and not (value.isascii() and value.isdigit()):
            raise InvalidFields(f"{spec.label} harus berupa angka.", spec.name)
        cleaned[spec.name] = value
    return cleaned


def _is_past_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        return date.fromisoformat(value) <= date.today()
    except ValueError:
        return False
