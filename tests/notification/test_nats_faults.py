"""Fault tests over real NATS: the server stopped and restarted in the middle of a run loses no
event and sends no message twice; poison messages end in the dead-letter stream while the rest
keep flowing. The whole notification service runs in-process; events come through a real
transactional outbox and its relay, as intake publishes them."""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common import dead_letters as dl
from common.db import create_engine, create_tables, session_factory
from common.domain.events import APPLICATION_REVISION_REQUESTED, APPLICATION_STEP_ASSIGNED
from common.events import PUBLIC_STREAM, CloudEvent, public_filter
from common.messaging import connect, ensure_streams, publish
from common.outbox import OutboxEvent, OutboxRelay, stage_event
from services.notification.event_handler import EVENTS_DURABLE
from services.notification.main import create_app
from services.notification.models import (
    DELIVERED,
    PENDING_STATUSES,
    SENDING,
    Delivery,
    DeliveryAttempt,
    DevMessage,
    Notification,
    ProcessedEvent,
)
from services.notification.runtime import Runtime
from tests.common.nats_helpers import dead_letters_of, read_all
from tests.notification.conftest import (
    PAMANUKAN,
    RESIDENT_ID,
    RESIDENT_PHONE,
    Peers,
    application_event,
    make_settings,
    reset_nats,
)
from tests.support.processes import free_port, nats_server
from tests.support.waiting import eventually


@asynccontextmanager
async def notification_service(
    data_dir: Path, nats_url: str, peers: Peers, **overrides: object
) -> AsyncIterator[Runtime]:
    app = create_app(make_settings(data_dir, nats_url, peers, **overrides))
    async with app.router.lifespan_context(app):
        yield app.state.runtime


async def _count(sessions: async_sessionmaker[AsyncSession], model: type, *where: object) -> int:
    async with sessions() as session:
        statement = select(func.count()).select_from(model)
        for condition in where:
            statement = statement.where(condition)  # type: ignore[arg-type]
        return int((await session.exec(statement)).one())


def _events(applications: Sequence[str]) -> list[tuple[str, CloudEvent]]:
    """For each application: a step for the Kasi (in-app), then a revision request (the
    resident hears of it in-app and on WhatsApp)."""
    out = []
    for application_id in applications:
        out.append(
            application_event(
                APPLICATION_STEP_ASSIGNED,
                application_id=application_id,
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{application_id}/1")),
                status="in_review",
                step_role="kasi_pemerintahan",
            )
        )
        out.append(
            application_event(
                APPLICATION_REVISION_REQUESTED,
                application_id=application_id,
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{application_id}/2")),
                status="revision_requested",
                step_role="kasi_pemerintahan",
                decision="revise",
            )
        )
    return out


async def _stage(
    sessions: async_sessionmaker[AsyncSession],
    relay: OutboxRelay,
    batch: list[tuple[str, CloudEvent]],
) -> None:
    async with sessions() as session:
        for subject, event in batch:
            await stage_event(session, subject, event)
        await session.commit()
    relay.wake()


async def test_nats_restarted_mid_run_loses_no_event_and_sends_nothing_twice(
    tmp_path: Path, data_dir: Path, peers: Peers
) -> None:
    port, store = free_port(), tmp_path / "jetstream"
    applications = [f"app-restart-{i:02d}" for i in range(12)]
    peers.intake.add_resident(RESIDENT_ID, RESIDENT_PHONE, *applications)
    events = _events(applications)
    first, while_down, after = events[:8], events[8:16], events[16:]

    # The publisher: a transactional outbox and its relay, as in intake.
    outbox_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'publisher.db'}")
    await create_tables(outbox_engine, [OutboxEvent])
    outbox = session_factory(outbox_engine)

    server = ExitStack()
    url = server.enter_context(nats_server(store, port))
    publisher = await connect(url, "publisher")
    try:
        js = publisher.jetstream()
        await ensure_streams(js)
        relay = OutboxRelay(outbox, js, poll_seconds=0.2)
        relay.start()
        async with notification_service(data_dir, url, peers) as runtime:
            sessions = runtime.sessions
            await _stage(outbox, relay, first)
            await eventually(
                lambda: _count(sessions, ProcessedEvent), what="the run to be under way"
            )
            server.close()  # NATS goes away in the middle of the run

            await _stage(outbox, relay, while_down)
            # The relay tried them while NATS was away and kept them.
            await eventually(
                lambda: _count(
                    outbox, OutboxEvent, col(OutboxEvent.published_at).is_(None),
                    col(OutboxEvent.attempts) > 0,
                ),
                what="a failed publish attempt",
            )  # fmt: skip

            server = ExitStack()
            server.enter_context(nats_server(store, port))  # same store, same port
            # As if the relay had died between the stream's ack and its mark for the first
            # batch: they go out again, and the restarted stream still knows their ids.
            # (Those of it that went out before NATS stopped; the run was under way, so some did.)
            async with outbox() as session:
                again = 0
                for _, event in first:
                    row = await session.get(OutboxEvent, event.id)
                    assert row is not None
                    if row.published_at is not None:
                        row.published_at = None
                        session.add(row)
                        again += 1
                await session.commit()
            assert again > 0
            await _stage(outbox, relay, after)

            async def everything_processed() -> bool:
                return await _count(sessions, ProcessedEvent) == len(events)

            await eventually(everything_processed, within=90, what="every event processed")

            async def nothing_pending() -> bool:
                # Claimed and not yet recorded ("sending") is pending too: with the consumer's
                # lanes the last events' messages are claimed together and sent one by one.
                unsent = col(Delivery.status).in_((*PENDING_STATUSES, SENDING))
                return await _count(sessions, Delivery, unsent) == 0

            await eventually(nothing_pending, within=60, what="every message sent")
            await relay.stop()

            # Nothing lost, nothing twice: in the stream, in the handler, on the channels.
            assert await _count(outbox, OutboxEvent, col(OutboxEvent.published_at).is_(None)) == 0
            stored = await read_all(js, public_filter(desa=PAMANUKAN))
            stored_ids = [CloudEvent.from_message(m.headers, m.data).id for m in stored]
            assert sorted(stored_ids) == sorted(e.id for _, e in events)
            async with sessions() as session:
                processed = (await session.exec(select(ProcessedEvent.event_id))).all()
                assert sorted(processed) == sorted(e.id for _, e in events)
                notes = (await session.exec(select(Notification))).all()
                deliveries = (await session.exec(select(Delivery))).all()
                attempts = (await session.exec(select(DeliveryAttempt))).all()
                sent = (await session.exec(select(DevMessage))).all()
            # Every event told its people in-app exactly once.
            assert len({n.event_id for n in notes}) == len(events)
            assert len(notes) == len({(n.event_id, n.recipient) for n in notes})
            # Every resident message went out exactly once.
            delivered = [d for d in deliveries if d.status == DELIVERED]
            assert len(delivered) >= len(applications)
            assert {d.event_id for d in delivered} >= {
                e.id for _, e in events if e.name == APPLICATION_REVISION_REQUESTED
            }
            assert len(sent) == len(delivered)
            assert sorted(a.delivery_id for a in attempts if a.outcome == DELIVERED) == sorted(
                d.id for d in delivered if d.id is not None
            )
    finally:
        await relay.stop()
        await publisher.close()
        server.close()
        await outbox_engine.dispose()


async def test_poison_messages_are_dead_lettered_and_the_rest_keep_flowing(
    data_dir: Path, nats_url: str, peers: Peers
) -> None:
    await reset_nats(nats_url)
    good = [f"app-good-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    failing = f"app-failing-{uuid.uuid4().hex[:6]}"
    peers.intake.add_resident(RESIDENT_ID, RESIDENT_PHONE, failing)
    # Intake answers UNAVAILABLE for as long as this test needs: the resident's revision
    # request can never be planned, while the Kasi's steps need only the directory.
    peers.intake.unavailable_next = 10**6

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        async with notification_service(
            data_dir, nats_url, peers, nats_max_deliver=3, nats_retry_delays=[0.1]
        ) as runtime:
            # Declared at start with the configured limits (not left to a subscribe's defaults).
            declared = await js.consumer_info(PUBLIC_STREAM, EVENTS_DURABLE)
            assert declared.config.max_deliver == 3
            assert declared.config.ack_wait == 30.0
            assert declared.config.ack_policy == AckPolicy.EXPLICIT
            assert not declared.config.backoff
            steps = [
                application_event(
                    APPLICATION_STEP_ASSIGNED, application_id=a, step_role="kasi_pemerintahan"
                )
                for a in good
            ]
            exhausted_subject, exhausted = application_event(
                APPLICATION_REVISION_REQUESTED, application_id=failing, decision="revise",
                status="revision_requested", step_role="kasi_pemerintahan",
            )  # fmt: skip
            wrong_subject, wrong = application_event(APPLICATION_STEP_ASSIGNED)
            wrong = CloudEvent(
                id=wrong.id, source=wrong.source, type=wrong.type,
                data={**wrong.data, "step_index": "langkah satu"},  # not an int32
            )  # fmt: skip

            raw = f"\x00 bukan CloudEvent {uuid.uuid4()}".encode()
            await publish(js, *steps[0])
            await js.publish(wrong_subject, raw, headers={"Nats-Msg-Id": uuid.uuid4().hex})
            await js.publish(wrong_subject, wrong.body(), headers=wrong.headers())
            await publish(js, exhausted_subject, exhausted)
            for subject, event in steps[1:]:
                await publish(js, subject, event)

            async def three_dead_letters() -> list[Msg] | None:
                # The stream is shared with other tests: only this test's messages count.
                found = [
                    m
                    for m in await dead_letters_of(js, PUBLIC_STREAM, EVENTS_DURABLE)
                    if m.data == raw or (m.headers or {}).get("ce-id") in (wrong.id, exhausted.id)
                ]
                return found if len(found) >= 3 else None

            letters: list[Msg] = await eventually(three_dead_letters, within=60)

            async def good_ones_processed() -> bool:
                ids = {e.id for _, e in steps}
                async with runtime.sessions() as session:
                    done = set(
                        (
                            await session.exec(
                                select(ProcessedEvent.event_id).where(
                                    col(ProcessedEvent.event_id).in_(ids)
                                )
                            )
                        ).all()
                    )
                return done == ids

            await eventually(good_ones_processed, what="the good events")
            async with runtime.sessions() as session:
                assert await session.get(ProcessedEvent, exhausted.id) is None
    finally:
        peers.intake.unavailable_next = 0
        await nc.close()

    assert len(letters) == 3
    by_id = {}
    for letter in letters:
        assert letter.headers is not None
        by_id[letter.headers.get("ce-id", "")] = letter
    raw_letter = by_id.pop("")
    assert raw_letter.data == raw
    assert raw_letter.headers is not None and raw_letter.headers[dl.REASON] == dl.TERMINATED
    wrong_letter = by_id[wrong.id]
    assert wrong_letter.headers is not None
    assert wrong_letter.headers[dl.REASON] == dl.TERMINATED
    assert wrong_letter.data == wrong.body()
    exhausted_letter = by_id[exhausted.id]
    assert exhausted_letter.headers is not None
    assert exhausted_letter.headers[dl.REASON] == dl.MAX_DELIVERIES
    assert exhausted_letter.headers[dl.DELIVERIES] == "3"
    assert exhausted_letter.headers[dl.SUBJECT] == exhausted_subject
    assert exhausted_letter.data == exhausted.body()
