"""OpenSID's code tables for penduduk, as data: the ids its penduduk import spreadsheet (and its
database columns of the same names) use, and the names OpenSID shows for them.

Source: OpenSID (github.com/OpenSID/OpenSID, branch `umum`), the reference tables its first
migration seeds (donjo-app/models/migrations/Data_awal.php): tweb_penduduk_sex,
tweb_penduduk_hubungan (kk_level), tweb_penduduk_agama, tweb_penduduk_pendidikan_kk,
tweb_penduduk_pendidikan (pendidikan_sedang_id), tweb_penduduk_pekerjaan, tweb_penduduk_kawin
(status_kawin), tweb_penduduk_warganegara, tweb_golongan_darah and tweb_status_dasar. The ranges
agree with the checks of OpenSID's own import (donjo-app/models/Import_model.php). Copied as
facts (id -> name), not as code.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeTable:
    column: str  # the spreadsheet column (OpenSID's name)
    label: str  # what the column is, in Indonesian, for messages
    names: dict[int, str]

    def name(self, code: int | None) -> str:
        return "" if code is None else self.names.get(code, "")

    def code_of(self, raw: str) -> int | None:
        """The id of a cell: a number from the table, or (as OpenSID's import also accepts) the
        table's name for it, in any case and spacing. None for an unknown value."""
        text = raw.strip()
        if text.isdigit():
            value = int(text)
            return value if value in self.names else None
        wanted = _folded(text)
        for code, name in self.names.items():
            if _folded(name) == wanted:
                return code
        return None


def _folded(text: str) -> str:
    return "".join(text.upper().split())


SEX = CodeTable("sex", "jenis kelamin", {1: "LAKI-LAKI", 2: "PEREMPUAN"})
SEX_MALE = 1
SEX_FEMALE = 2

# kk_level: the resident's relation to the head of their KK.
KK_HEAD = 1
RELATION = CodeTable(
    "kk_level",
    "hubungan dalam keluarga",
    {
        KK_HEAD: "KEPALA KELUARGA",
        2: "SUAMI",
        3: "ISTRI",
        4: "ANAK",
        5: "MENANTU",
        6: "CUCU",
        7: "ORANGTUA",
        8: "MERTUA",
        9: "FAMILI LAIN",
        10: "PEMBANTU",
        11: "LAINNYA",
    },
)

RELIGION = CodeTable(
    "agama_id",
    "agama",
    {
        1: "ISLAM",
        2: "KRISTEN",
        3: "KATHOLIK",
        4: "HINDU",
        5: "BUDHA",
        6: "KHONGHUCU",
        7: "KEPERCAYAAN TERHADAP TUHAN YME / LAINNYA",
    },
)

EDUCATION = CodeTable(
    "pendidikan_kk_id",
    "pendidikan (dalam KK)",
    {
        1: "TIDAK / BELUM SEKOLAH",
        2: "BELUM TAMAT SD/SEDERAJAT",
        3: "TAMAT SD / SEDERAJAT",
        4: "SLTP/SEDERAJAT",
        5: "SLTA / SEDERAJAT",
        6: "DIPLOMA I / II",
        7: "AKADEMI/ DIPLOMA III/S. MUDA",
        8: "DIPLOMA IV/ STRATA I",
        9: "STRATA II",
        10: "STRATA III",
    },
)

EDUCATION_ONGOING = CodeTable(
    "pendidikan_sedang_id",
    "pendidikan yang sedang ditempuh",
    {
        1: "BELUM MASUK TK/KELOMPOK BERMAIN",
        2: "SEDANG TK/KELOMPOK BERMAIN",
        3: "TIDAK PERNAH SEKOLAH",
        4: "SEDANG SD/SEDERAJAT",
        5: "TIDAK TAMAT SD/SEDERAJAT",
        6: "SEDANG SLTP/SEDERAJAT",
        7: "SEDANG SLTA/SEDERAJAT",
        8: "SEDANG D-1/SEDERAJAT",
        9: "SEDANG D-2/SEDERAJAT",
        10: "SEDANG D-3/SEDERAJAT",
        11: "SEDANG S-1/SEDERAJAT",
        12: "SEDANG S-2/SEDERAJAT",
        13: "SEDANG S-3/SEDERAJAT",
        14: "SEDANG SLB A/SEDERAJAT",
        15: "SEDANG SLB B/SEDERAJAT",
        16: "SEDANG SLB C/SEDERAJAT",
        17: "TIDAK DAPAT MEMBACA DAN MENULIS HURUF LATIN/ARAB",
        18: "TIDAK SEDANG SEKOLAH",
    },
)

OCCUPATION = CodeTable(
    "pekerjaan_id",
    "pekerjaan",
    {
        1: "BELUM/TIDAK BEKERJA",
        2: "MENGURUS RUMAH TANGGA",
        3: "PELAJAR/MAHASISWA",
        4: "PENSIUNAN",
        5: "PEGAWAI NEGERI SIPIL (PNS)",
        6: "TENTARA NASIONAL INDONESIA (TNI)",
        7: "KEPOLISIAN RI (POLRI)",
        8: "PERDAGANGAN",
        9: "PETANI/PEKEBUN",
        10: "PETERNAK",
        11: "NELAYAN/PERIKANAN",
        12: "INDUSTRI",
        13: "KONSTRUKSI",
        14: "TRANSPORTASI",
        15: "KARYAWAN SWASTA",
        16: "KARYAWAN BUMN",
        17: "KARYAWAN BUMD",
        18: "KARYAWAN HONORER",
        19: "BURUH HARIAN LEPAS",
        20: "BURUH TANI/PERKEBUNAN",
        21: "BURUH NELAYAN/PERIKANAN",
        22: "BURUH PETERNAKAN",
        23: "PEMBANTU RUMAH TANGGA",
        24: "TUKANG CUKUR",
        25: "TUKANG LISTRIK",
        26: "TUKANG BATU",
        27: "TUKANG KAYU",
        28: "TUKANG SOL SEPATU",
        29: "TUKANG LAS/PANDAI BESI",
        30: "TUKANG JAHIT",
        31: "TUKANG GIGI",
        32: "PENATA RIAS",
        33: "PENATA BUSANA",
        34: "PENATA RAMBUT",
        35: "MEKANIK",
        36: "SENIMAN",
        37: "TABIB",
        38: "PARAJI",
        39: "PERANCANG BUSANA",
        40: "PENTERJEMAH",
        41: "IMAM MASJID",
        42: "PENDETA",
        43: "PASTOR",
        44: "WARTAWAN",
        45: "USTADZ/MUBALIGH",
        46: "JURU MASAK",
        47: "PROMOTOR ACARA",
        48: "ANGGOTA DPR-RI",
        49: "ANGGOTA DPD",
        50: "ANGGOTA BPK",
        51: "PRESIDEN",
        52: "WAKIL PRESIDEN",
        53: "ANGGOTA MAHKAMAH KONSTITUSI",
        54: "ANGGOTA KABINET KEMENTERIAN",
        55: "DUTA BESAR",
        56: "GUBERNUR",
        57: "WAKIL GUBERNUR",
        58: "BUPATI",
        59: "WAKIL BUPATI",
        60: "WALIKOTA",
        61: "WAKIL WALIKOTA",
        62: "ANGGOTA DPRD PROVINSI",
        63: "ANGGOTA DPRD KABUPATEN/KOTA",
        64: "DOSEN",
        65: "GURU",
        66: "PILOT",
        67: "PENGACARA",
        68: "NOTARIS",
        69: "ARSITEK",
        70: "AKUNTAN",
        71: "KONSULTAN",
        72: "DOKTER",
        73: "BIDAN",
        74: "PERAWAT",
        75: "APOTEKER",
        76: "PSIKIATER/PSIKOLOG",
        77: "PENYIAR TELEVISI",
        78: "PENYIAR RADIO",
        79: "PELAUT",
        80: "PENELITI",
        81: "SOPIR",
        82: "PIALANG",
        83: "PARANORMAL",
        84: "PEDAGANG",
        85: "PERANGKAT DESA",
        86: "KEPALA DESA",
        87: "BIARAWATI",
        88: "WIRASWASTA",
        89: "LAINNYA",
    },
)

MARITAL_STATUS = CodeTable(
    "status_kawin",
    "status perkawinan",
    {1: "BELUM KAWIN", 2: "KAWIN", 3: "CERAI HIDUP", 4: "CERAI MATI"},
)

CITIZENSHIP = CodeTable(
    "warganegara_id", "kewarganegaraan", {1: "WNI", 2: "WNA", 3: "DUA KEWARGANEGARAAN"}
)

BLOOD_TYPE = CodeTable(
    "golongan_darah_id",
    "golongan darah",
    {
        1: "A",
        2: "B",
        3: "AB",
        4: "O",
        5: "A+",
        6: "A-",
        7: "B+",
        8: "B-",
        9: "AB+",
        10: "AB-",
        11: "O+",
        12: "O-",
        13: "TIDAK TAHU",
    },
)

# tweb_status_dasar. Our register keeps four states (models.STATUSES); OpenSID's PERGI (left
# without a move being recorded) is a resident who no longer lives here, so it reads as pindah.
# TIDAK VALID (9) is not a state of a person: such a row is refused.
BASIC_STATUS = CodeTable(
    "status_dasar",
    "status dasar",
    {1: "HIDUP", 2: "MATI", 3: "PINDAH", 4: "HILANG", 6: "PERGI"},
)

# Tables whose code is a column of the register (spreadsheet column -> table).
CODED_COLUMNS: tuple[CodeTable, ...] = (
    SEX,
    RELATION,
    RELIGION,
    EDUCATION,
    EDUCATION_ONGOING,
    OCCUPATION,
    MARITAL_STATUS,
    CITIZENSHIP,
    BLOOD_TYPE,
)
