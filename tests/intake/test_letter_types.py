import pytest

from services.intake.applications import application_errors
from services.intake.letter_types import InvalidFields, check_fields, field_errors, find_letter_type
from tests.intake import samples
from tests.intake.conftest import Intake, problem

ALL_TYPES = ("SKD", "SKU", "SKBM", "SKTM", "SKP", "SKDU", "SKL", "SKK", "SPCK", "SP")
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
    assert [(r["code"], r["name"]) for r in skd["requirements"]] == [
        ("KTP", "KTP pemohon"),
        ("KK", "Kartu Keluarga"),
    ]
    assert all(r["description"] for t in r.json() for r in t["requirements"])
    assert {t["code"] for t in r.json()} == set(ALL_TYPES)
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
        "instansi_tujuan",
    }


# A complete, valid form per type: what a resident of each letter fills in.
VALID_FORMS: dict[str, dict[str, str]] = {
    "SKD": {"nama": "Ani", "alamat": "Dusun Krajan"},
    "SKU": {
        "nama": "Ani",
        "alamat": "Dusun Krajan",
        "nama_usaha": "Warung Ani",
        "jenis_usaha": "Warung sembako",
        "alamat_usaha": "Jl. Raya 5",
        "mulai_usaha": "2019",
    },
    "SKBM": {"nama": "Ani", "alamat": "Dusun Krajan"},
    "SKTM": {"nama": "Ani", "alamat": "Dusun Krajan", "jumlah_tanggungan": "4"},
    "SKP": {
        "nama": "Ani",
        "alamat": "Dusun Krajan",
        "sumber_penghasilan": "Buruh tani",
        "penghasilan": "1500000",
    },
    "SKDU": {
        "nama": "Ani",
        "alamat": "Dusun Krajan",
        "nama_usaha": "Warung Ani",
        "jenis_usaha": "Warung sembako",
        "alamat_usaha": "Jl. Raya 5",
        "status_tempat_usaha": "Sewa",
    },
    "SKL": {
        "nama_anak": "Bayu",
        "jenis_kelamin_anak": "L",
        "tempat_lahir_anak": "Subang",
        "tanggal_lahir_anak": "2026-11-01",
        "jam_lahir": "08:30",
        "nama_ibu": "Ani",
        "nama": "Ani",
        "alamat": "Dusun Krajan",
    },
    "SKK": {
        "nama_almarhum": "Karta",
        "jenis_kelamin_almarhum": "L",
        "alamat_almarhum": "Dusun Krajan",
        "tanggal_meninggal": "2026-11-01",
        "tempat_meninggal": "Rumah",
        "nama": "Ani",
        "alamat": "Dusun Krajan",
    },
    "SPCK": {"nama": "Ani", "alamat": "Dusun Krajan", "status_perkawinan": "BELUM KAWIN"},
    "SP": {"nama": "Ani", "alamat": "Dusun Krajan", "keterangan": "Mengurus pindah sekolah"},
}


@pytest.mark.parametrize("code", ALL_TYPES)
def test_every_type_accepts_its_form_and_names_each_missing_required_field(code: str) -> None:
    letter_type = find_letter_type(code)
    assert letter_type is not None
    assert letter_type.requirements and {"KTP", "KK"} <= set(letter_type.requirement_codes)
    form = VALID_FORMS[code]
    assert check_fields(letter_type, form) == form
    for spec in letter_type.fields:
        if not spec.required:
            continue
        with pytest.raises(InvalidFields) as exc:
            check_fields(letter_type, {k: v for k, v in form.items() if k != spec.name})
        assert exc.value.field_name == spec.name and "wajib diisi" in str(exc.value)


@pytest.mark.parametrize(
    ("code", "changes", "field_name", "message_part"),
    [
        ("SKP", {"penghasilan": "1,5 juta"}, "penghasilan", "angka"),
        ("SKL", {"jam_lahir": "25:00"}, "jam_lahir", "jam"),
        ("SKL", {"tanggal_lahir_anak": "2999-01-01"}, "tanggal_lahir_anak", "tanggal"),
        ("SKK", {"jenis_kelamin_almarhum": "X"}, "jenis_kelamin_almarhum", "L, P"),
        ("SPCK", {"status_perkawinan": "JOMBLO"}, "status_perkawinan", "BELUM KAWIN"),
        ("SKDU", {"status_tempat_usaha": "Gratis"}, "status_tempat_usaha", "Sewa"),
        ("SKU", {"nama_usaha": "W" * 101}, "nama_usaha", "terlalu panjang"),
    ],
)
def test_type_specific_fields_are_checked(
    code: str, changes: dict[str, str], field_name: str, message_part: str
) -> None:
    letter_type = find_letter_type(code)
    assert letter_type is not None
    with pytest.raises(InvalidFields) as exc:
        check_fields(letter_type, {**VALID_FORMS[code], **changes})
    assert exc.value.field_name == field_name
    assert message_part in str(exc.value)


async def test_a_type_asks_for_its_own_syarat_before_submission(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(
        headers, letter_type="SKU", fields=VALID_FORMS["SKU"]
    )
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf())):
        assert (await intake.upload(headers, application_id, kind, content)).status_code == 201
    # A kind this type does not ask for is refused by name.
    refused = await intake.upload(headers, application_id, "SURAT_LAHIR", samples.pdf())
    assert refused.status_code == 422 and problem(refused)["field"] == "kind"
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 422
    assert "Surat pengantar RT/RW" in problem(r)["detail"]
    assert "Foto tempat usaha" in problem(r)["detail"]
    for kind in ("PENGANTAR_RT", "FOTO_USAHA"):
        assert (await intake.upload(headers, application_id, kind, samples.JPEG)).status_code == 201
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 202, r.text


def test_field_errors_names_every_wrong_field_at_once() -> None:
    """The portal's form shows every error next to its field; check_fields raises the first."""
    skd = find_letter_type("SKD")
    assert skd is not None
    fields = {"rt": "0a3", "tanggal_lahir": "2999-01-01", "asal": "x"}
    errors = field_errors(skd, fields)
    assert list(errors) == ["asal", "nama", "tanggal_lahir", "alamat", "rt"]
    assert errors["nama"] == "Nama lengkap wajib diisi."
    assert "berupa angka" in errors["rt"]
    with pytest.raises(InvalidFields) as first:
        check_fields(skd, fields)
    assert first.value.field_name == "asal"
    assert field_errors(skd, {"nama": "Siti", "alamat": "Dusun Krajan"}) == {}


def test_application_errors_cover_desa_purpose_and_fields() -> None:
    errors = application_errors("00.00", "SKD", "  ", {"nama": "Siti"})
    assert list(errors) == ["desa_code", "purpose", "fields.alamat"]
    assert errors["purpose"] == "Keperluan wajib diisi."
    assert application_errors("32.13.11.2004", "XYZ", "Melamar kerja", {}) == {
        "letter_type": "Jenis surat 'XYZ' tidak tersedia."
    }
