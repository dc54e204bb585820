import asyncio

import pytest

from common.background import BacklogLoop

pytestmark = pytest.mark.unit

# Long enough that only a wake-up (or a full batch) can explain a second pass in these tests.
NEVER = 3600.0


async def test_a_wake_runs_a_pass_without_waiting_for_the_poll() -> None:
    passes: list[int] = []
    first_pass, second_pass = asyncio.Event(), asyncio.Event()

    async def work() -> bool:
        passes.append(len(passes))
        (first_pass if len(passes) == 1 else second_pass).set()
        return False

    loop = BacklogLoop("test", work, poll_seconds=NEVER)
    loop.start()
    try:
        await asyncio.wait_for(first_pass.wait(), timeout=30)
        loop.wake()
        await asyncio.wait_for(second_pass.wait(), timeout=30)
    finally:
        await loop.stop()
    assert passes == [0, 1]


async def test_a_full_batch_runs_again_at_once() -> None:
    # The poll is an hour away: only "more may be waiting" can explain the later passes.
    outcomes: list[str] = []
    done = asyncio.Event()

    async def work() -> bool:
        outcomes.append("pass")
        if len(outcomes) < 3:
            return True  # more waiting
        done.set()
        return False

    loop = BacklogLoop("test", work, poll_seconds=NEVER)
    loop.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        await loop.stop()
    assert len(outcomes) == 3


async def test_a_failure_does_not_stop_the_loop() -> None:
    outcomes: list[str] = []
    done = asyncio.Event()

    async def work() -> bool:
        outcomes.append("pass")
        if len(outcomes) == 1:
            raise RuntimeError("database away")
        done.set()
        return False

    loop = BacklogLoop("test", work, poll_seconds=0.01)  # a failed pass waits for the poll
    loop.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        await loop.stop()
    assert len(outcomes) == 2
