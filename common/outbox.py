"""Transactional outbox: a service writes its event in the same transaction as the change that
caused it; a relay publishes it to JetStream and marks it only after the stream's ack. The event
id is the Nats-Msg-Id, so a re-publish after a crash is dropped by the stream."""

import json
import logging
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.background import BacklogLoop
from common.db import utcnow
from common.events import CloudEvent, check_public_data, is_public
from common.messaging import publish
from common.metrics import OutboxLag
from common.tracing import current_traceparent

log = logging.getLogger(__name__)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"

    id: str = Field(primary_key=True)  # the CloudEvent id and Nats-Msg-Id
    nats_subject: str
    ce_type: str
    ce_source: str
    ce_subject: str | None = None
    ce_time: datetime
    data_json: str
    created_at: datetime = Field(default_factory=utcnow, index=True)
    published_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0
    # The W3C trace context of the change, so the published message continues its trace.
    traceparent: str | None = None

    def to_cloudevent(self) -> CloudEvent:
        return CloudEvent(
            id=self.id,
            source=self.ce_source,
            type=self.ce_type,
            subject=self.ce_subject,
            time=self.ce_time.replace(tzinfo=UTC) if self.ce_time.tzinfo is None else self.ce_time,
            data=json.loads(self.data_json),
        )


async def stage_event(
    session: AsyncSession, nats_subject: str, event: CloudEvent, *, known_new: bool = False
) -> None:
    """Add the event to the caller's transaction. Staging the same id twice is a no-op. Data
    that is not a public event's is refused here, before anything is committed.

    `known_new`: the caller's own unique row, in the same transaction, already says this id was
    never staged, so the look-up (a query, and the flush it forces) is skipped; a copy staged
    concurrently still fails the commit on the primary key."""
    if is_public(nats_subject):
        check_public_data(event.data, event.name)
    if not known_new and await session.get(OutboxEvent, event.id) is not None:
        return
    session.add(
        OutboxEvent(
            id=event.id,
            nats_subject=nats_subject,
            ce_type=event.type,
            ce_source=event.source,
            ce_subject=event.subject,
            ce_time=event.time,
            data_json=json.dumps(event.data, sort_keys=True),
            traceparent=current_traceparent(),
        )
    )


class OutboxRelay:
    """Publishes staged events in the order they were staged. `wake()` after a commit makes it
    publish at once; it also polls, so events staged by a process that died are published too.

    A row is marked published only after the stream's ack; a crash in between re-publishes it,
    and the stream drops the copy (same Nats-Msg-Id within its duplicate window). When NATS is
    away the relay stops at the first event it cannot publish (later ones wait behind it, so
    the order holds) and tries again on the next wake or poll. Several relays on one database
    (replicas) each claim rows no other relay holds (`FOR UPDATE SKIP LOCKED`), so each event
    is published once; the stream's duplicate window is the second line of defence. Published rows are deleted after `keep_published`.
    """

    BATCH = 100
    PRUNE_EVERY = timedelta(hours=1)
    # The backlog gauges are read at most this often: each reading is a query of its own,
    # and a pass runs per staged event (bench-journeys: one per progress record). A failed
    # pass always reads them.
    OBSERVE_EVERY = timedelta(seconds=1)

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        poll_seconds: float = 2.0,
        keep_published: timedelta = timedelta(days=7),
        service: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._js = js
        self._keep = keep_published
        self._lag = OutboxLag(service) if service else None  # metrics, when named
        self._loop = BacklogLoop("outbox-relay", self._pass, poll_seconds)
        self._failing_since: datetime | None = None
        self._pruned_at: datetime | None = None
        self._observed_at: datetime | None = None

    def wake(self) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> bool:
        now = utcnow()
        if self._pruned_at is None or now - self._pruned_at >= self.PRUNE_EVERY:
            self._pruned_at = now
            await self.prune(now - self._keep)
        try:
            more = await self.publish_pending(self.BATCH) == self.BATCH
        except Exception:
            if self._lag is not None:  # NATS away: the backlog grows, and the gauges show it
                with suppress(Exception):
                    await self._observe_backlog(self._lag)
            raise
        if self._lag is not None and (
            self._observed_at is None or now - self._observed_at >= self.OBSERVE_EVERY
        ):
            self._observed_at = now
            await self._observe_backlog(self._lag)
        return more

    async def _observe_backlog(self, lag: OutboxLag) -> None:
        async with self._sessions() as session:
            count, oldest = (
                await session.exec(
                    select(func.count(), func.min(OutboxEvent.created_at)).where(
                        col(OutboxEvent.published_at).is_(None)
                    )
                )
            ).one()
        lag.observe_backlog(int(count), oldest)

    async def publish_pending(self, batch: int = 100) -> int:
        """Publish up to `batch` unpublished events in order; returns how many were published.
        Stops at the first one NATS does not take (it is counted as an attempt).

        On PostgreSQL the batch is claimed `FOR UPDATE SKIP LOCKED` and held for the whole
        pass (one transaction): a second relay on the same database (another replica) neither
        waits for these rows nor publishes them again; it takes only rows nobody holds. Its
        marks are committed with the batch, so once a relay sees a row it is published."""
        published = 0
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(OutboxEvent)
                    .where(col(OutboxEvent.published_at).is_(None))
                    .order_by(col(OutboxEvent.created_at), col(OutboxEvent.id))
                    .limit(batch)
                    # SQLite (one process per database, dev) renders no FOR UPDATE at all.
                    .with_for_update(skip_locked=True)
                )
            ).all()
            acked: list[OutboxEvent] = []
            try:
                for row in rows:
                    try:
                        ack = await publish(
                            self._js, row.nats_subject, row.to_cloudevent(), row.traceparent
                        )
                    except Exception as exc:
                        row.attempts += 1
                        session.add(row)
                        self._report_failure(row, exc)
                        break
                    row.published_at = utcnow()
                    session.add(row)
                    acked.append(row)
                    if ack.duplicate:
                        log.info("event %s was already in %s; marked", row.id, ack.stream)
            finally:
                # The marks of what was acked (and the failed attempt) in one commit, which
                # also lets go of the claimed rows.
                await session.commit()
            published = len(acked)
            if self._lag is not None:
                for row in acked:
                    self._lag.observe_published(row.created_at)
        if published and self._failing_since is not None:
            log.warning("outbox relay publishing again (stopped at %s)", self._failing_since)
            self._failing_since = None
        return published

    def _report_failure(self, row: OutboxEvent, exc: Exception) -> None:
        # Once per outage, and then every tenth attempt: NATS restarting is not news each poll.
        if self._failing_since is None:
            self._failing_since = utcnow()
        elif row.attempts % 10:
            return
        log.warning(
            "outbox relay cannot publish event %s (%s, attempt %d): %s",
            row.id,
            row.ce_type,
            row.attempts,
            type(exc).__name__,
        )

    async def prune(self, published_before: datetime) -> int:
        """Delete rows published before the given time; returns how many."""
        async with self._sessions() as session:
            result = await session.exec(
                delete(OutboxEvent)
                .where(col(OutboxEvent.published_at).is_not(None))
                .where(col(OutboxEvent.published_at) < published_before)
            )
            await session.commit()
            return int(result.rowcount or 0)
