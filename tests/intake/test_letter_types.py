import pytest

from services.intake.applications import application_errors
from services.intake.letter_types import InvalidFields, LetterType, check_fields, field_errors
from tests.intake import samples
from tests.intake.conftest import Intake, Register, problem, register_ani
from tests.support.catalogue import seed_letter_types

# The seeded catalogue as intake reads it (services/intake/catalogue.py converts what
# CatalogueService serves; these are the same conversion of the seed files).
LETTER_TYPES = seed_letter_types()


def find_letter_type(code: str) -> LetterType | None:
    return LETTER_TYPES.get(code)


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
        ({"nama": "Ani", "alamat": "x", "tanggal_lahir": "08/17/1990"}, "tanggal_lahir", "tanggal"),
        ({"nama": "Ani", "alamat": "x", "tanggal_lahir": "1990-02-30"}, "tanggal_lahir", "tanggal"),
        ({"nama": "Ani", "alamat": "x", "tanggal_lahir": "2999-01-01"}, "tanggal_lahir", "tanggal"),
        (
            {"nama": "Ani", "alamat": "x", "jenis_kelamin": "W"},
            "jenis_kelamin",
            "Laki-laki, Perempuan",
        ),
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


def test_a_date_is_stored_as_the_picker_sends_it_however_it_was_written() -> None:
    """The picker sends 1990-08-15; a phone without one lets the resident type the words the
    page shows. Both are stored alike; the error gives the example in the page's words."""
    assert SKD is not None
    base = {"nama": "Ani", "alamat": "x"}
    for typed in ("1990-08-15", "15 Agustus 1990", "15-08-1990", "15/8/1990"):
        assert check_fields(SKD, {**base, "tanggal_lahir": typed})["tanggal_lahir"] == "1990-08-15"
    with pytest.raises(InvalidFields) as exc:
        check_fields(SKD, {**base, "tanggal_lahir": "besok"})
    assert str(exc.value) == (
        "Tanggal lahir harus tanggal yang valid dan sudah lewat, misalnya 15 Agustus 1990."
    )
    assert "YYYY" not in str(exc.value) and "TTTT" not in str(exc.value)


def test_coded_choices_are_written_out_and_stored_as_codes() -> None:
    assert SKD is not None
    sex = SKD.field_index["jenis_kelamin"]
    assert sex.label == "Jenis kelamin"
    assert sex.options == (("L", "Laki-laki"), ("P", "Perempuan"))
    assert sex.shown("P") == "Perempuan"
    base = {"nama": "Ani", "alamat": "x"}
    assert check_fields(SKD, {**base, "jenis_kelamin": "perempuan"})["jenis_kelamin"] == "P"
    assert check_fields(SKD, {**base, "jenis_kelamin": "L"})["jenis_kelamin"] == "L"
    sp = find_letter_type("SP")
    assert sp is not None
    marital = sp.field_index["status_perkawinan"]
    assert marital.shown("CERAI MATI") == "Cerai mati"
    assert SKD.field_index["tanggal_lahir"].shown("1990-08-15") == "15 Agustus 1990"
    skl = find_letter_type("SKL")
    assert skl is not None
    assert check_fields(
        skl,
        {
            "nama_anak": "Budi",
            "jenis_kelamin_anak": "Laki-laki",
            "tempat_lahir_anak": "Subang",
            "tanggal_lahir_anak": "1 Maret 2024",
            "jam_lahir": "08.30",
            "nama_ibu": "Ani",
            "nama": "Ani",
            "alamat": "x",
        },
    ) == {
        "nama_anak": "Budi",
        "jenis_kelamin_anak": "L",
        "tempat_lahir_anak": "Subang",
        "tanggal_lahir_anak": "2024-03-01",
        "jam_lahir": "08:30",
        "nama_ibu": "Ani",
        "nama": "Ani",
        "alamat": "x",
    }
    assert skl.field_index["jam_lahir"].shown("08:30") == "08.30"


def test_no_label_carries_its_own_hint() -> None:
    """Hints sit beside the field: a label never ends in "(TTTT-BB-HH)", "(L/P)" or an
    example, so a page that shows the value beside the label reads plainly."""
    # Every type of the catalogue. A unit may close a label ("Luas tanah (m²)"): it says what
    # the number shown beside the label counts, wherever the value is shown; how to fill the
    # field in ("angka saja", "bila ada") is the hint's.
    for letter_type in LETTER_TYPES.values():
        for spec in letter_type.fields:
            label = spec.label.removesuffix(" (m²)").removesuffix(" (bulan)")
            label = label.removesuffix(" (rupiah)")
            assert "(" not in label and "misalnya" not in label.lower(), spec.label
            assert "bila" not in label and "angka saja" not in label, spec.label
            for code in spec.choices:
                assert spec.choice_label(code) != code or not code[0].islower(), code


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
    # Every type the catalogue lets residents request online (SPPD is made at the office).
    assert {t["code"] for t in r.json()} == set(LETTER_TYPES) >= set(ALL_TYPES)
    assert "SPPD" not in LETTER_TYPES
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


async def test_optional_and_bring_the_original_syarat_are_shown_labelled(
    intake: Intake,
) -> None:
    """The API and the portal's pages list every syarat, each with its kind in Indonesian;
    only the wajib ones are the uploads asked for."""
    listed = {t["code"]: t for t in (await intake.http.get("/api/v1/letter-types")).json()}
    skjb = [(r["code"], r["kind"], r["kind_label"]) for r in listed["SKJB"]["syarat"]]
    assert ("BUKTI_MILIK", "bawa_asli", "Bawa berkas asli ke kantor desa") in skjb
    assert ("KTP", "wajib", "Wajib diunggah") in skjb
    assert "BUKTI_MILIK" not in [r["code"] for r in listed["SKJB"]["requirements"]]
    skktp = [(r["code"], r["kind_label"]) for r in listed["SKKTP"]["syarat"]]
    assert ("TANDA_TERIMA_KTP", "Tidak wajib") in skktp

    headers = await intake.sign_in()
    chooser = await intake.http.get("/permohonan/baru", headers=headers)
    form = await intake.http.get("/permohonan/baru/SKJB", headers=headers)
    for page in (chooser, form):
        assert page.status_code == 200
        assert "Bukti kepemilikan barang" in page.text
        assert "Bawa berkas asli ke kantor desa" in page.text
    assert "Tanda terima perekaman KTP-el" in chooser.text and "Tidak wajib" in chooser.text


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
        ("SKK", {"jenis_kelamin_almarhum": "X"}, "jenis_kelamin_almarhum", "Laki-laki, Perempuan"),
        ("SPCK", {"status_perkawinan": "JOMBLO"}, "status_perkawinan", "Belum kawin"),
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


async def test_a_type_asks_for_its_own_syarat_before_submission(
    intake: Intake, register: Register
) -> None:
    await register_ani(register)  # an SKU is for the desa's own residents
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
    errors = application_errors("00.00", "SKD", "  ", {"nama": "Siti"}, find_letter_type("SKD"))
    assert list(errors) == ["desa_code", "purpose", "fields.alamat"]
    assert errors["purpose"] == "Keperluan wajib diisi."
    assert application_errors("32.13.11.2004", "XYZ", "Melamar kerja", {}, None) == {
        "letter_type": "Jenis surat 'XYZ' tidak tersedia."
    }
