"""Stopping within a bound. A service closes its parts in reverse order on shutdown; a part that
does not finish in time is left behind with a warning that says where it was waiting, and the
rest still close, so a stuck connection or loop can never keep a process (or a test) from ending.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

# How long stopping one part waits when the caller names no bound (tests, scripts); a service
# passes its SMARTDESA_SHUTDOWN_TIMEOUT_SECONDS.
DEFAULT_STOP_SECONDS = 10.0
# A task still running this long after a cancel is cancelled again: Python 3.11's
# asyncio.wait_for (which nats-py awaits every ack, reply and fetch with) drops a cancellation
# that arrives in the same turn as the result it waits for, and the task then runs on.
RECANCEL_SECONDS = 1.0


def suspended_at(task: asyncio.Task[Any]) -> list[FrameType]:
    """The frames of a suspended task, from its own coroutine down the chain of awaits to the
    innermost (Task.get_stack gives only the outermost one)."""
    frames: list[FrameType] = []
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return frames


def waiting_at(task: asyncio.Future[Any]) -> str:
    """Where a task is suspended, outermost call first (`name (file:line) > ...`)."""
    if not isinstance(task, asyncio.Task):
        return repr(task)
    frames = suspended_at(task)
    if not frames:
        return f"task {task.get_name()} (not suspended in a coroutine)"
    calls = " > ".join(
        f"{f.f_code.co_name} ({Path(f.f_code.co_filename).name}:{f.f_lineno})" for f in frames
    )
    return f"task {task.get_name()}: {calls}"


async def cancel_and_wait(
    task: asyncio.Task[Any] | None, within: float = DEFAULT_STOP_SECONDS
) -> bool:
    """Cancel a background task and wait until it has unwound, for at most `within` seconds.
    The cancel is repeated while the task runs on (see RECANCEL_SECONDS). Returns whether the
    task finished; when it did not, a warning says where it was waiting."""
    if task is None:
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    cancels = 0
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("did not stop within %.1fs, left running: %s", within, waiting_at(task))
            return False
        if cancels == 1:
            log.warning("ran on after its cancel; cancelling again: %s", waiting_at(task))
        task.cancel()
        cancels += 1
        # asyncio.wait, not wait_for: a cancellation of this call (a bound around it) stays
        # this call's and is not passed on into the task's clean-up.
        await asyncio.wait({task}, timeout=min(RECANCEL_SECONDS, remaining))
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s had failed: %r", task.get_name(), task.exception())
    return True


async def stop_within(what: str, stop: Awaitable[object], within: float) -> bool:
    """Await a stop or close call for at most `within` seconds. On time: its outcome (an error
    is raised). Late: a warning naming `what` and where it was waiting, the call is cancelled
    and left behind, and False."""
    task = asyncio.ensure_future(stop)
    try:
        done, _ = await asyncio.wait({task}, timeout=within)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        task.result()
        return True
    log.warning("%s did not finish within %.1fs; left behind at %s", what, within, waiting_at(task))
    task.cancel()
    # Its exception, if it ever ends with one, is expected and not worth asyncio's complaint.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return False


class Shutdown:
    """The stop and close calls of a service's parts, pushed as they are opened onto an exit
    stack, which runs them in reverse; each gets at most `within` seconds."""

    def __init__(self, stack: AsyncExitStack, within: float) -> None:
        self._stack = stack
        self._within = within

    def push(self, what: str, stop: Callable[[], Awaitable[object]]) -> None:
        async def bounded() -> None:
            await stop_within(what, stop(), self._within)

        self._stack.push_async_callback(bounded)
