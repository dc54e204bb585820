"""`/metrics` labels come from a closed set: no request adds a label value, whatever its
method or path (a NIK sent as either must never reach the public page)."""

import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client.parser import text_string_to_metric_families

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
