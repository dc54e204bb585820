"""OTLP export as configuration: with an endpoint, spans reach a collector (a real OTLP/gRPC
TraceService on loopback, from opentelemetry-proto); without one, nothing is exported. The
benchmark's span files (SMARTDESA_SPANS_DIR) hold names, ids and times, no attributes."""

import asyncio
import json
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider

from common.tracing import tracer_provider
from tests.support.processes import free_port


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(  # noqa: N802 - the gRPC method's name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def _spans(collector: _Collector) -> list[tuple[str, str]]:
    """(service.name, span name) of everything the collector received."""
    found = []
    for request in collector.requests:
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                found += [(attributes["service.name"], s.name) for s in scope.spans]
    return found


@pytest.fixture
def collector() -> Iterator[tuple[_Collector, str]]:
    received = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(received, server)  # type: ignore[no-untyped-call]
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield received, f"http://127.0.0.1:{port}"
    finally:
        server.stop(None)


async def _one_span(provider: TracerProvider) -> None:
    with provider.get_tracer("test").start_as_current_span("IssueLetter") as span:
        span.set_attribute("url.full", "http://intake/api?phone=0812")
        span.set_attribute("temporalWorkflowID", "surat-abc")
        assert span.get_span_context().is_valid  # made either way: its ids go into the logs
    assert await asyncio.to_thread(provider.force_flush, 10_000)
    provider.shutdown()


async def test_spans_reach_the_configured_collector(collector: tuple[_Collector, str]) -> None:
    received, endpoint = collector
    await _one_span(tracer_provider("signing", endpoint))
    assert ("smartdesa-signing", "IssueLetter") in _spans(received)


async def test_nothing_leaves_the_process_unless_configured(
    collector: tuple[_Collector, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even with the OpenTelemetry standard variable naming a collector: export is ours to turn on.
    received, endpoint = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    await _one_span(tracer_provider("signing", None))
    assert _spans(received) == []


async def test_a_benchmark_gets_names_ids_times_and_the_workflow_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTDESA_SPANS_DIR", str(tmp_path))
    await _one_span(tracer_provider("signing", None))
    text = _span_file(tmp_path, "signing")
    (line,) = [json.loads(row) for row in text.splitlines()]
    assert line["name"] == "IssueLetter" and line["workflow"] == "surat-abc"
    assert line["start"] <= line["end"] and len(line["trace"]) == 32
    assert "0812" not in text


def _span_file(folder: Path, service: str) -> str:
    (path,) = folder.glob(f"{service}-*.jsonl")
    return path.read_text()
