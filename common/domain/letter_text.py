"""The words of a letter type's template text (docs/letter-catalogue.md#text) that the staff
client's editor needs as much as signing's compiler: the fixed placeholders, each with what it
prints, and the marks of the text. Signing checks templates against these; the editor offers
them in a list, so nobody types a placeholder by hand."""

from collections.abc import Mapping

# Placeholders a template may use besides the type's own fields. The list is fixed.
PLACEHOLDERS: Mapping[str, str] = {
    "penduduk.nik": "NIK pemohon",
    "penduduk.tempat_tanggal_lahir": "tempat dan tanggal lahir, dari tempat_lahir dan tanggal_lahir",
    "penduduk.alamat_lengkap": "alamat dengan RT/RW, dari alamat, rt dan rw",
    "desa.nama": "nama desa",
    "desa.kecamatan": "kecamatan",
    "desa.kabupaten": "kabupaten",
    "desa.alamat": "alamat kantor desa",
    "desa.kode_pos": "kode pos",
    "surat.pejabat": "jabatan yang diwakili surat, misalnya Kepala Desa",
    "surat.keperluan": "keperluan yang ditulis pemohon",
    "surat.tujuan": "tujuan surat (instansi_tujuan, atau tujuan bawaan jenis surat)",
    "surat.nomor": "nomor surat",
    "surat.tanggal": "tanggal surat",
}


def token(name: str) -> str:
    """A placeholder as template text writes it."""
    return "{" + name + "}"


def literal(text: str) -> str:
    """`text` as template text that prints it as it is (its marks doubled)."""
    return text.replace("{", "{{").replace("}", "}}").replace("*", "**")
