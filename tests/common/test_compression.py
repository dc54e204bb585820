"""gzip on text responses (common/compression.py), for every service: pages, stylesheets and
JSON compressed for a phone on a weak connection; server-sent events, PDFs and images as
they are. Against a real app in-process (httpx's ASGI transport)."""

import importlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.middleware.gzip import GZipMiddleware

from common.compression import install_compression

pytestmark = pytest.mark.unit

PAGE = "<!doctype html><html lang=id><p>" + "Surat Keterangan Domisili. " * 200 + "</p></html>"
PDF = b"%PDF-1.7\n" + b"0 0 obj stream endstream endobj\n" * 100
GZIP = {"Accept-Encoding": "gzip, br"}


def _app() -> FastAPI:
    app = FastAPI()
    install_compression(app)

    @app.get("/halaman")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/kecil")
    async def small() -> HTMLResponse:
        return HTMLResponse("<p>ok</p>")

    @app.get("/json")
    async def as_json() -> JSONResponse:
        return JSONResponse({"items": [{"status": "in_review"}] * 100})

    @app.get("/surat.pdf")
    async def letter() -> Response:
        return Response(PDF, media_type="application/pdf")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            for n in range(3):
                yield f"id: {n}\ndata: {'x' * 400}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


async def _get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers or GZIP)


async def test_a_page_is_gzipped_and_reads_the_same() -> None:
    r = await _get("/halaman")
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    assert r.text == PAGE  # httpx undoes the gzip
    assert int(r.headers["content-length"]) < len(PAGE) // 5


async def test_json_is_gzipped() -> None:
    r = await _get("/json")
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["items"][0] == {"status": "in_review"}


async def test_without_accept_encoding_nothing_is_compressed() -> None:
    r = await _get("/halaman", {"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers
    assert r.text == PAGE


@pytest.mark.parametrize("path", ["/kecil", "/surat.pdf", "/stream"])
async def test_small_answers_pdfs_and_event_streams_go_as_they_are(path: str) -> None:
    r = await _get(path)
    assert "content-encoding" not in r.headers
    if path == "/surat.pdf":
        assert r.content == PDF
    if path == "/stream":
        assert r.text.count("data: ") == 3


@pytest.mark.parametrize("service", ["intake", "notification", "signing", "verification"])
def test_every_service_compresses(service: str) -> None:
    main = importlib.import_module(f"services.{service}.main")
    config = importlib.import_module(f"services.{service}.config")
    app = main.create_app(config.Settings())  # the lifespan (runtime) is not started
    assert GZipMiddleware in [m.cls for m in app.user_middleware]
