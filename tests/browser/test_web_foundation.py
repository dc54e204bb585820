"""What every page of both web clients shares, checked in the real browser: the staff sign-in
with its session cookie, CSRF on every form post, the security headers, no resource from
outside the site, and Indonesian error pages."""

import re
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, expect

from scripts.journey import Journey, sample_png
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit
from tests.support.web import sign_in_form

KASI = "pemerintahan.pamanukan"


def test_staff_sign_in_sets_a_guarded_session_cookie(
    stack: Stack, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    outside: list[str] = []
    desk.on(
        "request",
        lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None,
    )

    desk.goto(f"{base}/")
    expect(desk).to_have_url(f"{base}/masuk?lanjut=/")  # not signed in: sent to sign in
    visit.page(desk, "masuk")

    desk.get_by_label("Nama pengguna").fill(KASI)
    desk.get_by_label("Kata sandi").fill("salah-sekali")
    desk.get_by_role("button", name="Masuk").click()
    expect(desk.get_by_role("alert")).to_contain_text("Nama pengguna atau kata sandi salah")
    visit.page(desk, "masuk-salah")

    desk.get_by_label("Kata sandi").fill(PASSWORD)
    desk.get_by_role("button", name="Masuk").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Selamat datang")
    visit.page(desk, "beranda")

    cookie = next(c for c in desk.context.cookies() if c["name"] == "sd_staf")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http on loopback; production forces Secure
    assert outside == []

    desk.get_by_role("button", name=f"Keluar ({KASI})").click()
    expect(desk.get_by_role("status")).to_contain_text("Anda sudah keluar")
    assert not [c for c in desk.context.cookies() if c["name"] == "sd_staf"]


def test_a_form_post_without_this_sessions_csrf_token_is_refused(stack: Stack) -> None:
    base = stack.endpoints.verification
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        signed_in = client.post(
            "/masuk", data=sign_in_form(client, username=KASI, password=PASSWORD)
        )
        assert signed_in.status_code == 303
        assert "sd_staf" in client.cookies
        # A cross-site form would carry the cookie but not the token.
        forged = client.post("/keluar", data={})
        assert forged.status_code == 403
        assert "Formulir sudah kedaluwarsa" in forged.text
        # The API by cookie is held to the same rule; by bearer token it needs none.
        api = client.post("/api/v1/plt", json={})
        assert api.status_code == 403
        assert api.headers["content-type"].startswith("application/problem+json")


def test_pages_carry_the_security_headers(stack: Stack) -> None:
    for base in (stack.endpoints.verification, stack.endpoints.intake):
        r = httpx.get(f"{base}/static/umum/app.css")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_every_service_gzips_its_text(stack: Stack) -> None:
    """common/compression.py in the four running services: pages, the stylesheet and JSON
    come gzipped to a client that accepts it."""
    ep = stack.endpoints
    texts = {
        "intake page": f"{ep.intake}/masuk",
        "stylesheet": f"{ep.intake}/static/umum/app.css",
        "staff page": f"{ep.verification}/masuk",
        "signing JSON": f"{ep.signing}/openapi.json",
        "notification JSON": f"{ep.notification}/openapi.json",
    }
    for what, url in texts.items():
        r = httpx.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, (what, r.status_code)
        assert r.headers.get("content-encoding") == "gzip", what
        assert int(r.headers["content-length"]) < len(r.content), what
    plain = httpx.get(texts["stylesheet"], headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    # A letter's PDF goes as it is: tests/browser/test_portal_application.py.


def test_an_unknown_page_is_an_indonesian_page_and_the_api_stays_json(
    stack: Stack, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    response = desk.goto(f"{base}/tidak-ada")
    assert response is not None and response.status == 404
    expect(desk.get_by_role("heading", level=1)).to_have_text("Tidak ditemukan")
    visit.page(desk, "tidak-ditemukan")
    api = httpx.get(f"{base}/api/v1/tasks")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")


def test_a_cookie_upload_to_the_api_without_the_csrf_header_is_refused_cleanly(
    stack: Stack, journey: Journey
) -> None:
    """Intake streams multipart uploads itself, so its CSRF check never parses the body: a
    cookie-authenticated upload without the header is a plain 403, not a half-read request."""
    token = journey.resident_sign_in("3213110202900201", "081311000201")
    fields = {"nama": "Uji Unggah", "alamat": "Dusun Krajan RT 001 RW 001"}
    application_id = journey.create_application(token, "Uji unggahan", fields)
    url = f"{stack.endpoints.intake}/api/v1/applications/{application_id}/attachments"
    files = {"file": ("ktp.png", sample_png(), "image/png")}
    with httpx.Client(cookies={"sd_warga": token}) as client:
        refused = client.post(url, data={"kind": "KTP"}, files=files)
        assert refused.status_code == 403, refused.text
        assert "Formulir sudah kedaluwarsa" in refused.json()["detail"]
        with_header = client.post(
            url,
            data={"kind": "KTP"},
            files=files,
            headers={"X-CSRF-Token": csrf_token_of(stack, token)},
        )
        assert with_header.status_code == 201, with_header.text
    assert [
        a["kind"] for a in journey.application(token, application_id).json()["attachments"]
    ] == ["KTP"]


def csrf_token_of(stack: Stack, token: str) -> str:
    """The session's CSRF token as the portal puts it in its pages."""
    page = httpx.get(f"{stack.endpoints.intake}/permohonan", cookies={"sd_warga": token})
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" value="([^"]+)"', page.text
    )
    assert match, "no CSRF token in the page"
    return match.group(1)
