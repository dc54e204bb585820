"""The resident's application page in-process: bad input in the change form comes back as the
Indonesian message next to its field, and nothing is changed."""

from tests.intake.conftest import Intake


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
