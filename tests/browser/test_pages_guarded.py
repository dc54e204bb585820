"""Every page of both web clients is guarded the way the API is, found by walking the apps'
route tables (so a page added later is covered without anyone remembering to):

- without a session, a page (GET) sends the visitor to sign in, and a form post is refused;
- with a session cookie but without the session's CSRF token, every form post is refused;
- the other side's session (a resident's cookie on a staff page, a staff cookie on the
  portal) counts as no session at all.
"""

import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI

from scripts.journey import Journey
from services.intake.main import create_app as intake_app
from services.verification.main import create_app as verification_app
from tests.e2e.test_journey import NIK_A, PASSWORD, PHONE_A, Stack
from tests.support.web import app_routes, sign_in_form

# Pages anyone may open: signing in, the landing page, what a phone needs to install the portal,
# and the public duties (issue 19): the survey behind its signed link, and complaints, which
# anyone may file and follow by number and secret (tests/intake/test_survey.py and
# test_complaints.py check their own tokens).
PUBLIC_DUTIES = {"/survei/{application_id}", "/pengaduan", "/pengaduan/lacak"}
# A new account's one-time link to set its password carries its own secret (onboarding).
SET_PASSWORD = "/akun/atur-sandi"
# The published service standards and the open performance figures (issue 19 items 1 and 4):
# public facts, no personal data (tests/intake/test_service_standards.py,
# test_performance_figures.py).
PUBLISHED = {
    "/standar-pelayanan",
    "/standar-pelayanan/{desa_code}",
    "/standar-pelayanan/{desa_code}/{letter_type}",
    "/standar-pelayanan/{desa_code}/{letter_type}/poster.pdf",
    "/angka-kinerja",
    "/angka-kinerja.csv",
    "/angka-kinerja.json",
}
PUBLIC_PAGES = {
    "verification": {"/masuk", SET_PASSWORD},
    "intake": {"/", "/masuk", "/masuk/kode", "/manifest.webmanifest", "/sw.js", "/luring"}
    | PUBLIC_DUTIES
    | PUBLISHED,
}
# Form posts that start a session (no session to protect yet), and the public duties' forms.
PUBLIC_POSTS = {
    "verification": {"/masuk", SET_PASSWORD},
    "intake": {"/masuk", "/masuk/kode"} | PUBLIC_DUTIES,
}


def _pages(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route outside the API, health and metrics."""
    found = []
    for path, route in app_routes(app.routes):
        if path.startswith(("/api/", "/healthz", "/metrics", "/docs", "/openapi", "/redoc")):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, path))
    return found


def _concrete(path: str) -> str:
    """A path with every parameter filled by a value no record has."""
    return re.sub(
        r"\{[^}]+\}", lambda m: "SKD" if "type" in m.group(0) else str(uuid.uuid4()), path
    )


def _base(stack: Stack, service: str) -> str:
    return stack.endpoints.verification if service == "verification" else stack.endpoints.intake


APPS: dict[str, Callable[[], FastAPI]] = {"verification": verification_app, "intake": intake_app}


@pytest.fixture(scope="module")
def sessions(stack: Stack, journey: Journey) -> Iterator[dict[str, str]]:
    """A staff session cookie and a resident session token."""
    with httpx.Client(base_url=stack.endpoints.verification) as client:
        r = client.post(
            "/masuk",
            data=sign_in_form(client, username="pemerintahan.pamanukan", password=PASSWORD),
        )
        assert r.status_code == 303
        staff = client.cookies["sd_staf"]
    resident = journey.resident_sign_in(NIK_A, PHONE_A)
    yield {"verification": staff, "intake": resident}


@pytest.mark.parametrize("service", ["verification", "intake"])
def test_pages_without_a_session_send_to_sign_in_and_posts_are_refused(
    stack: Stack, service: str
) -> None:
    pages = _pages(APPS[service]())
    assert pages, "no pages found"
    with httpx.Client(base_url=_base(stack, service), follow_redirects=False) as client:
        for method, path in pages:
            url = _concrete(path)
            if method == "GET" and path not in PUBLIC_PAGES[service]:
                r = client.get(url)
                assert r.status_code == 303, f"GET {path}: {r.status_code}"
                assert r.headers["location"].startswith("/masuk?lanjut="), path
            elif method != "GET" and path not in PUBLIC_POSTS[service]:
                r = client.request(method, url, data={"x": "1"})
                assert r.status_code in (401, 403), f"{method} {path}: {r.status_code}"


@pytest.mark.parametrize("service", ["verification", "intake"])
def test_form_posts_with_a_session_but_without_its_csrf_token_are_refused(
    stack: Stack, service: str, sessions: dict[str, str]
) -> None:
    cookie = "sd_staf" if service == "verification" else "sd_warga"
    posts = [(m, p) for m, p in _pages(APPS[service]()) if m != "GET"]
    posts = [(m, p) for m, p in posts if p not in PUBLIC_POSTS[service]]
    with httpx.Client(
        base_url=_base(stack, service), cookies={cookie: sessions[service]}, follow_redirects=False
    ) as client:
        for method, path in posts:
            r = client.request(method, _concrete(path), data={"csrf_token": "palsu"})
            assert r.status_code == 403, f"{method} {path}: {r.status_code}"
            assert "Formulir sudah kedaluwarsa" in r.text, path


def test_the_other_sides_session_counts_as_none(stack: Stack, sessions: dict[str, str]) -> None:
    with httpx.Client(
        base_url=stack.endpoints.verification,
        cookies={"sd_staf": sessions["intake"]},
        follow_redirects=False,
    ) as client:
        assert client.get("/").status_code == 303  # a resident's token is no staff session
    staff_pages = [p for m, p in _pages(verification_app()) if m == "GET"]
    assert "/" in staff_pages
