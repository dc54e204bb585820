"""Two outbox relays (two replicas of a service) on one PostgreSQL database: each event is
published by exactly one of them, because a relay claims its batch `FOR UPDATE SKIP LOCKED`."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from common.events import CloudEvent, public_filter, public_subject
from common.outbox import OutboxEvent, OutboxRelay, stage_event
from tests.common.nats_helpers import read_all
from tests.common.test_messaging import an_event, unique_desa
from tests.support.postgres import PostgresDatabases

EVENTS = 120
BATCH = 10


@pytest.fixture
async def two_replicas(
    postgres: PostgresDatabases,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]]:
    """Two engines (two processes' connection pools) on one fresh database."""
    url = await postgres.create(f"outbox_{uuid.uuid4().hex[:6]}")
    engines = [create_engine(url), create_engine(url)]
    await create_tables(engines[0], [OutboxEvent])
    try:
        yield session_factory(engines[0]), session_factory(engines[1])
    finally:
        for engine in engines:
            await engine.dispose()


async def _drain(relay: OutboxRelay, published: list[int]) -> None:
    while True:
        count = await relay.publish_pending(BATCH)
        published.append(count)
        if count == 0:
            return
        await asyncio.sleep(0)  # let the other relay's pass interleave with this one's


async def test_two_relays_never_publish_the_same_row(
    two_replicas: tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]],
    js: JetStreamContext,
) -> None:
    first, second = two_replicas
    desa = unique_desa()
    events: list[CloudEvent] = [an_event(desa) for _ in range(EVENTS)]
    async with first() as session:
        for event in events:
            await stage_event(session, public_subject(desa, event.name), event)
        await session.commit()

    counts: tuple[list[int], list[int]] = ([], [])
    await asyncio.gather(
        _drain(OutboxRelay(first, js), counts[0]),
        _drain(OutboxRelay(second, js), counts[1]),
    )

    # Without the claim both relays read the same oldest rows and both count them as theirs
    # (the stream would only drop the second copy): the sum would exceed the rows.
    assert sum(counts[0]) + sum(counts[1]) == EVENTS, counts
    assert sum(counts[0]) > 0 and sum(counts[1]) > 0, counts  # both took part
    async with second() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    assert len(rows) == EVENTS and all(r.published_at is not None for r in rows)
    stored = await read_all(js, public_filter(desa=desa))
    assert sorted(CloudEvent.from_message(m.headers, m.data).id for m in stored) == sorted(
        e.id for e in events
    )
