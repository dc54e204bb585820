"""A resident's sign-out ends that token server-side: the same bearer token gets 401 on the
API, and a copy of the portal's cookie opens nothing; the resident's other sessions go on."""

from tests.intake.conftest import NIK_ANI, PHONE_ANI, Intake
from tests.support.web import async_sign_in_form, sign_in_token


async def test_signing_out_of_the_api_ends_that_token(intake: Intake) -> None:
    phone = await intake.sign_in()
    tablet = await intake.sign_in()
    assert (await intake.http.get("/api/v1/applications", headers=phone)).status_code == 200

    out = await intake.http.post("/api/v1/auth/logout", headers=phone)
    assert out.status_code == 204
    refused = await intake.http.get("/api/v1/applications", headers=phone)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert (await intake.http.post("/api/v1/auth/logout", headers=phone)).status_code == 401
    assert (await intake.http.get("/api/v1/applications", headers=tablet)).status_code == 200
    assert (await intake.http.post("/api/v1/auth/logout")).status_code == 401


async def test_signing_out_of_the_portal_ends_the_cookie(intake: Intake) -> None:
    http = intake.http
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    form = await async_sign_in_form(http, nik=NIK_ANI, phone=PHONE_ANI, otp=event.data["code"])
    assert (await http.post("/masuk/kode", data=form)).status_code == 303
    cookie = http.cookies["sd_warga"]
    listing = await http.get("/permohonan")
    assert listing.status_code == 200

    out = await http.post("/keluar", data={"csrf_token": sign_in_token(listing)})
    assert out.status_code == 303 and out.headers["location"] == "/masuk?keluar=1"

    # A copy of the cookie (another tab, a shared phone's saved state) opens nothing.
    http.cookies.set("sd_warga", cookie)
    page = await http.get("/permohonan")
    assert page.status_code == 303 and page.headers["location"].startswith("/masuk")
    # The landing page no longer takes the copy for a signed-in resident.
    assert (await http.get("/")).status_code == 200
    assert (await http.get("/api/v1/applications")).status_code == 401
    bearer = {"Authorization": f"Bearer {cookie}"}
    assert (await http.get("/api/v1/applications", headers=bearer)).status_code == 401
