"""The transactional outbox and its relay, against real SQLite and a real nats-server."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory, utcnow
from common.domain.events import APPLICATION_DECIDED, APPLICATION_STEP_ASSIGNED
from common.events import CloudEvent, NotPublicData, public_filter, public_subject
from common.messaging import publish
from common.outbox import OutboxEvent, OutboxRelay, stage_event
from tests.common.nats_helpers import read_all
from tests.common.test_messaging import an_event, unique_desa
from tests.support.waiting import eventually


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    await create_tables(engine, [OutboxEvent])
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _stage(
    sessions: async_sessionmaker[AsyncSession], desa: str, *events: CloudEvent
) -> None:
    async with sessions() as session:
        for event in events:
            await stage_event(session, public_subject(desa, event.name), event)
        await session.commit()


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxEvent]:
    async with sessions() as session:
        return list(
            (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))).all()
        )


def _ids(msgs: list[Msg]) -> list[str]:
    return [CloudEvent.from_message(m.headers, m.data).id for m in msgs]


async def test_the_relay_publishes_in_staging_order_and_marks_after_the_ack(
    sessions: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    desa = unique_desa()
    application = uuid.uuid4().hex
    events = [
        an_event(desa, name, key=f"{application}-{i}")
        for i, name in enumerate([APPLICATION_STEP_ASSIGNED, APPLICATION_DECIDED] * 3)
    ]
    await _stage(sessions, desa, *events)
    await _stage(sessions, desa, events[0])  # staged again: still one row
    assert len(await _rows(sessions)) == len(events)

    relay = OutboxRelay(sessions, js, poll_seconds=0.1)
    relay.start()
    try:
        rows = await eventually(lambda: _all_published(sessions), what="every row marked published")
    finally:
        await relay.stop()
    assert [r.id for r in rows] == [e.id for e in events]
    assert _ids(await read_all(js, public_filter(desa=desa))) == [e.id for e in events]


async def _all_published(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxEvent] | None:
    rows = await _rows(sessions)
    return rows if rows and all(r.published_at is not None for r in rows) else None


async def test_a_crash_between_publish_and_mark_publishes_no_second_copy(
    sessions: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """The relay published, then died before marking the row: the next relay publishes the
    same Nats-Msg-Id again, and the stream keeps one copy."""
    desa = unique_desa()
    event = an_event(desa)
    await _stage(sessions, desa, event)
    first = await publish(js, public_subject(desa, event.name), event)  # ...and no mark
    assert not first.duplicate

    relay = OutboxRelay(sessions, js)
    assert await relay.publish_pending() == 1
    (row,) = await _rows(sessions)
    assert row.published_at is not None
    assert _ids(await read_all(js, public_filter(desa=desa))) == [event.id]


async def test_personal_data_on_a_public_subject_is_refused_before_anything_is_written(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    desa = unique_desa()
    event = an_event(desa)
    for extra in ({"nik": "3213111508900001"}, {"nama": "Ani"}, {"phone": "6281234567890"}):
        leaky = CloudEvent(
            id=event.id, source=event.source, type=event.type, data={**event.data, **extra}
        )
        async with sessions() as session:
            with pytest.raises(NotPublicData) as refused:
                await stage_event(session, public_subject(desa, event.name), leaky)
            await session.commit()
        assert next(iter(extra.values())) not in str(refused.value)
    # A wrongly typed field is refused too, without its value in the message.
    async with sessions() as session:
        with pytest.raises(NotPublicData) as refused:
            await stage_event(
                session,
                public_subject(desa, event.name),
                CloudEvent(
                    id=event.id,
                    source=event.source,
                    type=event.type,
                    data={**event.data, "step_index": "3213111508900001"},
                ),
            )
    assert "3213111508900001" not in str(refused.value)
    assert await _rows(sessions) == []


async def test_published_rows_are_pruned_after_their_keep_time(
    sessions: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    desa = unique_desa()
    old, recent, pending = an_event(desa), an_event(desa), an_event(desa)
    await _stage(sessions, desa, old, recent, pending)
    now = utcnow()
    async with sessions() as session:
        for event_id, published_at in ((old.id, now - timedelta(days=8)), (recent.id, now)):
            row = await session.get(OutboxEvent, event_id)
            assert row is not None
            row.published_at = published_at
            session.add(row)
        await session.commit()

    relay = OutboxRelay(sessions, js, keep_published=timedelta(days=7))
    assert await relay.prune(now - timedelta(days=7)) == 1
    assert {r.id for r in await _rows(sessions)} == {recent.id, pending.id}
