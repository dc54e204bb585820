"""The letter types a resident can request, as data: what intake checks at the door (required
documents and form fields). Routes, numbering and templates belong to verification and signing.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

FieldKind = Literal["text", "date", "choice", "digits", "time"]


@dataclass(frozen=True)
class Requirement:
    code: str  # attachment kind
    name: str  # shown to the resident
    description: str = ""  # what exactly to upload, shown to the resident


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
    # A NIK in no desa's population register may ask for it (issue 13 item 6): a newcomer's
    # SKD. Every other letter attests what the desa's register says about the resident.
    open_to_non_residents: bool = False
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

_SEX = ("L", "P")
_MARITAL = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")

_INSTANSI = FormField(
    "instansi_tujuan", "Instansi tujuan surat (bila ada), misalnya nama bank atau sekolah"
)

_IDENTITY_FIELDS = (
    FormField("nama", "Nama lengkap", required=True),
    FormField("tempat_lahir", "Tempat lahir"),
    FormField("tanggal_lahir", "Tanggal lahir (TTTT-BB-HH)", kind="date", max_length=10),
    FormField("jenis_kelamin", "Jenis kelamin (L/P)", kind="choice", choices=_SEX),
    FormField("agama", "Agama", max_length=50),
    FormField("pekerjaan", "Pekerjaan"),
    FormField("alamat", "Alamat", required=True, max_length=300),
    FormField("rt", "RT", kind="digits", max_length=3),
    FormField("rw", "RW", kind="digits", max_length=3),
)
_STATUS = FormField(
    "status_perkawinan", "Status perkawinan", kind="choice", choices=_MARITAL, max_length=20
)
_BUSINESS_FIELDS = (
    FormField("nama_usaha", "Nama usaha", required=True),
    FormField("jenis_usaha", "Jenis usaha, misalnya warung sembako", required=True),
    FormField("alamat_usaha", "Alamat tempat usaha", required=True, max_length=300),
    FormField("mulai_usaha", "Tahun mulai usaha", kind="digits", max_length=4),
)
# Who reports a birth or a death: the signed-in resident, for someone else.
_REPORTER_FIELDS = (
    FormField("nama", "Nama lengkap pelapor", required=True),
    FormField("hubungan_pelapor", "Hubungan pelapor, misalnya ayah kandung", max_length=50),
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
            open_to_non_residents=True,  # a newcomer proves where they live before registering
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
                    "sumber_penghasilan", "Sumber penghasilan, misalnya buruh tani", required=True
                ),
                FormField(
                    "penghasilan",
                    "Penghasilan rata-rata per bulan (rupiah, angka saja)",
                    required=True,
                    kind="digits",
                    max_length=12,
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
                    "Jenis kelamin anak (L/P)",
                    required=True,
                    kind="choice",
                    choices=_SEX,
                ),
                FormField("tempat_lahir_anak", "Tempat lahir anak", required=True),
                FormField(
                    "tanggal_lahir_anak",
                    "Tanggal lahir anak (TTTT-BB-HH)",
                    required=True,
                    kind="date",
                    max_length=10,
                ),
                FormField("jam_lahir", "Jam lahir (JJ:MM)", kind="time", max_length=5),
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
                    "Jenis kelamin almarhum/almarhumah (L/P)",
                    required=True,
                    kind="choice",
                    choices=_SEX,
                ),
                FormField("umur_almarhum", "Umur (tahun)", kind="digits", max_length=3),
                FormField(
                    "alamat_almarhum",
                    "Alamat terakhir almarhum/almarhumah",
                    required=True,
                    max_length=300,
                ),
                FormField(
                    "tanggal_meninggal",
                    "Tanggal meninggal (TTTT-BB-HH)",
                    required=True,
                    kind="date",
                    max_length=10,
                ),
                FormField("tempat_meninggal", "Tempat meninggal", required=True),
                FormField("sebab_meninggal", "Sebab meninggal, misalnya sakit"),
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


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_fields(letter_type: LetterType, fields: Mapping[str, str]) -> dict[str, str]:
    """Returns the fields trimmed, with empty optional ones dropped, or raises InvalidFields
    naming the first field that is wrong."""
    errors = field_errors(letter_type, fields)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidFields(message, name)
    cleaned: dict[str, str] = {}
    for spec in letter_type.fields:
        value = fields.get(spec.name, "").strip()
        if value:
            cleaned[spec.name] = value
    return cleaned


def field_errors(letter_type: LetterType, fields: Mapping[str, str]) -> dict[str, str]:
    """Every wrong field with its Indonesian message (unknown names first, then the form's
    order); empty when the fields are right. The portal's form shows them all at once."""
    errors = {
        name: f"Isian '{name}' tidak dikenal untuk {letter_type.name}."
        for name in fields
        if name not in letter_type.field_index
    }
    for spec in letter_type.fields:
        message = _field_error(spec, fields.get(spec.name, "").strip())
        if message is not None:
            errors[spec.name] = message
    return errors


def _field_error(spec: FormField, value: str) -> str | None:
    if not value:
        return f"{spec.label} wajib diisi." if spec.required else None
    if len(value) > spec.max_length:
        return f"{spec.label} terlalu panjang (paling banyak {spec.max_length} karakter)."
    if spec.kind == "date" and not _is_past_date(value):
        return f"{spec.label} harus tanggal yang valid, misalnya 1990-08-17."
    if spec.kind == "choice" and value not in spec.choices:
        return f"{spec.label} harus salah satu dari: {', '.join(spec.choices)}."
    if spec.kind == "digits" and not (value.isascii() and value.isdigit()):
        return f"{spec.label} harus berupa angka."
    if spec.kind == "time" and not _is_time(value):
        return f"{spec.label} harus jam yang valid, misalnya 08:30."
    return None


_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _is_time(value: str) -> bool:
    return _TIME.fullmatch(value) is not None


def _is_past_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        return date.fromisoformat(value) <= date.today()
    except ValueError:
        return False
