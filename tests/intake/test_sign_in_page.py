"""The portal's sign-in forms in-process: posting a NIK, phone and one-time code without the
sign-in form's own CSRF token (another site signing the visitor into the attacker's account,
where the visitor would then upload their documents) starts no session; the pages say nothing
about the NIK, and say in Indonesian when a limit is reached."""

import re

import httpx
import pytest

from services.intake.config import RateLimit, Settings
from services.intake.models import Resident
from tests.intake.conftest import NIK_ANI, NIK_BUDI, PHONE_ANI, PHONE_BUDI, Intake
from tests.support.web import async_sign_in_form

NIK_OTHER = "3213110101900107"
PHONE_OTHER = "081311000107"


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


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Windows that no test straddles the end of.
    return settings.model_copy(
        update={"intake_code_limits_per_phone": [RateLimit(count=3, seconds=10**9)]}
    )


def _page_of(r: httpx.Response, *personal: str) -> str:
    """The page with the asker's own NIK and phone and the per-visit CSRF token blanked."""
    text = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', r.text)
    for value in personal:
        text = text.replace(value, "…")
    return text


async def test_the_code_page_is_the_same_for_every_nik_and_focuses_the_code(
    intake: Intake,
) -> None:
    async with intake.runtime.sessions() as session:
        session.add(Resident(nik=NIK_ANI, phone="62" + PHONE_ANI[1:]))  # signed up before
        session.add(Resident(nik=NIK_BUDI, phone="6281399990000"))  # bound to another phone
        await session.commit()
    pages = []
    for nik, phone in ((NIK_ANI, PHONE_ANI), (NIK_OTHER, PHONE_OTHER), (NIK_BUDI, PHONE_BUDI)):
        form = await async_sign_in_form(intake.http, nik=nik, phone=phone)
        r = await intake.http.post("/masuk", data=form)
        assert r.status_code == 200, r.text
        pages.append(_page_of(r, nik, phone))
    assert pages[1] == pages[0] and pages[2] == pages[0]
    assert "Kode masuk telah dikirim" in pages[0]
    assert re.search(r'<input[^>]*name="otp"[^>]*\sautofocus', pages[0])


async def test_too_many_code_requests_are_refused_in_indonesian(intake: Intake) -> None:
    for n in range(3):
        form = await async_sign_in_form(
            intake.http, nik=f"321311010185{n + 1:04d}", phone=PHONE_ANI
        )
        assert (await intake.http.post("/masuk", data=form)).status_code == 200
    form = await async_sign_in_form(intake.http, nik=NIK_ANI, phone=PHONE_ANI)
    r = await intake.http.post("/masuk", data=form)
    assert r.status_code == 429
    assert "Terlalu sering meminta kode masuk. Silakan coba lagi dalam" in r.text
    assert int(r.headers["retry-after"]) > 0
    assert NIK_ANI in r.text  # kept in the form, to try again later


async def test_wrong_codes_lock_the_sign_in_next_to_the_field(intake: Intake) -> None:
    code = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    form = await async_sign_in_form(intake.http, nik=NIK_ANI, phone=PHONE_ANI)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [await intake.http.post("/masuk/kode", data={**form, "otp": wrong}) for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 5
    locked = await intake.http.post("/masuk/kode", data={**form, "otp": code})
    assert locked.status_code == 429
    assert "Terlalu banyak percobaan kode yang salah. Silakan coba lagi dalam 1 menit." in (
        locked.text
    )
    assert 'id="f-otp-galat"' in locked.text
    assert 0 < int(locked.headers["retry-after"]) <= 60
    assert "sd_warga" not in locked.cookies
