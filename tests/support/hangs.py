"""What a hung test was waiting for. pytest-timeout's thread method prints every thread's stack
and ends the run; a hung asyncio test shows only the event loop idling in select() there, so the
timeout here first prints the stack of every task still pending on the event loop."""

import asyncio
import sys
import threading
from types import FrameType
from typing import Any

import pytest
import pytest_timeout

from common.shutdown import suspended_at


def running_loop_of(thread_id: int) -> asyncio.AbstractEventLoop | None:
    """The event loop running in another thread, found on that thread's stack."""
    frame: FrameType | None = sys._current_frames().get(thread_id)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop):
            return candidate
        frame = frame.f_back
    return None


def pending_tasks_report(loop: asyncio.AbstractEventLoop) -> str:
    """Every pending task of `loop`, each with the stack it is suspended at."""
    lines: list[str] = []
    for task in asyncio.all_tasks(loop):
        lines.append(f"--- {task.get_name()}: {task.get_coro()!r}")
        for frame in suspended_at(task):
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
        waiter = getattr(task, "_fut_waiter", None)  # what the innermost await is waiting on
        if waiter is not None:
            lines.append(f"  awaiting {waiter!r}")
    return "\n".join(lines) or "(no pending tasks)"


def _on_timeout(item: pytest.Item, settings: Any, main_thread_id: int) -> None:
    loop = running_loop_of(main_thread_id)
    if loop is not None:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # straight to the terminal; pytest_timeout prints what it holds
            capture.suspend_global_capture(item)
        terminal = item.config.get_terminal_writer()
        terminal.sep("+", title=f"Pending asyncio tasks of {item.nodeid}")
        terminal.write(pending_tasks_report(loop) + "\n")
        terminal.flush()
    pytest_timeout.timeout_timer(item, settings)  # every thread's stack, then the run ends


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    if settings.method != "thread":
        return None  # the signal method raises inside the test; its traceback says where
    timer = threading.Timer(
        settings.timeout, _on_timeout, (item, settings, threading.main_thread().ident)
    )
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest_timeout's own cancel hook calls it
    timer.start()
    return True
