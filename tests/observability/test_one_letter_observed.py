"""One letter, observed: the four services (real uvicorn servers on loopback ports), the
approval worker and its real activities, in this process, against a real Temporal dev server and
a NATS JetStream server of this module's own. Spans go to the SDK's in-memory exporter, logs
through the services' JSON formatter, metrics are scraped from /metrics.

- one trace id runs from the resident's submit (FastAPI) through the Temporal client, the
  workflow and its activities, gRPC into signing (the signed letter) and intake, and NATS
  (the outbox publishing letter.issued, the notification service consuming it);
- the logs of the whole journey carry trace ids and no NIK, name or phone number;
- every service's /metrics counts requests by route template, letters issued, notifications by
  channel and outcome and the outbox's lag; the worker serves the Temporal SDK's metrics.
"""

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.logging import JsonFormatter, configure_levels
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from common.tracing import temporal_interceptors
from scripts.journey import Endpoints, Journey, sample_pdf, sample_png, wait_until
from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as intake_app
from services.notification.config import Settings as NotificationSettings
from services.notification.main import create_app as notification_app
from services.signing.config import Settings as SigningSettings
from services.signing.main import create_app as signing_app
from services.verification.config import Settings as VerificationSettings
from services.verification.main import create_app as verification_app
from tests.support.processes import free_port, nats_server
from tests.support.waiting import eventually
from workflows.approval.activities import ApprovalActivities
from workflows.approval.worker import WorkerSettings, build_worker, temporal_runtime

PASSWORD = "kata-sandi-uji"
NIK = "3213115508920007"
PHONE = "081355577799"
NAME = "Sri Rahayu Lestari"
PERSONAL = (NIK, PHONE, "6281355577799", NAME)


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """The process's tracer provider (set once) with an in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def log_lines() -> Iterator[list[str]]:
    """Every log record of the journey, formatted as the services write them."""
    handler = _Lines()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "uvicorn.access", "httpx")}
    root.addHandler(handler)
    configure_levels("INFO")  # as the services run
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 60
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError(f"server on port {port} stopped while starting")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"server on port {port} did not start")
        await asyncio.sleep(0.05)
    return server, task


@dataclass
class Observed:
    application_id: str
    letter_number: str
    endpoints: Endpoints
    worker_metrics: str


def _drive_one_letter(endpoints: Endpoints) -> tuple[str, str]:
    journey = Journey(endpoints)
    try:
        resident = journey.resident_sign_in(NIK, PHONE)
        app_id = journey.create_application(
            resident, "Persyaratan membuka rekening bank", {"nama": NAME, "alamat": "Dusun Kaler"}
        )
        assert journey.upload(resident, app_id, "KTP", "ktp.png", sample_png()).status_code == 201
        assert journey.upload(resident, app_id, "KK", "kk.pdf", sample_pdf()).status_code == 201
        assert journey.submit(resident, app_id).status_code == 202
        for step, username in enumerate(
            ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")
        ):
            staff = journey.staff_token(username, PASSWORD)
            journey.wait_for_task(staff, app_id, step)
            decided = journey.decide(staff, app_id, "approve")
            assert decided.status_code == 200, decided.text
        letter = journey.wait_for_status(resident, app_id, "issued")["letter"]
        wait_until(
            "the resident's WhatsApp about the letter",
            lambda: [m for m in journey.dev_messages(PHONE) if "terbit" in m["body"]] or None,
        )
        return app_id, str(letter["number"])
    finally:
        journey.close()


@pytest.fixture(scope="module")
async def observed(
    spans: InMemorySpanExporter,
    log_lines: list[str],
    temporal_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Observed]:
    root = tmp_path_factory.mktemp("observed")
    ports = {name: free_port() for name in ("intake", "verification", "signing", "notification")}
    grpc = {name: free_port() for name in ("intake", "verification", "signing", "notification")}
    with nats_server(root / "nats") as nats_url:
        common: dict[str, Any] = {
            "data_dir": root / "data",
            "nats_url": nats_url,
            "temporal_address": temporal_env.client.service_client.config.target_host,
            "temporal_namespace": temporal_env.client.namespace,
            "temporal_task_queue": f"observed-{uuid.uuid4().hex[:8]}",
            "intake_grpc_target": f"127.0.0.1:{grpc['intake']}",
            "verification_grpc_target": f"127.0.0.1:{grpc['verification']}",
            "signing_grpc_target": f"127.0.0.1:{grpc['signing']}",
            "notification_grpc_target": f"127.0.0.1:{grpc['notification']}",
            "public_verification_url": f"http://127.0.0.1:{ports['signing']}",
            "demo_password": PASSWORD,
        }
        apps = [
            (signing_app(SigningSettings(**common, signing_grpc_port=grpc["signing"])), "signing"),
            (
                verification_app(
                    VerificationSettings(**common, verification_grpc_port=grpc["verification"])
                ),
                "verification",
            ),
            (intake_app(IntakeSettings(**common, intake_grpc_port=grpc["intake"])), "intake"),
            (
                notification_app(
                    NotificationSettings(**common, notification_grpc_port=grpc["notification"])
                ),
                "notification",
            ),
        ]
        servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        try:
            for app, name in apps:
                servers.append(await _serve(app, ports[name]))
            worker_settings = WorkerSettings(**common, worker_metrics_port=free_port())
            client = await Client.connect(
                common["temporal_address"],
                namespace=common["temporal_namespace"],
                interceptors=temporal_interceptors(),
                runtime=temporal_runtime(worker_settings),
            )
            auth = InternalAuth.from_settings(worker_settings, WORKER)
            channels = [
                client_channel(common["intake_grpc_target"], auth, INTAKE),
                client_channel(common["verification_grpc_target"], auth, VERIFICATION),
                client_channel(common["signing_grpc_target"], auth, SIGNING),
            ]
            endpoints = Endpoints(*(f"http://127.0.0.1:{ports[n]}" for n in ports))
            async with build_worker(client, worker_settings, ApprovalActivities(*channels)):
                app_id, number = await asyncio.to_thread(_drive_one_letter, endpoints)
                async with httpx.AsyncClient() as http:
                    worker_metrics = (
                        await http.get(
                            f"http://127.0.0.1:{worker_settings.worker_metrics_port}/metrics"
                        )
                    ).text
                # The notification service consumes letter.issued: the end of the trace.
                await eventually(
                    lambda: _named(spans, "letter.issued process"), "the consumer's span"
                )
                yield Observed(app_id, number, endpoints, worker_metrics)
            for channel in channels:
                await channel.close()
        finally:
            for server, _task in reversed(servers):
                server.should_exit = True
            for _server, task in reversed(servers):
                await task


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_one_trace_from_the_residents_submit_to_the_signed_letter(
    observed: Observed, spans: InMemorySpanExporter
) -> None:
    submits = [
        s
        for s in _named(spans, "POST /api/v1/applications/{application_id}/submit")
        if s.kind == SpanKind.SERVER
    ]
    assert len(submits) == 1
    trace_id = submits[0].context.trace_id
    in_trace = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}

    # FastAPI -> Temporal client -> workflow -> activities.
    assert "StartWorkflow:LetterApprovalWorkflow" in names
    assert "RunWorkflow:LetterApprovalWorkflow" in names
    assert {"RunActivity:resolve_route", "RunActivity:record_progress"} <= names
    assert {"StartActivity:issue_letter", "RunActivity:issue_letter"} <= names
    # -> gRPC: the signing service signs the letter, in the same trace (client and server).
    issue = [s for s in in_trace if s.name == "/smartdesa.v1.SigningService/IssueLetter"]
    assert {s.kind for s in issue} == {SpanKind.CLIENT, SpanKind.SERVER}
    assert any(
        s.name == "/smartdesa.v1.IntakeService/RecordProgress" and s.kind == SpanKind.SERVER
        for s in in_trace
    )
    # -> NATS: published from intake's outbox, consumed by notification and verification.
    assert {"application.submitted publish", "letter.issued publish"} <= names
    consumed = [s for s in in_trace if s.name == "letter.issued process"]
    assert consumed and all(s.kind == SpanKind.CONSUMER for s in consumed)
    # The signed letter came after the submit, in the same trace, from another service.
    signed = next(s for s in issue if s.kind == SpanKind.SERVER)
    assert signed.start_time is not None and submits[0].start_time is not None
    assert signed.start_time > submits[0].start_time


def test_spans_carry_no_personal_data(observed: Observed, spans: InMemorySpanExporter) -> None:
    for span in spans.get_finished_spans():
        text = span.name + json.dumps(dict(span.attributes or {}), default=str)
        for secret in PERSONAL:
            assert secret not in text, (span.name, secret)


def test_logs_carry_trace_ids_and_no_personal_data(
    observed: Observed, log_lines: list[str], spans: InMemorySpanExporter
) -> None:
    assert log_lines
    for line in log_lines:
        for secret in PERSONAL:
            assert secret not in line, line
    entries = [json.loads(line) for line in log_lines]
    traced = {e["trace_id"] for e in entries if "trace_id" in e}
    submit = _named(spans, "POST /api/v1/applications/{application_id}/submit")[0]
    # e.g. intake's "workflow for application ... started", logged inside the submit.
    assert format(submit.context.trace_id, "032x") in traced
    assert all(len(e["span_id"]) == 16 for e in entries if "trace_id" in e)


def _samples(text: str, name: str) -> dict[str, float]:
    """`name{labels} value` lines of a Prometheus exposition, by their label text."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            found[labels] = float(value)
    return found


async def test_every_service_serves_metrics(observed: Observed) -> None:
    ep = observed.endpoints
    async with httpx.AsyncClient() as http:  # the servers run on this test's event loop
        scraped = {
            name: await http.get(f"{getattr(ep, name)}/metrics")
            for name in ("intake", "verification", "signing", "notification")
        }
    for name, response in scraped.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/plain"), name
        for secret in (*PERSONAL, observed.application_id):
            assert secret not in response.text, (name, secret)
    text = scraped["intake"].text  # one registry per process: every service's series here

    requests = _samples(text, "smartdesa_http_requests_total")
    submit = (
        '{method="POST",route="/api/v1/applications/{application_id}/submit",'
        'service="intake",status="202"}'
    )
    assert requests[submit] >= 1
    assert any('service="verification"' in k and 'status="200"' in k for k in requests)
    latency = _samples(text, "smartdesa_http_request_duration_seconds_count")
    assert any('route="/api/v1/tasks/{application_id}/decision"' in k for k in latency)

    assert _samples(text, "smartdesa_letters_issued_total")['{letter_type="SKD"}'] >= 1
    notifications = _samples(text, "smartdesa_notifications_total")
    assert notifications['{channel="whatsapp",outcome="delivered"}'] >= 1
    assert notifications['{channel="in_app",outcome="delivered"}'] >= 1
    assert '{service="intake"}' in _samples(text, "smartdesa_outbox_pending_events")
    assert '{service="intake"}' in _samples(text, "smartdesa_outbox_lag_seconds")
    assert _samples(text, "smartdesa_outbox_publish_delay_seconds_count")['{service="intake"}'] >= 4


def test_the_worker_serves_the_temporal_sdks_metrics(observed: Observed) -> None:
    text = observed.worker_metrics
    assert "temporal_workflow_task_execution_latency" in text
    assert "temporal_activity_execution_latency" in text
    assert 'service="worker"' in text
