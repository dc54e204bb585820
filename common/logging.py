"""Structured logs: one JSON object per line on stderr, with the trace and span id of the
current OpenTelemetry span (so a log line leads to its trace and back). Never pass personal
data (NIK, names, phone numbers, one-time codes) to a logger; log ids instead."""

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    configure_levels(level)


def configure_levels(level: str = "INFO") -> None:
    logging.getLogger().setLevel(level.upper())
    # uvicorn's access log and httpx's request log print URLs with their query strings (the dev
    # sink's `?to=`, an SMS gateway's `to=` hold phone numbers); metrics and traces tell what
    # they would, without them.
    for name in ("uvicorn.access", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
