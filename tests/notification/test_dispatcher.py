"""The dispatcher's state machine with a controlled clock: no waiting on wall time."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from common.db import create_engine, create_tables, session_factory
from services.notification.channels import (
    SMS,
    WHATSAPP,
    Channel,
    DevSink,
    Outgoing,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from services.notification.dispatcher import REDACTED_BODY, Dispatcher, cancel_pending
from services.notification.models import (
    CANCELLED,
    CREATED,
    DELIVERED,
    EXPIRED,
    PERMANENT_FAILURE,
    SENDING,
    STANDBY,
    TABLES,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Delivery,
)
from tests.notification.deliveries import PHONE, Clock, DeliveryEnv, delivery_env
from tests.support.postgres import PostgresDatabases
from tests.support.waiting import eventually


class FlakyProvider:
    """A provider port that fails as real providers do (no real provider runs here), then hands
    over to the dev sink."""

    def __init__(self, sink: Channel, failures: list[Exception]) -> None:
        self._sink = sink
        self._failures = failures
        self.sent = 0

    async def send(self, message: Outgoing) -> str:
        self.sent += 1
        if self._failures:
            raise self._failures.pop(0)
        return await self._sink.send(message)


class Env(DeliveryEnv):
    def dispatcher(self, channel: Channel, max_attempts: int = 3) -> Dispatcher:
        return Dispatcher(
            self.sessions,
            {WHATSAPP: channel},
            max_attempts=max_attempts,
            retry_base_seconds=10,
            retry_cap_seconds=25,
            clock=self.clock,
        )


@pytest.fixture
async def env(data_dir: Path) -> AsyncIterator[Env]:
    async with delivery_env(data_dir, Env) as found:
        yield found


async def test_delivered_on_first_attempt(env: Env) -> None:
    delivery_id = await env.add_delivery(body="Surat Anda sudah terbit")
    dispatcher = env.dispatcher(DevSink(env.sessions, WHATSAPP))
    assert await dispatcher.dispatch_due() == 1
    delivery = await env.delivery(delivery_id)
    assert (delivery.status, delivery.attempts) == (DELIVERED, 1)
    assert delivery.provider_message_id and delivery.provider_message_id.startswith("dev-")
    assert [a.outcome for a in await env.attempts(delivery_id)] == [DELIVERED]
    assert [(m.to_address, m.body) for m in await env.dev_messages()] == [
        (PHONE, "Surat Anda sudah terbit")
    ]
    assert await dispatcher.dispatch_due() == 0  # nothing sent twice


async def test_temporary_failure_is_retried_after_backoff(env: Env) -> None:
    delivery_id = await env.add_delivery()
    provider = FlakyProvider(
        DevSink(env.sessions, WHATSAPP),
        [TemporaryDeliveryError("429"), TemporaryDeliveryError("503")],
    )
    dispatcher = env.dispatcher(provider)

    assert await dispatcher.dispatch_due() == 1
    first = await env.delivery(delivery_id)
    assert (first.status, first.attempts) == (TEMPORARY_FAILURE, 1)
    assert first.next_attempt_at.replace(tzinfo=UTC) == env.clock.now + timedelta(seconds=10)

    assert await dispatcher.dispatch_due() == 0  # not due yet
    env.clock.advance(10)
    assert await dispatcher.dispatch_due() == 1
    second = await env.delivery(delivery_id)
    # Exponential: 10 s, then 20 s.
    assert second.next_attempt_at.replace(tzinfo=UTC) == env.clock.now + timedelta(seconds=20)

    env.clock.advance(20)
    assert await dispatcher.dispatch_due() == 1
    final = await env.delivery(delivery_id)
    assert (final.status, final.attempts) == (DELIVERED, 3)
    assert [a.outcome for a in await env.attempts(delivery_id)] == [
        TEMPORARY_FAILURE,
        TEMPORARY_FAILURE,
        DELIVERED,
    ]
    assert [a.error for a in await env.attempts(delivery_id)][:2] == ["429", "503"]
    assert len(await env.dev_messages()) == 1
    assert final.body == "Kode masuk Smart Desa Anda: 123456."  # not a secret: kept


async def test_exhausted_retries_end_in_technical_failure(env: Env) -> None:
    delivery_id = await env.add_delivery()
    provider = FlakyProvider(
        DevSink(env.sessions, WHATSAPP), [TemporaryDeliveryError("timeout")] * 5
    )
    dispatcher = env.dispatcher(provider, max_attempts=2)
    await dispatcher.dispatch_due()
    env.clock.advance(3600)
    await dispatcher.dispatch_due()
    env.clock.advance(3600)
    assert await dispatcher.dispatch_due() == 0
    delivery = await env.delivery(delivery_id)
    assert (delivery.status, delivery.attempts, provider.sent) == (TECHNICAL_FAILURE, 2, 2)


async def test_permanent_failure_is_not_retried(env: Env) -> None:
    delivery_id = await env.add_delivery(redact_when_final=True)
    provider = FlakyProvider(
        DevSink(env.sessions, WHATSAPP), [PermanentDeliveryError("invalid number")]
    )
    dispatcher = env.dispatcher(provider)
    await dispatcher.dispatch_due()
    env.clock.advance(3600)
    assert await dispatcher.dispatch_due() == 0
    delivery = await env.delivery(delivery_id)
    assert (delivery.status, provider.sent) == (PERMANENT_FAILURE, 1)
    assert delivery.body == REDACTED_BODY  # the one-time code does not stay in the table
    assert await env.dev_messages() == []


async def test_secret_body_is_blanked_once_delivered(env: Env) -> None:
    delivery_id = await env.add_delivery(redact_when_final=True)
    await env.dispatcher(DevSink(env.sessions, WHATSAPP)).dispatch_due()
    delivery = await env.delivery(delivery_id)
    assert (delivery.status, delivery.body) == (DELIVERED, REDACTED_BODY)
    assert "123456" in (await env.dev_messages())[0].body


async def test_expired_code_is_never_sent(env: Env) -> None:
    delivery_id = await env.add_delivery(
        redact_when_final=True, expires_at=env.clock.now + timedelta(seconds=30)
    )
    provider = FlakyProvider(DevSink(env.sessions, WHATSAPP), [TemporaryDeliveryError("busy")])
    dispatcher = env.dispatcher(provider)
    await dispatcher.dispatch_due()
    env.clock.advance(60)  # the retry falls after the code's expiry
    assert await dispatcher.dispatch_due() == 0
    delivery = await env.delivery(delivery_id)
    assert (delivery.status, delivery.body, provider.sent) == (EXPIRED, REDACTED_BODY, 1)


async def test_interrupted_send_is_tried_again(env: Env) -> None:
    delivery_id = await env.add_delivery(status=SENDING, attempts=1)
    dispatcher = env.dispatcher(DevSink(env.sessions, WHATSAPP))
    assert await dispatcher.dispatch_due() == 0  # "sending" belongs to someone
    assert await dispatcher.recover_interrupted() == 1
    assert await dispatcher.dispatch_due() == 1
    delivery = await env.delivery(delivery_id)
    assert (delivery.status, delivery.attempts) == (DELIVERED, 2)


async def test_wake_sends_without_waiting_for_the_poll(env: Env) -> None:
    dispatcher = Dispatcher(
        env.sessions, {WHATSAPP: DevSink(env.sessions, WHATSAPP)}, poll_seconds=3600
    )
    await dispatcher.start()
    try:
        delivery_id = await env.add_delivery(next_attempt_at=datetime.now(UTC))
        dispatcher.wake()

        async def delivered() -> bool:
            return (await env.delivery(delivery_id)).status == DELIVERED

        await eventually(delivered, what="delivery after wake")
    finally:
        await dispatcher.stop()


async def test_exhausted_whatsapp_releases_its_sms_twin(env: Env) -> None:
    primary = await env.add_delivery(body="Smart Desa: surat terbit")
    twin = await env.add_delivery(
        channel=SMS, status=STANDBY, fallback_for=primary, body="Smart Desa: surat terbit (SMS)"
    )
    whatsapp = FlakyProvider(DevSink(env.sessions, WHATSAPP), [TemporaryDeliveryError("503")] * 9)
    dispatcher = Dispatcher(
        env.sessions,
        {WHATSAPP: whatsapp, SMS: DevSink(env.sessions, SMS)},
        max_attempts=2,
        retry_base_seconds=10,
        clock=env.clock,
    )
    assert await dispatcher.dispatch_due() == 1
    assert (await env.delivery(twin)).status == STANDBY  # a retry is still to come
    env.clock.advance(10)
    assert await dispatcher.dispatch_due() == 1
    assert (await env.delivery(primary)).status == TECHNICAL_FAILURE
    assert await dispatcher.dispatch_due() == 1  # the twin, released at once
    assert (await env.delivery(twin)).status == DELIVERED
    assert [(m.channel, m.body) for m in await env.dev_messages()] == [
        (SMS, "Smart Desa: surat terbit (SMS)")
    ]


async def test_a_code_twin_expires_with_the_code_and_is_blanked(env: Env) -> None:
    expires = env.clock.now + timedelta(minutes=5)
    primary = await env.add_delivery(redact_when_final=True, expires_at=expires)
    twin = await env.add_delivery(
        channel=SMS,
        status=STANDBY,
        fallback_for=primary,
        redact_when_final=True,
        expires_at=expires,
        body="Smart Desa: kode masuk Anda 123456",
    )
    dispatcher = env.dispatcher(DevSink(env.sessions, WHATSAPP))
    assert await dispatcher.dispatch_due() == 1
    assert (await env.delivery(twin)).status == STANDBY
    env.clock.advance(301)
    assert await dispatcher.dispatch_due() == 0
    expired = await env.delivery(twin)
    assert (expired.status, expired.body) == (EXPIRED, REDACTED_BODY)


async def test_cancelling_an_application_cancels_only_what_waits(env: Env) -> None:
    waiting = await env.add_delivery(application_id="app-1")
    retrying = await env.add_delivery(
        application_id="app-1", status=TEMPORARY_FAILURE, to_address="6281200000001"
    )
    twin = await env.add_delivery(
        application_id="app-1", channel=SMS, status=STANDBY, fallback_for=retrying
    )
    sent = await env.add_delivery(application_id="app-1", status=DELIVERED, event_id="ev-0")
    other = await env.add_delivery(application_id="app-2", event_id="ev-2")
    async with env.sessions() as session:
        assert await cancel_pending(session, "app-1", env.clock.now) == 3
        await session.commit()
    statuses = [(await env.delivery(i)).status for i in (waiting, retrying, twin, sent, other)]
    assert statuses == [CANCELLED, CANCELLED, CANCELLED, DELIVERED, CREATED]
    dispatcher = env.dispatcher(DevSink(env.sessions, WHATSAPP))
    assert await dispatcher.dispatch_due() == 1  # only app-2's


class Recording:
    """A provider port that notes what it was handed, then lets other tasks run (as a real
    send would), so that two dispatchers interleave."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message.body)
        await asyncio.sleep(0)
        return f"rec-{len(self.sent)}"


async def test_two_dispatchers_on_postgresql_send_each_delivery_once(
    postgres: PostgresDatabases,
) -> None:
    """Each pass claims its batch with one UPDATE: never more than the batch (a subquery that
    PostgreSQL scans again per row would claim more), never a row the other one claimed."""
    url = await postgres.create(f"dispatch_{uuid.uuid4().hex[:6]}")
    engines = [create_engine(url), create_engine(url)]
    await create_tables(engines[0], TABLES)
    try:
        env = DeliveryEnv(session_factory(engines[0]), Clock())
        count = Dispatcher.BATCH * 2 + 5
        for i in range(count):
            await env.add_delivery(body=f"pesan {i}", event_id=f"ev-{i}")
        sent: list[str] = []
        passes: list[int] = []

        async def drain(engine: AsyncEngine) -> None:
            dispatcher = Dispatcher(
                session_factory(engine), {WHATSAPP: Recording(sent)}, clock=env.clock
            )
            while attempted := await dispatcher.dispatch_due():
                passes.append(attempted)

        await asyncio.gather(*(drain(engine) for engine in engines))
        assert sorted(sent) == sorted(f"pesan {i}" for i in range(count))
        assert max(passes) <= Dispatcher.BATCH
        async with env.sessions() as session:
            statuses = (await session.exec(select(Delivery.status))).all()
        assert set(statuses) == {DELIVERED}
    finally:
        for engine in engines:
            await engine.dispose()
