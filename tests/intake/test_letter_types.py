import pytest

from services.intake.letter_types import InvalidFields, check_fields, find_letter_type
from tests.intake.conftest import Intake

SKD = find_letter_type("SKD")
assert SKD is not None


def test_skd_requires_ktp_and_kk() -> None:
    assert SKD is not None
    assert SKD.name == "Surat Keterangan Domisili"
    assert SKD.requirement_codes == ("KTP", "KK")


def test_fields_are_trimmed_and_empty_optional_ones_dropped() -> None:
    assert SKD is not None
    cleaned = check_fields(SKD, {"nama": "  Ani  ", "alamat": "Jl. Raya 5", "agama": " "})
    assert cleaned == {"nama": "Ani", "alamat": "Jl. Raya 5"}


@pytest.mark.parametrize(
    ("fields", "field_name", "message_part"),
    [
        ({"alamat": "Jl. Raya 5"}, "nama", "Nama lengkap wajib diisi"),
        ({"nama": "Ani"}, "alamat", "Alamat wajib diisi"),
        ({"nama": "Ani", "alamat": "x", "hobi": "catur"}, "hobi", "tidak dikenal"),
        ({"nama": "A" * 101, "alamat": "x"}, "nama", "terlalu panjang"),
        ({"nama": "Ani", "alamat": "x", "tanggal_lahir": "17-08-1990"}, "tanggal_lahir", "tanggal"),
        ({"nama": "Ani", "alamat": "x", "tanggal_lahir": "1990-02-30"}, "tanggal_lahir", "tanggal"),
        ({"nama": "Ani", "alamat": "x", "tanggal_lahir": "2999-01-01"}, "tanggal_lahir", "tanggal"),
        ({"nama": "Ani", "alamat": "x", "jenis_kelamin": "W"}, "jenis_kelamin", "L, P"),
        ({"nama": "Ani", "alamat": "x", "rt": "dua"}, "rt", "angka"),
        ({"nama": "Ani", "alamat": "x", "rw": "0004"}, "rw", "terlalu panjang"),
    ],
)
def test_wrong_fields_are_named(fields: dict[str, str], field_name: str, message_part: str) -> None:
    assert SKD is not None
    with pytest.raises(InvalidFields) as exc:
        check_fields(SKD, fields)
    assert exc.value.field_name == field_name
    assert message_part in str(exc.value)


async def test_catalogue_is_public(intake: Intake) -> None:
    r = await intake.http.get("/api/v1/letter-types")
    assert r.status_code == 200
    skd = next(t for t in r.json() if t["code"] == "SKD")
    assert skd["name"] == "Surat Keterangan Domisili"
    assert skd["requirements"] == [
        {"code": "KTP", "name": "KTP pemohon"},
        {"code": "KK", "name": "Kartu Keluarga"},
    ]
    by_name = {f["name"]: f for f in skd["fields"]}
    assert by_name["nama"]["required"] and by_name["alamat"]["required"]
    assert by_name["jenis_kelamin"]["choices"] == ["L", "P"]
    assert set(by_name) == {
        "nama",
        "tempat_lahir",
        "tanggal_lahir",
        "jenis_kelamin",
        "agama",
        "pekerjaan",
        "alamat",
        "rt",
        "rw",
    }
