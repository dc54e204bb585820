"""A background loop that works off a backlog: at once when woken (after a commit that added
work), otherwise every `poll_seconds` (work left by another process, or by one that died)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from common.shutdown import cancel_and_wait

log = logging.getLogger(__name__)


class BacklogLoop:
    def __init__(self, name: str, work: Callable[[], Awaitable[bool]], poll_seconds: float) -> None:
        """`work` does one pass and returns True when more may be waiting right now."""
        self._name = name
        self._work = work
        self._poll = poll_seconds
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()  # before the pass, so a wake during it is not lost
            try:
                if await self._work():
                    continue
            except Exception:
                log.exception("%s pass failed; retrying", self._name)
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll)
            except TimeoutError:
                pass
