"""Reading one OpenSID spreadsheet row: dates as OpenSID and Excel write them, codes as ids or
OpenSID's names, '-' and 0 as unknown, and the record checks with their Indonesian reasons."""

from datetime import date

import pytest

from services.verification.population import codes
from services.verification.population.importer import merged, parse_date, row_values
from services.verification.population.register import InvalidResident, ResidentData, check_data

pytestmark = pytest.mark.unit

NIK = "3213111203800001"  # born 12-03-1980, a man


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1980-03-12", date(1980, 3, 12)),
        ("12-03-1980", date(1980, 3, 12)),
        ("12/03/1980", date(1980, 3, 12)),
        ("29292", date(1980, 3, 12)),  # an Excel day number
        ("1980-03-12 00:00:00", date(1980, 3, 12)),
        ("", None),
    ],
)
def test_dates_as_opensid_and_excel_write_them(raw: str, expected: date | None) -> None:
    assert parse_date(raw) == expected


def test_a_date_that_cannot_be_read_is_named() -> None:
    with pytest.raises(InvalidResident, match="Tanggal lahir '31-02-1980' tidak dapat dibaca"):
        parse_date("31-02-1980")


def test_codes_are_ids_or_opensids_names() -> None:
    assert codes.RELIGION.code_of("1") == 1
    assert codes.RELIGION.code_of(" islam ") == 1
    assert codes.OCCUPATION.code_of("Petani / Pekebun") == 9
    assert codes.RELATION.code_of("kepala keluarga") == 1
    assert codes.BLOOD_TYPE.code_of("99") is None
    assert codes.SEX.code_of("L") is None


def test_unknown_values_keep_what_the_register_holds() -> None:
    cells = {"nik": f"'{NIK}\u200b", "nama": "ASEP", "no_kk": "0", "agama_id": "-", "sex": ""}
    row = row_values(cells)
    existing = ResidentData(
        nik=NIK,
        name="ASEP",
        sex=1,
        religion=2,
        kk_number="3213110101150007",
        kk_level=1,
        dusun="A",
        rw="1",
        rt="1",
        phones="6281234567890",
    )

    again = merged(existing, row_values({**cells, "telepon": "0812-3456-7890 / 085712345678"}))

    assert row.values["nik"] == NIK  # invisible characters and the apostrophe dropped
    assert row.values["religion"] is None and row.values["kk_number"] is None
    assert (again.religion, again.kk_number) == (2, "3213110101150007")
    assert again.phones == "6281234567890,6285712345678"


def test_a_new_residents_sex_is_read_from_the_nik_when_not_given() -> None:
    woman = "3213115203850002"  # day 52: a woman born on the 12th
    assert merged(None, row_values({"nik": woman, "nama": "EUIS"})).sex == codes.SEX_FEMALE
    assert merged(None, row_values({"nik": NIK, "nama": "ASEP"})).sex == codes.SEX_MALE


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"nik": "3213111203800000"}, "NIK harus 16 digit angka dengan tanggal lahir yang valid."),
        ({"kk_number": "12345"}, "Nomor KK harus 16 digit angka."),
        ({"kk_level": None}, "Hubungan dalam keluarga wajib diisi bila ada nomor KK."),
        ({"rt": " "}, "RT wajib diisi."),
        ({"sex": 3}, "Kode jenis kelamin '3' tidak dikenal."),
        ({"birth_date": date(2999, 1, 1)}, "Tanggal lahir tidak boleh di masa depan."),
        ({"email": "bukan-email"}, "Alamat email tidak valid."),
        ({"father_nik": "12ab"}, "NIK ayah hanya berisi angka."),
        ({"status": "mati"}, "Status 'mati' tidak dikenal."),
    ],
)
def test_a_record_is_checked_with_a_reason(change: dict[str, object], reason: str) -> None:
    good = ResidentData(
        nik=NIK,
        name="ASEP",
        sex=1,
        kk_number="3213110101150007",
        kk_level=1,
        dusun="KRAJAN",
        rw="001",
        rt="002",
    )
    assert check_data(good).name == "ASEP"
    with pytest.raises(InvalidResident) as refused:
        check_data(ResidentData(**{**good.__dict__, **change}))
    assert str(refused.value) == reason
