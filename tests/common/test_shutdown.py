"""Stopping within a bound (common.shutdown): a background task whose cancellation gets lost
still stops, and one that will not stop is left behind with a warning saying where it waits,
instead of holding up the shutdown (and the test run) for ever."""

import asyncio
import logging
from contextlib import AsyncExitStack

import pytest

from common.background import BacklogLoop
from common.shutdown import Shutdown, cancel_and_wait, stop_within

pytestmark = pytest.mark.unit

# Only a stop that never comes reaches this: it turns a hang into a failure.
HANG = 60.0
NEVER = 3600.0


async def test_a_loop_stops_when_its_cancel_lands_as_an_ack_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hang of intake's test app: the outbox relay was awaiting a PubAck, which nats-py
    awaits with asyncio.wait_for, when shutdown cancelled it. On Python 3.11 wait_for returns the
    ack and drops a cancellation that arrives in the same turn, so the relay ran on and stop()
    waited for it for ever."""
    ack: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    publishing = asyncio.Event()

    async def publish_pending() -> bool:
        publishing.set()
        await asyncio.wait_for(ack, timeout=NEVER)  # as nats.aio.client awaits a reply
        return False

    relay = BacklogLoop("outbox-relay", publish_pending, poll_seconds=NEVER)
    relay.start()
    await asyncio.wait_for(publishing.wait(), HANG)
    ack.set_result("PubAck")  # the ack and the stop in the same turn of the event loop
    stopping = asyncio.create_task(relay.stop())
    done, _ = await asyncio.wait({stopping}, timeout=HANG)
    assert stopping in done, "stop() waited for a loop that had swallowed its cancellation"
    assert "ran on after its cancel; cancelling again: task outbox-relay" in caplog.text


async def test_a_task_that_will_not_stop_is_left_behind_with_where_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # ignores every cancel

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.wait_for(started.wait(), HANG)
    with caplog.at_level(logging.WARNING, logger="common.shutdown"):
        assert await cancel_and_wait(task, within=1.5) is False
    assert not task.done()
    assert "did not stop within 1.5s, left running: task stubborn: stubborn" in caplog.text
    release.set()
    await task


async def test_a_close_that_never_returns_is_cut_short_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = asyncio.Event()

    async def close_connection() -> None:
        await never.wait()

    with caplog.at_level(logging.WARNING, logger="common.shutdown"):
        assert await stop_within("NATS connection", close_connection(), within=0.5) is False
    assert "NATS connection did not finish within 0.5s" in caplog.text
    assert "close_connection" in caplog.text  # where it was waiting


async def test_a_stuck_part_does_not_keep_the_others_from_closing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []
    never = asyncio.Event()

    async def close(name: str) -> None:
        closed.append(name)

    async def stuck() -> None:
        await never.wait()

    async with AsyncExitStack() as stack:
        shutdown = Shutdown(stack, within=0.5)
        shutdown.push("database engine", lambda: close("database"))
        shutdown.push("gRPC server", stuck)
        shutdown.push("outbox relay", lambda: close("relay"))
    assert closed == ["relay", "database"]  # reverse order, past the stuck one
    assert "gRPC server did not finish within 0.5s" in caplog.text


async def test_a_failing_close_still_raises() -> None:
    async def close() -> None:
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        await stop_within("gRPC channel", close(), within=HANG)
