"""Sends stored deliveries through their channel adapters and records every attempt.

created → sending → delivered, or temporary-failure (retried with exponential backoff until the
attempts run out: technical-failure), or permanent-failure. A delivery is claimed with a
conditional update, so two instances never send the same one. The handler wakes the dispatcher
after its commit; a poll picks up retries and anything left by a process that died.

A WhatsApp message carries its SMS twin in "standby": when WhatsApp fails for good (at the send,
or later by the webhook's "failed" status) the twin becomes "created" and goes out. Withdrawing
an application turns whatever is still pending for it into "cancelled".
"""

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.background import BacklogLoop
from common.db import utcnow
from common.metrics import NOTIFICATIONS
from services.notification.channels import (
    OTP_TEMPLATES,
    Channel,
    Outgoing,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from services.notification.models import (
    CANCELLED,
    CREATED,
    DELIVERED,
    EXPIRED,
    PENDING_STATUSES,
    PERMANENT_FAILURE,
    PROVIDER_FAILED,
    PROVIDER_STATUS_RANK,
    SENDING,
    STANDBY,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Delivery,
    DeliveryAttempt,
)

log = logging.getLogger(__name__)

REDACTED_BODY = "[disamarkan]"
FAILED_FOR_GOOD = (PERMANENT_FAILURE, TECHNICAL_FAILURE)
WAITING_STATUSES = (*PENDING_STATUSES, STANDBY)


async def cancel_pending(session: AsyncSession, application_id: str, now: datetime) -> int:
    """Cancel what has not gone out yet about `application_id` (in the caller's transaction).
    A message being sent at this moment is left to finish."""
    result = await session.exec(
        update(Delivery)
        .where(col(Delivery.application_id) == application_id)
        .where(col(Delivery.status).in_(WAITING_STATUSES))
        .values(status=CANCELLED, updated_at=now)
    )
    return int(result.rowcount)


async def release_fallbacks(session: AsyncSession, delivery_id: int, now: datetime) -> int:
    """The primary failed for good: its standby twins go out now (in the caller's transaction)."""
    result = await session.exec(
        update(Delivery)
        .where(col(Delivery.fallback_for) == delivery_id)
        .where(col(Delivery.status) == STANDBY)
        .values(status=CREATED, next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount)


def outgoing(delivery: Delivery) -> Outgoing:
    params = tuple(json.loads(delivery.template_params)) if delivery.template_params else ()
    return Outgoing(
        to=delivery.to_address,
        body=delivery.body,
        subject=delivery.subject,
        template=delivery.template,
        template_version=delivery.template_version,
        params=params,
        otp_button=delivery.template in OTP_TEMPLATES,
    )


class Dispatcher:
    # Claimed by one UPDATE (see _claim_due); a full batch means more may be due now.
    BATCH = 10
    # Expired messages are never sent (the claim checks); this only marks them and blanks
    # the codes' bodies, which needs no haste.
    EXPIRE_EVERY = timedelta(seconds=30)

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[str, Channel],
        *,
        max_attempts: int = 8,
        retry_base_seconds: float = 5.0,
        retry_cap_seconds: float = 600.0,
        poll_seconds: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._retry_cap = retry_cap_seconds
        self._clock = clock
        self._loop = BacklogLoop("notification-dispatcher", self._pass, poll_seconds)
        self._expired_at: datetime | None = None

    def wake(self) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self.recover_interrupted()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> bool:
        return await self.dispatch_due() == self.BATCH

    async def recover_interrupted(self) -> int:
        """Deliveries left in "sending" by a process that stopped mid-send: their outcome is
        unknown, so they are tried again (a rare duplicate beats a lost message)."""
        async with self._sessions() as session:
            result = await session.exec(
                update(Delivery)
                .where(col(Delivery.status) == SENDING)
                .values(status=TEMPORARY_FAILURE, next_attempt_at=self._clock())
            )
            await session.commit()
            return int(result.rowcount)

    async def dispatch_due(self, batch: int = BATCH) -> int:
        """Attempt every delivery that is due (at most `batch`); returns how many were
        attempted."""
        now = self._clock()
        async with self._sessions() as session:
            # Expiring is two UPDATEs and a commit; a pass runs per stored event, so it is done
            # at most every EXPIRE_EVERY. Nothing expired is sent meanwhile: the claim checks
            # `expires_at` itself.
            if self._expired_at is None or now - self._expired_at >= self.EXPIRE_EVERY:
                self._expired_at = now
                await self._expire_stale(session, now)
            claimed = await self._claim_due(session, now, batch)
            await session.commit()
        for delivery in claimed:
            await self._attempt(delivery)
        return len(claimed)

    async def _claim_due(self, session: AsyncSession, now: datetime, batch: int) -> list[Delivery]:
        """Claims the due deliveries in one UPDATE that returns them (no SELECT before it, no
        statement per delivery), at most `batch` at a time, so that other instances share a
        long backlog. The conditions are repeated in the UPDATE: on PostgreSQL a row another
        instance claimed meanwhile no longer matches when the UPDATE re-reads it, so a claim
        stays exclusive, and SKIP LOCKED keeps the instances from waiting on each other."""
        sendable = (
            col(Delivery.status).in_(PENDING_STATUSES),
            or_(col(Delivery.expires_at).is_(None), col(Delivery.expires_at) > now),
        )
        due = (
            select(Delivery.id)
            .where(*sendable)
            .where(col(Delivery.next_attempt_at) <= now)
            .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
            .limit(batch)
            .with_for_update(skip_locked=True)  # not rendered on SQLite (one writer)
            # Evaluated once: as a subquery PostgreSQL may scan it again per row, and each
            # scan skips the rows already claimed, claiming more than `batch`.
            .cte("due")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        claimed = (
            (
                await session.exec(
                    update(Delivery)
                    .where(col(Delivery.id).in_(select(due.c.id)), *sendable)
                    .values(status=SENDING, attempts=col(Delivery.attempts) + 1, updated_at=now)
                    .returning(Delivery)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        # RETURNING gives no order: send in the order they fell due.
        return sorted(claimed, key=lambda d: (d.next_attempt_at, d.id or 0))

    async def _expire_stale(self, session: AsyncSession, now: datetime) -> None:
        await session.exec(
            update(Delivery)
            .where(col(Delivery.status).in_(WAITING_STATUSES))
            .where(col(Delivery.expires_at) <= now)
            .values(status=EXPIRED, updated_at=now)
        )
        await session.exec(
            update(Delivery)
            .where(col(Delivery.status) == EXPIRED)
            .where(col(Delivery.redact_when_final))
            .where(col(Delivery.body) != REDACTED_BODY)
            .values(body=REDACTED_BODY)
        )
        await session.commit()

    async def _attempt(self, delivery: Delivery) -> None:
        started = self._clock()
        provider_id: str | None = None
        error: str | None = None
        channel = self._channels.get(delivery.channel)
        if channel is None:
            outcome, error = PERMANENT_FAILURE, f"no adapter for channel {delivery.channel}"
        else:
            try:
                provider_id = await channel.send(outgoing(delivery))
                outcome = DELIVERED
            except PermanentDeliveryError as exc:
                outcome, error = PERMANENT_FAILURE, str(exc)
            except TemporaryDeliveryError as exc:
                outcome, error = TEMPORARY_FAILURE, str(exc)
            except Exception as exc:
                # An adapter bug or an unexpected network error: retry, but bounded.
                log.exception("channel %s raised unexpectedly", delivery.channel)
                outcome, error = TEMPORARY_FAILURE, type(exc).__name__
        await self._record(delivery, started, outcome, provider_id, error)

    async def _record(
        self,
        delivery: Delivery,
        started: datetime,
        outcome: str,
        provider_id: str | None,
        error: str | None,
    ) -> None:
        assert delivery.id is not None
        finished = self._clock()
        status = outcome
        if outcome == TEMPORARY_FAILURE:
            if delivery.attempts >= self._max_attempts:
                status = TECHNICAL_FAILURE
            else:
                delay = min(self._retry_cap, self._retry_base * 2 ** (delivery.attempts - 1))
                delivery.next_attempt_at = finished + timedelta(seconds=delay)
        delivery.status = status
        delivery.updated_at = finished
        if provider_id is not None:
            delivery.provider_message_id = provider_id
        if delivery.redact_when_final and status not in PENDING_STATUSES:
            delivery.body = REDACTED_BODY
        released = 0
        async with self._sessions() as session:
            session.add(delivery)
            if status in FAILED_FOR_GOOD:
                released = await release_fallbacks(session, delivery.id, finished)
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    number=delivery.attempts,
                    started_at=started,
                    finished_at=finished,
                    outcome=outcome,
                    provider_message_id=provider_id,
                    error=error,
                )
            )
            await session.commit()
        NOTIFICATIONS.labels(delivery.channel, outcome).inc()
        log.info(
            "delivery %s via %s attempt %d: %s",
            delivery.id,
            delivery.channel,
            delivery.attempts,
            status,
        )
        if released:
            log.info("delivery %s failed for good: %d fallback(s) released", delivery.id, released)
            self.wake()

    async def provider_status(self, provider_message_id: str, status: str, at: datetime) -> bool:
        """A status the provider reported later (WhatsApp webhook). Statuses only move forward
        (sent → delivered → read): a duplicate or a late "sent" after "read" changes nothing.
        "failed" before "delivered" fails the delivery and releases its SMS fallback.
        Returns whether anything changed."""
        async with self._sessions() as session:
            delivery = (
                await session.exec(
                    select(Delivery).where(col(Delivery.provider_message_id) == provider_message_id)
                )
            ).first()
            if delivery is None or delivery.id is None:
                return False
            current = delivery.provider_status
            current_rank = PROVIDER_STATUS_RANK.get(current or "", -1)
            if status == PROVIDER_FAILED:
                if current == PROVIDER_FAILED or current_rank >= PROVIDER_STATUS_RANK["delivered"]:
                    return False
                delivery.provider_status = PROVIDER_FAILED
                delivery.status = PERMANENT_FAILURE
                released = await release_fallbacks(session, delivery.id, self._clock())
            elif status in PROVIDER_STATUS_RANK:
                if current == PROVIDER_FAILED or PROVIDER_STATUS_RANK[status] <= current_rank:
                    return False
                delivery.provider_status = status
                released = 0
            else:
                return False
            delivery.provider_status_at = at
            delivery.updated_at = self._clock()
            if delivery.redact_when_final:
                delivery.body = REDACTED_BODY
            session.add(delivery)
            await session.commit()
        if released:
            self.wake()
        return True
