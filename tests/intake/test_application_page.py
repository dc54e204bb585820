"""The resident's application page in-process: bad input in the change form comes back as the
Indonesian message next to its field, and nothing is changed."""

from common.web import csrf_token_for
from tests.intake.conftest import Intake
from tests.intake.samples import JPEG


async def test_a_purpose_far_too_long_is_told_on_the_page_and_changes_nothing(
    intake: Intake,
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    for length in (600, 2500):  # past the rule (500), and past the API body's own limit (2000)
        r = await intake.http.post(
            f"/permohonan/{application_id}/ubah",
            data={"purpose": "x" * length},
            headers=headers,
        )
        assert r.status_code == 422, (length, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert "Keperluan terlalu panjang (paling banyak 500 karakter)." in r.text
    shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    assert shown.json()["purpose"] == "Persyaratan melamar pekerjaan"


async def test_the_plain_upload_form_by_cookie_needs_the_csrf_field(intake: Intake) -> None:
    """The no-script upload streams its body and checks the form's CSRF field itself: a
    cross-site post with the session cookie stores nothing."""
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    token = headers["Authorization"].removeprefix("Bearer ")
    csrf = csrf_token_for(token, intake.runtime.token_issuer.csrf_secret)
    url = f"/permohonan/{application_id}/berkas?kind=KTP"
    scan = {"file": ("ktp.jpg", JPEG, "image/jpeg")}
    intake.http.cookies.set("sd_warga", token)
    try:
        forged = await intake.http.post(
            url, data={"kind": "KTP", "csrf_token": "palsu"}, files=scan
        )
        assert forged.status_code == 403
        assert "Formulir sudah kedaluwarsa" in forged.text
        shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
        assert shown.json()["attachments"] == []
        sent = await intake.http.post(url, data={"kind": "KTP", "csrf_token": csrf}, files=scan)
        assert sent.status_code == 303, sent.text
    finally:
        intake.http.cookies.clear()
    shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    assert [a["kind"] for a in shown.json()["attachments"]] == ["KTP"]
