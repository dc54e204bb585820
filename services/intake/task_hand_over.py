"""Handing recorded progress events straight to verification's task inbox.

RecordProgress commits the event to the outbox, and the relay publishes it to JetStream, where
verification's task projection takes it in turn. On the way to the next assignee's inbox that
relay, the stream and the consumer's queue cost more than applying the event (docs/
performance.md, "The hand-over"). So after the commit intake also hands the event to
verification's TaskInboxService:

- An event that opens a task (a step assigned, signing blocked) is handed over at once, and
  RecordProgress answers once it is applied: the task is in the inbox before the decision's
  answer reaches the staff client.
- Any other event (a decision, a reminder) is held for a moment (`hold_s`, the setting
  SMARTDESA_INTAKE_TASK_HAND_OVER_HOLD_SECONDS): the workflow records the next step a few tens
  of milliseconds after the decision, and both then go in one call and one transaction, in
  order, instead of the next step waiting for the decision's turn at SQLite's one writer. An event that no next one follows in time (the last approval, a return
  for revision) is handed over alone.

A shortcut only: the outbox still publishes every event and the projection applies each event
id once, whichever copy comes first. When the hand-over fails or verification does not answer
in time, intake logs it and leaves the events to JetStream; after a failure it hands nothing
over for a while, so a slow or absent verification does not slow every record down. Events
held when intake stops go by JetStream alone.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

import grpc
from smartdesa.v1 import tasks_pb2, tasks_pb2_grpc

from common.domain.events import APPLICATION_SIGNING_BLOCKED, APPLICATION_STEP_ASSIGNED
from common.events import CloudEvent

log = logging.getLogger(__name__)

# Events after which someone's inbox holds a new task: RecordProgress waits for these.
OPENING_EVENTS = frozenset({APPLICATION_STEP_ASSIGNED, APPLICATION_SIGNING_BLOCKED})
# Applying events takes tens of milliseconds; longer means verification is struggling, and
# JetStream's copies will do.
HAND_OVER_TIMEOUT_S = 2.0
# After a failure, events go by JetStream alone for this long; after UNIMPLEMENTED (a
# verification from before the service, e.g. during a rolling deploy) for longer.
PAUSE_AFTER_FAILURE_S = 10.0
PAUSE_AFTER_UNIMPLEMENTED_S = 300.0


@dataclass
class _Held:
    events: list[CloudEvent]
    release: asyncio.TimerHandle


class TaskHandOver:
    def __init__(self, stub: tasks_pb2_grpc.TaskInboxServiceStub, hold_s: float) -> None:
        self._stub = stub
        self._hold_s = hold_s
        self._paused_until = 0.0
        self._held: dict[str, _Held] = {}  # per application, events waiting for its next one
        self._under_way: set[asyncio.Task[list[bool]]] = set()  # held until done

    async def __call__(self, event: CloudEvent) -> None:
        """Hands `event` over (with what its application holds): returns once they are
        applied if it opens a task, else at once, holding it."""
        key = event.subject or event.id
        held = self._held.pop(key, None)
        events = [*held.events, event] if held is not None else [event]
        if event.name in OPENING_EVENTS:
            if held is not None:
                held.release.cancel()
            # Shielded: a caller that gives up does not stop the hand-over half-way.
            await asyncio.shield(self._start(events))
            return
        release = (
            held.release
            if held is not None
            else asyncio.get_running_loop().call_later(self._hold_s, self._release, key)
        )
        self._held[key] = _Held(events, release)

    async def close(self) -> None:
        """At shutdown, before the channel closes: held events are left to JetStream, and
        hand-overs under way are given up (their events have JetStream copies too)."""
        for held in self._held.values():
            held.release.cancel()
        self._held.clear()
        for handing in list(self._under_way):
            handing.cancel()
        await asyncio.gather(*self._under_way, return_exceptions=True)

    def _release(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            self._start(held.events)

    def _start(self, events: list[CloudEvent]) -> "asyncio.Task[list[bool]]":
        handing = asyncio.create_task(self.hand_over(events))
        self._under_way.add(handing)
        handing.add_done_callback(self._under_way.discard)
        return handing

    async def hand_over(self, events: list[CloudEvent]) -> list[bool]:
        """For each event, whether verification applied it now."""
        if time.monotonic() < self._paused_until:
            return [False] * len(events)
        request = tasks_pb2.HandOverEventsRequest(
            events=[tasks_pb2.HandedOverEvent(headers=e.headers(), data=e.body()) for e in events]
        )
        try:
            response: tasks_pb2.HandOverEventsResponse = await self._stub.HandOverEvents(
                request, timeout=HAND_OVER_TIMEOUT_S
            )
        except Exception as exc:  # noqa: BLE001 (never a record's failure: JetStream has them)
            code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else None
            unimplemented = code == grpc.StatusCode.UNIMPLEMENTED
            pause = PAUSE_AFTER_UNIMPLEMENTED_S if unimplemented else PAUSE_AFTER_FAILURE_S
            self._paused_until = time.monotonic() + pause
            log.warning(
                "hand-over of %d event(s) failed (%s); JetStream alone for %.0f s",
                len(events),
                code.name if code is not None else type(exc).__name__,
                pause,
            )
            return [False] * len(events)
        return list(response.applied)
