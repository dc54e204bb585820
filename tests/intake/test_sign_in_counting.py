"""Sign-in counting on both engines: every window of a code request is counted in one
statement, a NIK's first wrong code is claimed by the insert of its count, and the sign-in
tables are swept at most once a minute."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from common.db import create_engine, session_factory
from common.migrations import upgrade
from services.intake import otp
from services.intake.config import RateLimit
from services.intake.models import SignInGuard, SignInThrottle
from tests.support.postgres import engine_url

NOW = datetime(2026, 12, 7, 10, 0, 30, tzinfo=UTC)
LIMITS = otp.Limits(
    per_phone=(),
    per_nik=(),
    per_client=(),
    overall=(),
    family_per_nik=(),
    family_per_phone=(),
    free_failures=3,
    lock_base=timedelta(seconds=60),
    lock_max=timedelta(hours=1),
    failure_memory=timedelta(days=1),
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await engine_url(request, tmp_path, "intake_sign_in"))
    await upgrade(engine, "intake")
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_every_window_is_counted_and_judged_on_its_own_count(engine: AsyncEngine) -> None:
    minute, hour = RateLimit(count=2, seconds=60), RateLimit(count=3, seconds=3600)
    also_minute = RateLimit(count=3, seconds=60)  # same window length: the same key
    buckets = [("a:60", minute), ("a:3600", hour), ("b:60", minute), ("b:60", also_minute)]
    sessions = session_factory(engine)
    waits: list[list[int]] = []
    async with sessions() as session:
        for _ in range(3):
            waits.append(await otp._count(session, buckets, NOW))
            await session.commit()
    async with sessions() as session:
        rows = {(r.key, r.hits) for r in (await session.exec(select(SignInThrottle))).all()}
    # "b:60" is counted twice a request, as two statements counted it before.
    assert rows == {("a:60", 3), ("a:3600", 3), ("b:60", 6)}
    # 1st request: a:60 1, b:60 1 and 2: none over. 2nd: b:60 3 (> 2) and 4 (> 3): both refuse,
    # 30 s to the minute's end. 3rd: a:60 3 > 2, b:60 5 and 6: three refusals.
    assert waits == [[], [30, 30], [30, 30, 30]]


async def test_a_nik_s_first_wrong_code_is_claimed_by_its_insert(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        for _ in range(3):
            await otp._claim_try(session, LIMITS, "nik-hmac", NOW)
        with pytest.raises(otp.Locked) as locked:
            await otp._claim_try(session, LIMITS, "nik-hmac", NOW)
    async with sessions() as session:
        (guard,) = (await session.exec(select(SignInGuard))).all()
    # The third wrong code locks for the base period, as one count at a time did.
    assert guard.failures == 3
    assert locked.value.retry_after == 60


def test_the_sweep_is_due_once_a_minute() -> None:
    clock = otp.SweepClock()
    assert clock.due(NOW)
    assert not clock.due(NOW + timedelta(seconds=59))
    assert clock.due(NOW + timedelta(seconds=60))
    assert not clock.due(NOW + timedelta(seconds=61))
