"""`/metrics` labels come from a closed set: no request adds a label value, whatever its
method or path (a NIK sent as either must never reach the public page)."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from common.http import Problem
from common.metrics import install_metrics

NIK = "3201234567890001"


def _app(static: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.mount("/static", StaticFiles(directory=static), name="static")
    install_metrics(app, "metrics-test")
    return app


async def _labels(client: httpx.AsyncClient) -> set[tuple[str, str, str]]:
    """(method, route, status) of every request counted for this test's service."""
    text = (await client.get("/metrics")).text
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"])
        for family in text_string_to_metric_families(text)
        if family.name == "smartdesa_http_requests"
        for sample in family.samples
        if sample.name == "smartdesa_http_requests_total"
        and sample.labels["service"] == "metrics-test"
    }


async def _odd_requests(client: httpx.AsyncClient, token: str) -> None:
    await client.request(token, "/api/v1/things/1")  # an unknown method on a route
    await client.request(token, f"/{token}")  # ... on no route
    await client.get(f"/{token}/{uuid.uuid4()}")  # a random path
    await client.get(f"/api/v1/things/{token}")  # a path parameter
    await client.post(f"/api/v1/things/{token}")  # the wrong method on a route
    await client.get(f"/static/{token}.png")  # a missing file under a mount


async def test_unknown_methods_and_paths_add_no_label_value(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await _odd_requests(client, "PROPFIND")  # the shared labels exist from here on
        before = await _labels(client)
        await _odd_requests(client, NIK)
        await _odd_requests(client, uuid.uuid4().hex.upper())
        after = await _labels(client)
    assert after == before
    assert {method for method, _, _ in after} == {"GET", "POST", "OTHER"}
    assert {route for _, route, _ in after} == {
        "/api/v1/things/{thing_id}",
        "/static/{path}",
        "unmatched",
    }


# --- the middleware in each service's own app ----------------------------------------------


def _service_apps(data_dir: Path) -> list[tuple[str, FastAPI]]:
    from services.intake.config import Settings as IntakeSettings
    from services.intake.main import create_app as intake_app
    from services.notification.config import Settings as NotificationSettings
    from services.notification.main import create_app as notification_app
    from services.verification.config import Settings as VerificationSettings
    from services.verification.main import create_app as verification_app

    return [
        ("intake", intake_app(IntakeSettings(data_dir=data_dir))),
        ("verification", verification_app(VerificationSettings(data_dir=data_dir))),
        ("notification", notification_app(NotificationSettings(data_dir=data_dir))),
    ]


def _count(service: str, method: str, route: str, status: str) -> float:
    labels = {"service": service, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("smartdesa_http_requests_total", labels) or 0.0


def _timed(service: str, method: str, route: str) -> float:
    labels = {"service": service, "method": method, "route": route}
    return REGISTRY.get_sample_value("smartdesa_http_request_duration_seconds_count", labels) or 0.0


@pytest.mark.parametrize("index", [0, 1, 2], ids=["intake", "verification", "notification"])
async def test_each_service_counts_answers_errors_and_streams(tmp_path: Path, index: int) -> None:
    """Every service's app counts a request by route template, method and status; a handler
    that raises counts as 500; a server-sent event stream passes through as it is written
    (not compressed, every event in order) and is counted once, when it starts."""
    service, app = _service_apps(tmp_path)[index]
    seen_while_streaming: list[float] = []

    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "absent":
            raise Problem(404, "Tidak ditemukan.")
        return {"id": thing_id, "padding": "x" * 2000}  # large enough to be compressed

    async def boom() -> None:
        raise RuntimeError("boom")

    async def events() -> AsyncIterator[str]:
        for n in range(3):
            yield f"data: {n}\n\n"
            seen_while_streaming.append(_count(service, "GET", "/api/v1/uji/aliran", "200"))

    async def stream() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    app.add_api_route("/api/v1/uji/benda/{thing_id}", thing, methods=["GET"])
    app.add_api_route("/api/v1/uji/gagal", boom, methods=["POST"])
    app.add_api_route("/api/v1/uji/aliran", stream, methods=["GET"])
    thing_route = "/api/v1/uji/benda/{thing_id}"
    before = {
        "ok": _count(service, "GET", thing_route, "200"),
        "absent": _count(service, "GET", thing_route, "404"),
        "timed": _timed(service, "GET", thing_route),
        "boom": _count(service, "POST", "/api/v1/uji/gagal", "500"),
        "stream": _count(service, "GET", "/api/v1/uji/aliran", "200"),
        "health": _count(service, "GET", "/healthz", "200"),
    }
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.get(f"/api/v1/uji/benda/{NIK}", headers={"accept-encoding": "gzip"})
        assert ok.status_code == 200 and ok.json()["id"] == NIK
        assert ok.headers["content-encoding"] == "gzip"
        assert (await client.get("/api/v1/uji/benda/absent")).status_code == 404
        assert (await client.post("/api/v1/uji/gagal")).status_code == 500
        streamed = await client.get("/api/v1/uji/aliran", headers={"accept-encoding": "gzip"})
        assert (await client.get("/healthz")).status_code == 200
        scraped = (await client.get("/metrics")).text
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in streamed.headers
    assert streamed.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert _count(service, "GET", thing_route, "200") == before["ok"] + 1
    assert _count(service, "GET", thing_route, "404") == before["absent"] + 1
    assert _timed(service, "GET", thing_route) == before["timed"] + 2
    assert _count(service, "POST", "/api/v1/uji/gagal", "500") == before["boom"] + 1
    assert _count(service, "GET", "/healthz", "200") == before["health"] + 1
    # Counted once, as soon as the stream started (while its events were still coming).
    assert seen_while_streaming == [before["stream"] + 1] * 3
    assert _count(service, "GET", "/api/v1/uji/aliran", "200") == before["stream"] + 1
    assert NIK not in scraped and 'route="/metrics"' not in scraped
