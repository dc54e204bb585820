"""The same letter end to end with every service on PostgreSQL (the production profile's
database): each service on its own freshly created database on the machine's server, its schema
made by the service's migrations at start. The databases are dropped afterwards.

Then what the "my letter is stuck" runbook (docs/operations.md) reads, on these real processes:
the letter's trace id in the logs of more than one service, no personal data in any log, the
services' /metrics and the worker's Temporal metrics."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine.url import make_url

from common.migrations import SERVICES, revisions
from scripts.journey import Journey
from tests.e2e.test_journey import NIK_A, PHONE_A, Stack, StackRunner, one_letter_end_to_end
from tests.support.postgres import PostgresDatabases, run_in_thread

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def database_urls(postgres: PostgresDatabases) -> dict[str, str]:
    return {service: run_in_thread(postgres.create(f"e2e_{service}")) for service in SERVICES}


@pytest.fixture(scope="module")
def pg_stack(
    tmp_path_factory: pytest.TempPathFactory, database_urls: dict[str, str]
) -> Iterator[tuple[StackRunner, Stack]]:
    env = {
        f"SMARTDESA_{service.upper()}_DATABASE_URL": url for service, url in database_urls.items()
    }
    runner = StackRunner(tmp_path_factory.mktemp("e2e-pg") / "data", extra_env=env)
    stack = runner.start(1)
    try:
        yield runner, stack
    finally:
        StackRunner.ensure_stopped(stack)


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query)
        return rows
    finally:
        await conn.close()


def test_one_letter_end_to_end_on_postgresql(
    pg_stack: tuple[StackRunner, Stack], database_urls: dict[str, str]
) -> None:
    runner, stack = pg_stack
    journey = Journey(stack.endpoints)
    try:
        stored = one_letter_end_to_end(stack, journey)
    finally:
        journey.close()

    # It was PostgreSQL that held it all: no SQLite database was made, and each service's
    # database is at its newest revision with the letter's rows in it.
    assert not list(Path(runner.data_dir).glob("*.db"))
    for service, url in database_urls.items():
        version = run_in_thread(_fetch(url, "SELECT version_num FROM alembic_version"))
        assert [r["version_num"] for r in version] == [revisions(service)[-1]], service
    application = run_in_thread(
        _fetch(
            database_urls["intake"],
            f"SELECT status, letter_number FROM letter_application WHERE id = '{stored['app_id']}'",
        )
    )
    assert [tuple(r) for r in application] == [("issued", stored["letter"]["number"])]
    letters = run_in_thread(_fetch(database_urls["signing"], "SELECT number, status FROM letter"))
    assert [tuple(r) for r in letters] == [(stored["letter"]["number"], "valid")]
    STORED.update(stored)


STORED: dict[str, Any] = {}


def test_the_letter_can_be_followed_in_logs_and_metrics(
    pg_stack: tuple[StackRunner, Stack],
) -> None:
    runner, stack = pg_stack
    app_id = STORED["app_id"]
    logs = {path.stem: path.read_text() for path in (runner.data_dir / "logs").glob("*.log")}
    for name, text in logs.items():
        for secret in (NIK_A, PHONE_A, "6281234567890", "Budi Santoso"):
            assert secret not in text, (name, secret)

    # Runbook step 2: the application id leads to its trace id, and the trace id to the lines
    # of every service that worked on the letter (signing signed it under the same trace).
    entries = {name: _json_lines(text) for name, text in logs.items()}
    started = [e for e in entries["intake"] if app_id in e["message"] and "started" in e["message"]]
    assert started and "trace_id" in started[0], started
    trace_id = started[0]["trace_id"]
    services_in_trace = {
        name for name, lines in entries.items() if any(e.get("trace_id") == trace_id for e in lines)
    }
    assert {"intake", "signing"} <= services_in_trace, services_in_trace

    # Runbook step 3: the metrics.
    intake_metrics = httpx.get(f"{stack.endpoints.intake}/metrics").text
    assert 'smartdesa_outbox_lag_seconds{service="intake"}' in intake_metrics
    signing_metrics = httpx.get(f"{stack.endpoints.signing}/metrics").text
    assert 'smartdesa_letters_issued_total{letter_type="SKD"} 1.0' in signing_metrics
    notification_metrics = httpx.get(f"{stack.endpoints.notification}/metrics").text
    assert 'smartdesa_notifications_total{channel="whatsapp",outcome="delivered"}' in (
        notification_metrics
    )
    worker_port = runner.ports["SMARTDESA_WORKER_METRICS_PORT"]
    worker_metrics = httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text
    assert "temporal_workflow_task_schedule_to_start_latency" in worker_metrics
    assert "temporal_num_pollers" in worker_metrics


def _json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a process's own non-JSON output (nats-server, a warning)
        if isinstance(entry, dict):
            found.append(entry)
    return found
