"""OpenTelemetry tracing: one trace follows a letter from the resident's request through
FastAPI, the Temporal client, the workflow and its activities, gRPC between the services, and
NATS (W3C `traceparent` in the message headers, kept with an event in the outbox until it is
published).

Spans are always made (logs carry their trace and span ids); they leave the process only when
`SMARTDESA_OTLP_ENDPOINT` names an OTLP/gRPC collector (e.g. http://otel-collector:4317).
The other OTEL_EXPORTER_OTLP_* variables (headers, certificates) apply as usual.
`SMARTDESA_SPANS_DIR` (benchmarks only: `scripts/bench_journeys.py --trace`) writes each
span's name, ids and times, no attributes, to `<dir>/<service>-<pid>.jsonl`."""

import json
import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

if TYPE_CHECKING:
    from fastapi import FastAPI
    from temporalio.contrib.opentelemetry import TracingInterceptor

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
_tracer = trace.get_tracer("smartdesa")


def configure_tracing(service: str, otlp_endpoint: str | None) -> TracerProvider:
    """Once per process, at its entry point (tests install their own provider instead)."""
    provider = tracer_provider(service, otlp_endpoint)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(service: str, otlp_endpoint: str | None) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"smartdesa-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        log.info("exporting traces over OTLP")
    spans_dir = os.environ.get("SMARTDESA_SPANS_DIR")
    if spans_dir:
        path = os.path.join(spans_dir, f"{service}-{os.getpid()}.jsonl")
        provider.add_span_processor(BatchSpanProcessor(_SpanFile(path)))
    return provider


class _SpanFile(SpanExporter):
    """Spans as JSON lines, for laying one letter's hops side by side (names, times and the
    workflow id only: other attributes may hold a URL, never wanted in a file left behind)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 (open for the process' life)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            context, parent = span.get_span_context(), span.parent
            if context is None:
                continue
            line = {
                "name": span.name,
                "trace": f"{context.trace_id:032x}",
                "span": f"{context.span_id:016x}",
                "parent": f"{parent.span_id:016x}" if parent is not None else None,
                "start": (span.start_time or 0) / 1e9,
                "end": (span.end_time or 0) / 1e9,
                # Temporal's spans: surat-<application id>, to join a workflow's trace to its
                # decisions'.
                "workflow": (span.attributes or {}).get("temporalWorkflowID"),
            }
            self._file.write(json.dumps(line) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def temporal_interceptors() -> list["TracingInterceptor"]:
    """For Client.connect: spans for starts, updates, signals and queries, their context in
    Temporal headers; a worker on such a client continues them in workflows and activities."""
    # Imported here: the services without a Temporal client (signing, notification) never load
    # temporalio (about 15 MB per process).
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument_app(app: "FastAPI") -> None:
    """A server span per request; probes, scrapes and the dev sinks are left out."""
    # Imported here: the approval worker, which serves no FastAPI app, never loads FastAPI
    # (about 14 MB).
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,metrics,dev/messages", server_request_hook=_without_query
    )


_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")


def _without_query(span: trace.Span, _scope: dict[str, Any]) -> None:
    """Query strings stay out of traces: a client might put anything there, even a phone."""
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def current_traceparent() -> str | None:
    """The current span's W3C traceparent, to keep with work that continues later."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject(headers: MutableMapping[str, str]) -> None:
    propagate.inject(headers)


@contextmanager
def continued_span(
    name: str, headers: Mapping[str, str] | None, kind: SpanKind = SpanKind.CONSUMER
) -> Iterator[trace.Span]:
    """A span continuing the trace whose context `headers` carry (none there: a new trace)."""
    carrier = {k.lower(): v for k, v in (headers or {}).items()}
    with _tracer.start_as_current_span(name, context=propagate.extract(carrier), kind=kind) as span:
        yield span


@contextmanager
def producer_span(name: str, traceparent: str | None) -> Iterator[trace.Span]:
    """A span for sending a message: under `traceparent` when the work was staged earlier
    (the outbox), else under the current span."""
    parent = propagate.extract({TRACEPARENT: traceparent}) if traceparent else None
    with _tracer.start_as_current_span(name, context=parent, kind=SpanKind.PRODUCER) as span:
        yield span
