"""Creating and reading applications over the resident API."""

import asyncio
from typing import Any

import pytest

from services.intake.applications import TooManyDrafts
from tests.intake import samples
from tests.intake.conftest import NIK_BUDI, PAMANUKAN, PHONE_BUDI, SKD_FIELDS, Intake, problem


async def test_create_returns_a_draft_with_cleaned_fields(intake: Intake) -> None:
    headers = await intake.sign_in()
    r = await intake.http.post(
        "/api/v1/applications",
        json={
            "desa_code": PAMANUKAN,
            "letter_type": "SKD",
            "purpose": "  Persyaratan melamar pekerjaan ",
            "fields": {**SKD_FIELDS, "nama": "  Ani Suryani  ", "agama": ""},
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "draft"
    assert body["purpose"] == "Persyaratan melamar pekerjaan"
    assert body["fields"]["nama"] == "Ani Suryani"
    assert "agama" not in body["fields"]
    assert body["attachments"] == [] and body["timeline"] == []
    assert body["current_step"] is None and body["letter"] is None
    assert body["submitted_at"] is None

    got = await intake.http.get(f"/api/v1/applications/{body['id']}", headers=headers)
    assert got.status_code == 200
    assert got.json() == body


@pytest.mark.parametrize(
    ("overrides", "field", "detail_part"),
    [
        ({"desa_code": "32.13.11.9999"}, "desa_code", "Desa dengan kode '32.13.11.9999'"),
        ({"letter_type": "SKX"}, "letter_type", "Jenis surat 'SKX' tidak tersedia"),
        ({"purpose": "   "}, "purpose", "Keperluan wajib diisi"),
        ({"purpose": "x" * 501}, "purpose", "Keperluan terlalu panjang"),
        (
            {"fields": {k: v for k, v in SKD_FIELDS.items() if k != "nama"}},
            "fields.nama",
            "Nama lengkap wajib diisi",
        ),
        (
            {"fields": {**SKD_FIELDS, "golongan_darah": "O"}},
            "fields.golongan_darah",
            "tidak dikenal",
        ),
        ({"fields": {**SKD_FIELDS, "alamat": "a" * 301}}, "fields.alamat", "terlalu panjang"),
    ],
)
async def test_refusals_name_the_field_in_indonesian(
    intake: Intake, overrides: dict[str, Any], field: str, detail_part: str
) -> None:
    headers = await intake.sign_in()
    body = {
        "desa_code": PAMANUKAN,
        "letter_type": "SKD",
        "purpose": "Melamar kerja",
        "fields": SKD_FIELDS,
        **overrides,
    }
    r = await intake.http.post("/api/v1/applications", json=body, headers=headers)
    assert r.status_code == 422, r.text
    p = problem(r)
    assert p["field"] == field
    assert detail_part in p["detail"]
    assert (await intake.http.get("/api/v1/applications", headers=headers)).json() == []


async def test_non_string_field_values_are_refused(intake: Intake) -> None:
    headers = await intake.sign_in()
    r = await intake.http.post(
        "/api/v1/applications",
        json={
            "desa_code": PAMANUKAN,
            "letter_type": "SKD",
            "purpose": "x",
            "fields": {**SKD_FIELDS, "rt": 2},
        },
        headers=headers,
    )
    assert r.status_code == 422
    assert "fields.rt" in problem(r)["detail"]


async def test_list_is_own_and_newest_first(intake: Intake) -> None:
    ani = await intake.sign_in()
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    first = await intake.create_application(ani, purpose="Pertama")
    second = await intake.create_application(ani, purpose="Kedua")
    budis = await intake.create_application(budi)
    listed = (await intake.http.get("/api/v1/applications", headers=ani)).json()
    assert [a["id"] for a in listed] == [second, first]
    assert [
        a["id"] for a in (await intake.http.get("/api/v1/applications", headers=budi)).json()
    ] == [budis]


async def test_another_residents_application_is_404_everywhere(intake: Intake) -> None:
    ani = await intake.sign_in()
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    application_id = await intake.create_application(ani)
    for method, path in [
        ("GET", f"/api/v1/applications/{application_id}"),
        ("GET", f"/api/v1/applications/{application_id}/letter.pdf"),
        ("POST", f"/api/v1/applications/{application_id}/submit"),
        ("POST", f"/api/v1/applications/{application_id}/resubmit"),
    ]:
        r = await intake.http.request(method, path, headers=budi)
        assert r.status_code == 404, (method, path)
        assert problem(r)["detail"] == "Permohonan tidak ditemukan."
    r = await intake.upload(budi, application_id, "KTP", b"%PDF-1.4\n")
    assert r.status_code == 404
    # The same as for an id that does not exist at all.
    r = await intake.http.get("/api/v1/applications/tidak-ada", headers=ani)
    assert r.status_code == 404


async def test_letter_pdf_before_issue_is_409(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.http.get(f"/api/v1/applications/{application_id}/letter.pdf", headers=headers)
    assert r.status_code == 409
    assert problem(r)["detail"] == "Surat belum terbit untuk permohonan ini."


DRAFT_BODY = {
    "desa_code": PAMANUKAN,
    "letter_type": "SKD",
    "purpose": "Persyaratan melamar pekerjaan",
    "fields": SKD_FIELDS,
}


async def test_a_resident_holds_at_most_the_set_number_of_drafts(intake: Intake) -> None:
    limit = intake.runtime.settings.intake_max_open_drafts
    assert limit == 5  # the default
    headers = await intake.sign_in()
    drafts = [await intake.create_application(headers) for _ in range(limit)]
    refused = await intake.http.post("/api/v1/applications", json=DRAFT_BODY, headers=headers)
    assert refused.status_code == 409
    assert problem(refused)["detail"] == str(TooManyDrafts(limit))
    assert "5 draf permohonan yang belum diajukan" in problem(refused)["detail"]
    listed = await intake.http.get("/api/v1/applications", headers=headers)
    assert len(listed.json()) == limit  # nothing was made

    # The portal's form says the same, and keeps what was typed.
    page = await intake.http.post(
        "/permohonan/baru/SKD",
        data={
            "desa_code": PAMANUKAN,
            "purpose": "Keperluan baru",
            **{f"isian_{name}": value for name, value in SKD_FIELDS.items()},
        },
        headers=headers,
    )
    assert page.status_code == 409 and page.headers["content-type"].startswith("text/html")
    assert "belum diajukan, batas yang diizinkan" in page.text
    assert "Keperluan baru" in page.text

    # Another resident is not held back; and a submitted draft frees a place.
    other = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    await intake.create_application(other)
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf())):
        assert (await intake.upload(headers, drafts[0], kind, content)).status_code == 201
    submitted = await intake.http.post(f"/api/v1/applications/{drafts[0]}/submit", headers=headers)
    assert submitted.status_code == 202, submitted.text
    await intake.create_application(headers)


async def test_drafts_created_at_once_stop_at_the_limit(intake: Intake) -> None:
    limit = intake.runtime.settings.intake_max_open_drafts
    headers = await intake.sign_in()
    for _ in range(limit - 1):
        await intake.create_application(headers)
    answers = await asyncio.gather(
        *(
            intake.http.post("/api/v1/applications", json=DRAFT_BODY, headers=headers)
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409]
    listed = await intake.http.get("/api/v1/applications", headers=headers)
    assert len(listed.json()) == limit
