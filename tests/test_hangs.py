"""What a hung test prints (tests/support/hangs.py): the pending tasks of the event loop, read
from the timeout's own thread while the loop sits idle."""

import asyncio
import threading

import pytest

from tests.support.hangs import pending_tasks_report, running_loop_of

pytestmark = pytest.mark.unit


async def waits_for_an_ack_that_never_comes(started: asyncio.Event, never: asyncio.Event) -> None:
    started.set()
    await never.wait()


async def test_the_report_names_each_pending_task_and_where_it_waits() -> None:
    started, never = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        waits_for_an_ack_that_never_comes(started, never), name="outbox-relay"
    )
    await started.wait()
    main = threading.get_ident()

    def from_the_timeout_thread() -> str:
        loop = running_loop_of(main)
        assert loop is not None, "the event loop was not found on the main thread's stack"
        return pending_tasks_report(loop)

    try:
        report = await asyncio.to_thread(from_the_timeout_thread)
    finally:
        task.cancel()
    assert "--- outbox-relay" in report
    assert "in waits_for_an_ack_that_never_comes" in report
    assert "awaiting <Future pending" in report
