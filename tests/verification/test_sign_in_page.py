"""The staff sign-in form in-process: a post without the sign-in form's own CSRF token (another
site signing the visitor into an account it knows) starts no session."""

from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service


async def test_a_sign_in_post_from_another_site_starts_no_session(service: Service) -> None:
    http = service.http
    # Another site's form: the right credentials, but neither the cookie nor the token.
    forged = await http.post("/masuk", data={"username": "kesra.pamanukan", "password": PASSWORD})
    assert forged.status_code == 403
    assert "Formulir masuk sudah kedaluwarsa" in forged.text
    assert "sd_staf" not in forged.cookies
    # A token it made up does not match the visitor's cookie either.
    await http.get("/masuk")
    made_up = await http.post(
        "/masuk",
        data={"username": "kesra.pamanukan", "password": PASSWORD, "csrf_token": "x" * 43},
    )
    assert made_up.status_code == 403
    assert "sd_staf" not in made_up.cookies

    # The page's own form goes through, and leads on to a path of this site only.
    form = await async_sign_in_form(
        http, username="kesra.pamanukan", password=PASSWORD, lanjut="/\\evil.example"
    )
    signed_in = await http.post("/masuk", data=form)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    assert "sd_staf" in signed_in.cookies
    cookie = next(c for c in http.cookies.jar if c.name == "sd_masuk_staf")
    assert cookie.path == "/masuk"
    assert cookie.has_nonstandard_attr("HttpOnly")


async def test_signed_in_pages_are_never_stored_by_the_browser(service: Service) -> None:
    """On an office computer shared by the staff, Back after signing out must not bring a
    resident's particulars up again: every signed-in page is no-store."""
    http = service.http
    form = await async_sign_in_form(http, username="sekdes.pamanukan", password=PASSWORD)
    assert (await http.post("/masuk", data=form)).status_code == 303
    for path in ("/", "/kotak-masuk", "/pengaturan/akun", "/pengaturan/plt"):
        r = await http.get(path)
        assert r.status_code == 200, path
        assert r.headers.get("cache-control") == "no-store", path
