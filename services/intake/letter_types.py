"""The letter types a resident can request, as data: what intake checks at the door (required
documents and form fields). Routes, numbering and templates belong to verification and signing.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from common.domain import field_values
from common.wib import indonesian_date, parse_indonesian_date

FieldKind = Literal["text", "date", "choice", "digits", "time"]


@dataclass(frozen=True)
class Requirement:
    code: str  # attachment kind
    name: str  # shown to the resident
    description: str = ""  # what exactly to upload, shown to the resident


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

# Syarat, one definition each: the same document is asked for in the same words everywhere.
KTP = Requirement(
    "KTP",
    "KTP pemohon",
    "Foto KTP elektronik pemohon yang masih berlaku; seluruh tulisan harus terbaca jelas.",
)
KK = Requirement(
    "KK",
    "Kartu Keluarga",
    "Foto atau pindaian Kartu Keluarga terbaru tempat pemohon tercatat.",
)
PENGANTAR_RT = Requirement(
    "PENGANTAR_RT",
    "Surat pengantar RT/RW",
    "Surat pengantar dari Ketua RT dan Ketua RW tempat tinggal, sudah ditandatangani dan dicap.",
)
FOTO_USAHA = Requirement(
    "FOTO_USAHA",
    "Foto tempat usaha",
    "Foto tempat usaha yang memperlihatkan papan nama atau kegiatan usahanya.",
)
SURAT_LAHIR = Requirement(
    "SURAT_LAHIR",
    "Surat keterangan lahir",
    "Surat keterangan lahir dari bidan, puskesmas, atau rumah sakit tempat anak dilahirkan.",
)
BUKU_NIKAH = Requirement(
    "BUKU_NIKAH",
    "Buku nikah/akta perkawinan orang tua",
    "Foto halaman identitas buku nikah atau akta perkawinan kedua orang tua.",
)
SURAT_KEMATIAN = Requirement(
    "SURAT_KEMATIAN",
    "Keterangan kematian",
    "Surat keterangan kematian dari rumah sakit atau puskesmas; bila meninggal di rumah, "
    "surat pernyataan kematian yang ditandatangani dua orang saksi.",
)
KTP_ALMARHUM = Requirement(
    "KTP_ALMARHUM",
    "KTP almarhum/almarhumah",
    "Foto KTP orang yang meninggal dunia (bila ada).",
)
PAS_FOTO = Requirement(
    "PAS_FOTO",
    "Pas foto",
    "Pas foto terbaru ukuran 4x6 berlatar merah, tampak wajah jelas.",
)

_SEX = tuple(field_values.SEX)
_MARITAL = tuple(field_values.MARITAL_STATUS)

_INSTANSI = FormField(
    "instansi_tujuan",
    "Instansi tujuan surat",
    hint="Bila ada, misalnya nama bank atau sekolah.",
)

_IDENTITY_FIELDS = (
    FormField("nama", "Nama lengkap", required=True),
    FormField("tempat_lahir", "Tempat lahir"),
    FormField("tanggal_lahir", "Tanggal lahir", kind="date", max_length=10),
    FormField(
        "jenis_kelamin",
        "Jenis kelamin",
        kind="choice",
        choices=_SEX,
        choice_labels=field_values.SEX,
    ),
    FormField("agama", "Agama", max_length=50),
    FormField("pekerjaan", "Pekerjaan"),
    FormField("alamat", "Alamat", required=True, max_length=300),
    FormField("rt", "RT", kind="digits", max_length=3),
    FormField("rw", "RW", kind="digits", max_length=3),
)
_STATUS = FormField(
    "status_perkawinan",
    "Status perkawinan",
    kind="choice",
    choices=_MARITAL,
    max_length=20,
    choice_labels=field_values.MARITAL_STATUS,
)
_BUSINESS_FIELDS = (
    FormField("nama_usaha", "Nama usaha", required=True),
    FormField("jenis_usaha", "Jenis usaha", required=True, hint="Misalnya warung sembako."),
    FormField("alamat_usaha", "Alamat tempat usaha", required=True, max_length=300),
    FormField(
        "mulai_usaha", "Tahun mulai usaha", kind="digits", max_length=4, hint="Misalnya 2019."
    ),
)
# Who reports a birth or a death: the signed-in resident, for someone else.
_REPORTER_FIELDS = (
    FormField("nama", "Nama lengkap pelapor", required=True),
    FormField("hubungan_pelapor", "Hubungan pelapor", max_length=50, hint="Misalnya ayah kandung."),
    FormField("alamat", "Alamat pelapor", required=True, max_length=300),
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
            requirements=(KTP, KK),
            fields=(*_IDENTITY_FIELDS, _INSTANSI),
        ),
        LetterType(
            code="SKU",
            name="Surat Keterangan Usaha",
            description=(
                "Menerangkan bahwa pemohon menjalankan usaha di desa ini, misalnya untuk "
                "pengajuan kredit usaha atau bantuan UMKM."
            ),
            requirements=(KTP, KK, PENGANTAR_RT, FOTO_USAHA),
            fields=(*_IDENTITY_FIELDS, *_BUSINESS_FIELDS, _INSTANSI),
        ),
        LetterType(
            code="SKBM",
            name="Surat Keterangan Belum Menikah",
            description="Menerangkan bahwa pemohon belum pernah menikah (berstatus belum kawin).",
            requirements=(KTP, KK, PENGANTAR_RT),
            fields=(*_IDENTITY_FIELDS, _INSTANSI),
        ),
        LetterType(
            code="SKTM",
            name="Surat Keterangan Tidak Mampu",
            description=(
                "Menerangkan bahwa pemohon termasuk keluarga tidak mampu, misalnya untuk "
                "keringanan biaya sekolah atau berobat."
            ),
            requirements=(KTP, KK, PENGANTAR_RT),
            fields=(
                *_IDENTITY_FIELDS,
                FormField(
                    "jumlah_tanggungan",
                    "Jumlah anggota keluarga yang ditanggung",
                    kind="digits",
                    max_length=2,
                ),
                _INSTANSI,
            ),
        ),
        LetterType(
            code="SKP",
            name="Surat Keterangan Penghasilan",
            description="Menerangkan penghasilan rata-rata pemohon per bulan.",
            requirements=(KTP, KK, PENGANTAR_RT),
            fields=(
                *_IDENTITY_FIELDS,
                FormField(
                    "sumber_penghasilan",
                    "Sumber penghasilan",
                    required=True,
                    hint="Misalnya buruh tani.",
                ),
                FormField(
                    "penghasilan",
                    "Penghasilan rata-rata per bulan",
                    required=True,
                    kind="digits",
                    max_length=12,
                    hint="Dalam rupiah, angka saja, misalnya 2500000.",
                ),
                _INSTANSI,
            ),
        ),
        LetterType(
            code="SKDU",
            name="Surat Keterangan Domisili Usaha",
            description="Menerangkan bahwa tempat usaha pemohon berada di wilayah desa ini.",
            requirements=(KTP, KK, PENGANTAR_RT, FOTO_USAHA),
            fields=(
                *_IDENTITY_FIELDS,
                *_BUSINESS_FIELDS[:3],
                FormField(
                    "status_tempat_usaha",
                    "Status tempat usaha",
                    kind="choice",
                    choices=("Milik sendiri", "Sewa", "Pinjam pakai"),
                ),
                _BUSINESS_FIELDS[3],
                _INSTANSI,
            ),
        ),
        LetterType(
            code="SKL",
            name="Surat Keterangan Kelahiran",
            description=(
                "Keterangan kelahiran seorang anak, dasar pengurusan akta kelahiran di Disdukcapil."
            ),
            requirements=(KTP, KK, SURAT_LAHIR, BUKU_NIKAH),
            fields=(
                FormField("nama_anak", "Nama anak", required=True),
                FormField(
                    "jenis_kelamin_anak",
                    "Jenis kelamin anak",
                    required=True,
                    kind="choice",
                    choices=_SEX,
                    choice_labels=field_values.SEX,
                ),
                FormField("tempat_lahir_anak", "Tempat lahir anak", required=True),
                FormField(
                    "tanggal_lahir_anak",
                    "Tanggal lahir anak",
                    required=True,
                    kind="date",
                    max_length=10,
                ),
                FormField("jam_lahir", "Jam lahir", kind="time", max_length=5),
                FormField("anak_ke", "Anak ke-", kind="digits", max_length=2),
                FormField("nama_ibu", "Nama ibu", required=True),
                FormField("nama_ayah", "Nama ayah"),
                *_REPORTER_FIELDS,
                _INSTANSI,
            ),
        ),
        LetterType(
            code="SKK",
            name="Surat Keterangan Kematian",
            description=(
                "Keterangan meninggalnya seorang warga, dasar pengurusan akta kematian di "
                "Disdukcapil."
            ),
            requirements=(KTP, KK, SURAT_KEMATIAN, KTP_ALMARHUM),
            fields=(
                FormField("nama_almarhum", "Nama almarhum/almarhumah", required=True),
                FormField(
                    "jenis_kelamin_almarhum",
                    "Jenis kelamin almarhum/almarhumah",
                    required=True,
                    kind="choice",
                    choices=_SEX,
                    choice_labels=field_values.SEX,
                ),
                FormField(
                    "umur_almarhum", "Umur", kind="digits", max_length=3, hint="Dalam tahun."
                ),
                FormField(
                    "alamat_almarhum",
                    "Alamat terakhir almarhum/almarhumah",
                    required=True,
                    max_length=300,
                ),
                FormField(
                    "tanggal_meninggal",
                    "Tanggal meninggal",
                    required=True,
                    kind="date",
                    max_length=10,
                ),
                FormField("tempat_meninggal", "Tempat meninggal", required=True),
                FormField("sebab_meninggal", "Sebab meninggal", hint="Misalnya sakit."),
                *_REPORTER_FIELDS,
                _INSTANSI,
            ),
        ),
        LetterType(
            code="SPCK",
            name="Surat Pengantar SKCK",
            description=(
                "Pengantar dari desa untuk mengajukan Surat Keterangan Catatan Kepolisian (SKCK) "
                "ke Polsek."
            ),
            requirements=(KTP, KK, PENGANTAR_RT, PAS_FOTO),
            fields=(*_IDENTITY_FIELDS, _STATUS, _INSTANSI),
        ),
        LetterType(
            code="SP",
            name="Surat Pengantar",
            description=(
                "Pengantar umum dari desa untuk keperluan yang tidak tercakup jenis surat lain."
            ),
            requirements=(KTP, KK, PENGANTAR_RT),
            fields=(
                *_IDENTITY_FIELDS,
                _STATUS,
                FormField("keterangan", "Keterangan tambahan untuk surat", max_length=300),
                _INSTANSI,
            ),
        ),
    )
}


def find_letter_type(code: str) -> LetterType | None:
    return LETTER_TYPES.get(code)


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
