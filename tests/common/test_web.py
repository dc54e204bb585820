"""The web plumbing without a service: where a sign-in may lead on to, and the page an
unforeseen error shows."""

import httpx
import pytest
from fastapi import FastAPI

from common.web import install_web, safe_next
from services.verification.web.pages import STATIC_DIR, templates

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",  # a browser reads "/\" as "//"
        "/\\/evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "https://evil.example/",
        "/\t/evil.example",
        "/\n/evil.example",
        "/%0d%0aLocation: x",  # stays a path: percent-encoded
        "javascript:alert(1)",
        "/api/v1/tasks",
        "",
        None,
    ],
)
def test_safe_next_never_leaves_the_site(target: str | None) -> None:
    found = safe_next(target, "/")
    assert found == "/" or (found.startswith("/") and "\\" not in found and "//" not in found)
    if target and ("\\" in target or "evil" in target):
        assert found == "/"


def test_safe_next_keeps_a_path_of_this_site() -> None:
    assert safe_next("/permohonan/baru", "/") == "/permohonan/baru"
    assert safe_next("/kotak-masuk?jenis=SKD", "/") == "/kotak-masuk?jenis=SKD"


async def test_an_unforeseen_error_is_an_indonesian_page_and_problem() -> None:
    app = FastAPI()
    install_web(app, static_dir=STATIC_DIR, templates=templates, sign_in_path="/masuk")

    @app.get("/rusak")
    async def broken_page() -> None:
        raise RuntimeError("boom")

    @app.get("/api/v1/rusak")
    async def broken_api() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/rusak")
        api = await client.get("/api/v1/rusak")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Terjadi kesalahan pada server" in page.text
    assert "Internal Server Error" not in page.text and "boom" not in page.text
    assert api.status_code == 500
    assert api.headers["content-type"].startswith("application/problem+json")
    assert "Terjadi kesalahan pada server" in api.json()["detail"]
