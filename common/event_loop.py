"""The event loop every long-running process runs on, and the HTTP parser of its uvicorn server:
uvloop and httptools by default (`SMARTDESA_EVENT_LOOP`, `SMARTDESA_HTTP_PARSER`).

Both take CPU off each request, gRPC call and NATS message (docs/performance.md has the A/B).
grpc.aio, nats-py, asyncpg, aiosqlite and temporalio run on uvloop as on asyncio's own loop;
Temporal's workflows run on the SDK's own deterministic loop either way."""

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypedDict, TypeVar

from common.config import CommonSettings

T = TypeVar("T")


class UvicornOptions(TypedDict):
    loop: str
    http: str


def uvicorn_options(settings: CommonSettings) -> UvicornOptions:
    """uvicorn.run / uvicorn.Config's `loop` and `http` (and the process's GIL switch interval,
    set here because every service's entry point asks for these before it serves)."""
    set_switch_interval(settings)
    return {"loop": settings.event_loop, "http": settings.http_parser}


def set_switch_interval(settings: CommonSettings) -> None:
    """The GIL's switch interval (CommonSettings.gil_switch_interval_ms): the aiosqlite thread's
    statements and the event loop's thread hand the GIL to each other sooner."""
    if settings.gil_switch_interval_ms > 0:
        sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)


def loop_factory(settings: CommonSettings) -> Callable[[], asyncio.AbstractEventLoop]:
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], settings: CommonSettings) -> T:
    """asyncio.run on the configured loop (for processes without uvicorn: the worker)."""
    set_switch_interval(settings)
    with asyncio.Runner(loop_factory=loop_factory(settings)) as runner:
        return runner.run(main)
