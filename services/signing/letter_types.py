"""Letter types the signing service can issue: classification code, title and template. Data,
not code paths: adding a type is adding an entry (and its template)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LetterType:
    code: str
    title: str
    kode_klasifikasi: str
    template: str  # file name under services/signing/templates/
    template_version: str  # recorded on every letter rendered from it
    # Form fields (IssueLetterRequest.fields) the template prints, in order, with their labels.
    fields: tuple[tuple[str, str], ...]


LETTER_TYPES: dict[str, LetterType] = {
    "SKD": LetterType(
        code="SKD",
        title="SURAT KETERANGAN DOMISILI",
        # 470 = Kependudukan (Permendagri 78/2012, as OpenSID ships it). The Permendagri 83/2022
        # codes are to be confirmed per desa later; the code is per type data for that reason.
        kode_klasifikasi="470",
        template="skd.typ.j2",
        template_version="SKD-2026.1",
        fields=(
            ("nama", "Nama"),
            ("nik", "NIK"),
            ("tempat_tanggal_lahir", "Tempat/Tgl. Lahir"),
            ("jenis_kelamin", "Jenis Kelamin"),
            ("agama", "Agama"),
            ("pekerjaan", "Pekerjaan"),
            ("alamat", "Alamat"),
        ),
    ),
}


# Jabatan of a signer role: printed under the signature and in the dev certificates' subject.
SIGNER_TITLES = {"kades": "Kepala Desa", "sekdes": "Sekretaris Desa"}


def find_letter_type(code: str) -> LetterType | None:
    return LETTER_TYPES.get(code)
