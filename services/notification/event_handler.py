"""Turns one consumed event into stored notifications and deliveries, exactly once.

The processed-event row is written in the same transaction as everything the event produces,
so a redelivered event finds it and changes nothing.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain.events import OTP_REQUESTED, SIGN_IN_NOTICE
from common.events import PUBLIC_EVENT_NAMES, PUBLIC_ROOT, CloudEvent, internal_subject
from common.metrics import NOTIFICATIONS
from services.notification.models import ProcessedEvent
from services.notification.recipients import RecipientLookup
from services.notification.rules import Plan, plan_for, store_plan

log = logging.getLogger(__name__)

EVENTS_DURABLE = "notification-events"
INTERNAL_DURABLE = "notification-internal"

# Every desa (kabupaten.kecamatan.desa wildcards), only the events we act on.
PUBLIC_FILTERS = [f"{PUBLIC_ROOT}.*.*.*.{name}" for name in PUBLIC_EVENT_NAMES]
INTERNAL_FILTERS = [internal_subject(OTP_REQUESTED), internal_subject(SIGN_IN_NOTICE)]


def event_lane(event: CloudEvent) -> str | None:
    """The public consumer's lane of an event (common/messaging.py): its application's, or its
    complaint's. Events of one application are handled in stream order (application.cancelled
    withdraws what its earlier events queued), those of different ones side by side."""
    data = event.data if isinstance(event.data, dict) else {}
    key = data.get("application_id") or data.get("complaint_id")
    return str(key) if key else event.subject


class EventHandler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        recipients: RecipientLookup,
        on_deliveries: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._recipients = recipients
        self._on_deliveries = on_deliveries  # wakes the dispatcher after a commit
        self._clock = clock
        # The consumer's lanes store one at a time; the gRPC calls before still overlap. On
        # SQLite (one writer) lanes storing at once would each wait for its lock in SQLite's
        # busy handler, which sleeps and retries without a queue (as verification's
        # TaskProjection found). On PostgreSQL a notification's id is drawn at its insert, so
        # two transactions at once could commit out of id order, and an inbox stream (which
        # sends what is past the last id it sent) could pass over the earlier one for good.
        # A store is a few inserts: taking turns costs little of what the lanes give.
        self._one_writer = asyncio.Lock()

    async def __call__(self, event: CloudEvent) -> None:
        if await self._is_processed(event.id):
            log.info("event %s already processed; skipping", event.id)
            return
        # Ask the other services before opening the transaction: no write lock held on a call.
        # Each contact, role and preference asked once for this event, and not kept after it.
        plan = await plan_for(event, self._recipients.for_event(), self._clock())
        try:
            await self._store(event, plan)
        except IntegrityError:
            # Another consumer instance stored the same event first.
            if await self._is_processed(event.id):
                log.info("event %s processed concurrently; skipping", event.id)
                return
            raise
        if plan.outgoing:
            self._on_deliveries()
        log.info(
            "event %s (%s): %d in-app, %d deliveries",
            event.id,
            event.name,
            len(plan.in_app),
            len(plan.outgoing),
        )

    async def _is_processed(self, event_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(ProcessedEvent, event_id) is not None

    async def _store(self, event: CloudEvent, plan: Plan) -> None:
        # No second look-up here: a copy stored since the check above fails this commit on the
        # processed event's primary key (IntegrityError, handled by the caller).
        async with self._one_writer, self._sessions() as session:
            session.add(ProcessedEvent(event_id=event.id, event_type=event.type))
            await store_plan(session, event.id, plan, self._clock())
            await session.commit()
        if plan.in_app:  # stored is delivered: the inbox is ours
            NOTIFICATIONS.labels("in_app", "delivered").inc(len(plan.in_app))
