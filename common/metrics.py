"""Prometheus metrics, served by every service at `GET /metrics`. Labels carry route templates,
channels, outcomes and letter types only: never an id, a name, a NIK or a phone number.

The Temporal worker's own metrics (task latencies, schedule-to-start, poller counts) come from
the Temporal SDK's runtime on the worker's metrics port (see workflows/approval/worker.py)."""

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "smartdesa_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "smartdesa_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LETTERS_ISSUED = Counter(
    "smartdesa_letters_issued_total",
    "Letters numbered, rendered and signed, by letter type.",
    ["letter_type"],
)
NOTIFICATIONS = Counter(
    "smartdesa_notifications_total",
    "Notifications by channel (in_app, whatsapp, sms, email) and outcome of the attempt.",
    ["channel", "outcome"],
)
OUTBOX_PENDING = Gauge(
    "smartdesa_outbox_pending_events",
    "Events written to the outbox and not yet acknowledged by JetStream.",
    ["service"],
)
OUTBOX_LAG = Gauge(
    "smartdesa_outbox_lag_seconds",
    "Age of the oldest unpublished outbox event (0 when none waits).",
    ["service"],
)
OUTBOX_PUBLISH_DELAY = Histogram(
    "smartdesa_outbox_publish_delay_seconds",
    "Time from writing an event to the outbox to JetStream's ack.",
    ["service"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 15, 60, 300, 1800),
)

# Label values come from a closed set, so no request can add one (or put a NIK on /metrics):
# route templates of the app, and one value for whatever matched no route; the methods below,
# and one value for any other method string.
_UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_OTHER_METHOD = "OTHER"


class OutboxLag:
    """Outbox gauges for one service: set after a relay pass (at most once a second, and after
    every failed pass); the age keeps growing between passes, so a stuck relay shows as a
    rising line."""

    def __init__(self, service: str) -> None:
        self._oldest: datetime | None = None
        self._pending = OUTBOX_PENDING.labels(service)
        self._delay = OUTBOX_PUBLISH_DELAY.labels(service)
        OUTBOX_LAG.labels(service).set_function(self._age)

    def _age(self) -> float:
        oldest = self._oldest
        if oldest is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - oldest).total_seconds())

    def observe_backlog(self, pending: int, oldest: datetime | None) -> None:
        self._pending.set(pending)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        self._oldest = oldest

    def observe_published(self, created_at: datetime) -> None:
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        self._delay.observe(max(0.0, (datetime.now(UTC) - created_at).total_seconds()))


def _route_template(scope: Scope) -> str:
    """The matched route's template, e.g. /api/v1/applications/{application_id}/submit: the
    path with each path parameter's value put back as its name (never the value itself; a
    route's own `path_format` lacks the prefix of the router it was included with). A mount
    (the static files) is its prefix plus /{path}; anything else is "unmatched"."""
    path = scope.get("path", "")
    if scope.get("route") is None:
        # FastAPI's router names the route it matched, but not a mount.
        for route in scope["app"].router.routes:
            if isinstance(route, Mount) and route.path_regex.match(path):
                return route.path_format
        return _UNMATCHED
    params: dict[str, Any] = scope.get("path_params") or {}
    segments = path.split("/")
    for name, value in params.items():
        text = str(value)
        if "/" in text:  # a {name:path} parameter spans segments
            segments = "/".join(segments).replace(text, "{" + name + "}", 1).split("/")
            continue
        segments = ["{" + name + "}" if seg == text else seg for seg in segments]
    return "/".join(segments)


def _method(scope: Scope) -> str:
    method: str = scope.get("method", "")
    return method if method in _METHODS else _OTHER_METHOD


class RequestMetrics:
    """Counts and times every HTTP request as a pure ASGI middleware: Starlette's
    `BaseHTTPMiddleware` (`@app.middleware("http")`) runs each request in a task group with
    memory streams, a cost on every request. A request is counted when its response starts
    (the latency is the time to the headers, so a server-sent event stream counts once and
    passes through untouched); one that raises or ends without a response counts as 500."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            counted = True
            route = _route_template(scope)
            if route == "/metrics":
                return
            method = _method(scope)
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)

        async def send_counted(message: Message) -> None:
            if not counted and message["type"] == "http.response.start":
                count(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if not counted:
                count(500)


def install_metrics(app: FastAPI, service: str) -> None:
    """Count and time every request by route template, and serve `GET /metrics`."""
    app.add_middleware(RequestMetrics, service=service)

    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
