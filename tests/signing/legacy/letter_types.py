"""Letter types the signing service can issue: classification code, title, template and what the
template prints. Data, not code paths: adding a type is adding an entry (and its template).

Kode klasifikasi (Permendagri 83/2022, Pedoman Klasifikasi Arsip di Lingkungan Kemendagri dan
Pemerintah Daerah, which replaced Permendagri 78/2012). The regulation's main classes, as desa
letters use them: 100 Pemerintahan (100.2 Pemerintahan Umum), 300 Keamanan dan Ketertiban,
400 Kesejahteraan Rakyat (400.9 Sosial; 400.12 Kependudukan dan Pencatatan Sipil, with 400.12.2
Pendaftaran Penduduk and 400.12.3 Pencatatan Sipil: kelahiran, kematian, perkawinan), 500
Perekonomian (500.2 Perdagangan, 500.2.2 Perdagangan Dalam Negeri/UMKM). We stop at the level
that desa practice and the regulation's class list agree on, and leave finer sub-codes to the
desa: every code here is only the default and a desa overrides it per type
(DesaProfile.kode_klasifikasi), e.g. a desa still numbering by 78/2012 sets SKD to 470.
Letters keep the code they were issued with (it is part of the number), whatever changes later.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    key: str  # the request field it prints (or nik / tempat_tanggal_lahir / alamat, derived)
    label: str


@dataclass(frozen=True)
class Section:
    rows: tuple[Row, ...]
    # Printed above the rows ("Data anak:"); empty for the letter's main table.
    heading: str = ""


@dataclass(frozen=True)
class LetterType:
    code: str
    title: str
    kode_klasifikasi: str  # default; a desa may override it
    template: str  # file name under services/signing/templates/
    template_version: str  # recorded on every letter rendered from it
    sections: tuple[Section, ...]
    # Perihal in the register of issued letters (buku agenda surat keluar).
    subject: str
    # Tujuan (register, and the letters that name one) when the request names no
    # instansi_tujuan; `{kecamatan}` and `{desa}` are filled from the desa profile.
    default_addressee: str = "Yang berkepentingan"

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for section in self.sections for row in section.rows)


_PERSON = (
    Row("nama", "Nama"),
    Row("nik", "NIK"),
    Row("tempat_tanggal_lahir", "Tempat/Tgl. Lahir"),
    Row("jenis_kelamin", "Jenis Kelamin"),
    Row("agama", "Agama"),
    Row("pekerjaan", "Pekerjaan"),
    Row("alamat", "Alamat"),
)
_PERSON_WITH_STATUS = (*_PERSON[:5], Row("status_perkawinan", "Status Perkawinan"), *_PERSON[5:])
_BUSINESS = (
    Row("nama_usaha", "Nama Usaha"),
    Row("jenis_usaha", "Jenis Usaha"),
    Row("alamat_usaha", "Alamat Usaha"),
    Row("mulai_usaha", "Mulai Usaha (tahun)"),
)
_REPORTER = (
    Row("nama", "Nama"),
    Row("nik", "NIK"),
    Row("hubungan_pelapor", "Hubungan"),
    Row("alamat", "Alamat"),
)

_TYPES = (
    LetterType(
        code="SKD",
        title="SURAT KETERANGAN DOMISILI",
        # 400.12.2 Pendaftaran Penduduk (78/2012: 470 Kependudukan).
        kode_klasifikasi="400.12.2",
        template="skd.typ.j2",
        template_version="SKD-2026.2",
        sections=(Section(_PERSON),),
        subject="Keterangan domisili",
    ),
    LetterType(
        code="SKU",
        title="SURAT KETERANGAN USAHA",
        # 500.2.2 Perdagangan Dalam Negeri/UMKM (78/2012: 500 Perekonomian, 510 Perdagangan).
        kode_klasifikasi="500.2.2",
        template="sku.typ.j2",
        template_version="SKU-2026.1",
        sections=(Section(_PERSON), Section(_BUSINESS, "Data usaha:")),
        subject="Keterangan usaha",
    ),
    LetterType(
        code="SKBM",
        title="SURAT KETERANGAN BELUM MENIKAH",
        # 400.12.3 Pencatatan Sipil, which holds perkawinan (78/2012: 474.2 Perkawinan).
        kode_klasifikasi="400.12.3",
        template="skbm.typ.j2",
        template_version="SKBM-2026.1",
        sections=(Section(_PERSON),),
        subject="Keterangan belum menikah",
    ),
    LetterType(
        code="SKTM",
        title="SURAT KETERANGAN TIDAK MAMPU",
        # 400.9 Sosial (78/2012: 460 Sosial, 400 Kesejahteraan Rakyat).
        kode_klasifikasi="400.9",
        template="sktm.typ.j2",
        template_version="SKTM-2026.1",
        sections=(Section((*_PERSON, Row("jumlah_tanggungan", "Jumlah Tanggungan"))),),
        subject="Keterangan tidak mampu",
    ),
    LetterType(
        code="SKP",
        title="SURAT KETERANGAN PENGHASILAN",
        # 400.9 Sosial: desa income statements serve aid, scholarships and fee relief.
        kode_klasifikasi="400.9",
        template="skp.typ.j2",
        template_version="SKP-2026.1",
        sections=(
            Section(_PERSON),
            Section(
                (
                    Row("sumber_penghasilan", "Sumber Penghasilan"),
                    Row("penghasilan", "Penghasilan per Bulan"),
                ),
                "Penghasilan:",
            ),
        ),
        subject="Keterangan penghasilan",
    ),
    LetterType(
        code="SKDU",
        title="SURAT KETERANGAN DOMISILI USAHA",
        # 500.2.2 Perdagangan Dalam Negeri/UMKM, as SKU.
        kode_klasifikasi="500.2.2",
        template="skdu.typ.j2",
        template_version="SKDU-2026.1",
        sections=(
            Section(_PERSON, "Pemilik usaha:"),
            Section(
                (*_BUSINESS[:3], Row("status_tempat_usaha", "Status Tempat Usaha"), _BUSINESS[3]),
                "Data usaha:",
            ),
        ),
        subject="Keterangan domisili usaha",
    ),
    LetterType(
        code="SKL",
        title="SURAT KETERANGAN KELAHIRAN",
        # 400.12.3 Pencatatan Sipil (78/2012: 474.1 Kelahiran).
        kode_klasifikasi="400.12.3",
        template="skl.typ.j2",
        template_version="SKL-2026.1",
        sections=(
            Section(
                (
                    Row("nama_anak", "Nama"),
                    Row("jenis_kelamin_anak", "Jenis Kelamin"),
                    Row("tempat_lahir_anak", "Tempat Lahir"),
                    Row("tanggal_lahir_anak", "Hari, Tanggal Lahir"),
                    Row("jam_lahir", "Pukul"),
                    Row("anak_ke", "Anak ke-"),
                ),
                "Telah lahir seorang anak:",
            ),
            Section(
                (Row("nama_ibu", "Nama Ibu"), Row("nama_ayah", "Nama Ayah")),
                "Dari orang tua:",
            ),
            Section(_REPORTER, "Dilaporkan oleh:"),
        ),
        subject="Keterangan kelahiran",
        default_addressee="Dinas Kependudukan dan Pencatatan Sipil",
    ),
    LetterType(
        code="SKK",
        title="SURAT KETERANGAN KEMATIAN",
        # 400.12.3 Pencatatan Sipil (78/2012: 474.3 Kematian).
        kode_klasifikasi="400.12.3",
        template="skk.typ.j2",
        template_version="SKK-2026.1",
        sections=(
            Section(
                (
                    Row("nama_almarhum", "Nama"),
                    Row("jenis_kelamin_almarhum", "Jenis Kelamin"),
                    Row("umur_almarhum", "Umur (tahun)"),
                    Row("alamat_almarhum", "Alamat Terakhir"),
                ),
                "Telah meninggal dunia:",
            ),
            Section(
                (
                    Row("tanggal_meninggal", "Hari, Tanggal"),
                    Row("tempat_meninggal", "Tempat"),
                    Row("sebab_meninggal", "Sebab"),
                ),
                "Pada:",
            ),
            Section(_REPORTER, "Dilaporkan oleh:"),
        ),
        subject="Keterangan kematian",
        default_addressee="Dinas Kependudukan dan Pencatatan Sipil",
    ),
    LetterType(
        code="SPCK",
        title="SURAT PENGANTAR SKCK",
        # 300 Keamanan dan Ketertiban: the letter goes to the police (78/2012: 330).
        kode_klasifikasi="300",
        template="spck.typ.j2",
        template_version="SPCK-2026.1",
        sections=(Section(_PERSON_WITH_STATUS),),
        subject="Pengantar permohonan SKCK",
        default_addressee="Kepala Kepolisian Sektor {kecamatan}",
    ),
    LetterType(
        code="SP",
        title="SURAT PENGANTAR",
        # 100.2 Pemerintahan Umum: a general pengantar of the desa administration
        # (78/2012: 140 Pemerintahan Desa).
        kode_klasifikasi="100.2",
        template="sp.typ.j2",
        template_version="SP-2026.1",
        sections=(Section(_PERSON_WITH_STATUS),),
        subject="Surat pengantar",
    ),
)

LETTER_TYPES: dict[str, LetterType] = {lt.code: lt for lt in _TYPES}


# Jabatan of a signer role: printed under the signature and in the dev certificates' subject.


def find_letter_type(code: str) -> LetterType | None:
    return LETTER_TYPES.get(code)
