"""Waiting on something that happens asynchronously (a consumer, a relay, a worker): poll a
condition until it holds, with a deadline that only matters when it never does."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

POLL_SECONDS = 0.05


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str = ..., within: float = ...
) -> T: ...
@overload
async def eventually(probe: Callable[[], T | None], what: str = ..., within: float = ...) -> T: ...
async def eventually(
    probe: Callable[[], Any], what: str = "the condition", within: float = 60.0
) -> Any:
    """Call `probe` (plain or async) until it returns something truthy, and return that; fail
    after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)
