"""The portal's sign-in forms in-process: posting a NIK, phone and one-time code without the
sign-in form's own CSRF token (another site signing the visitor into the attacker's account,
where the visitor would then upload their documents) starts no session."""

from tests.intake.conftest import NIK_ANI, PHONE_ANI, Intake
from tests.support.web import async_sign_in_form


async def test_a_code_posted_from_another_site_starts_no_session(intake: Intake) -> None:
    http = intake.http
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    code = event.data["code"]
    credentials = {"nik": NIK_ANI, "phone": PHONE_ANI, "otp": code}

    forged = await http.post("/masuk/kode", data=credentials)
    assert forged.status_code == 403
    assert "Formulir masuk sudah kedaluwarsa" in forged.text
    assert "sd_warga" not in forged.cookies
    # Asking for a code from another site is refused the same way (nothing is sent).
    asked = await http.post("/masuk", data={"nik": NIK_ANI, "phone": PHONE_ANI})
    assert asked.status_code == 403
    assert "Formulir masuk sudah kedaluwarsa" in asked.text

    # The page's own form (cookie and field) signs in with the same, still valid code.
    form = await async_sign_in_form(http, **credentials)
    signed_in = await http.post("/masuk/kode", data=form)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/permohonan"
    assert "sd_warga" in signed_in.cookies
