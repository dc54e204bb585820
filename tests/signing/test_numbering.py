import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from services.signing.models import TABLES, Letter
from services.signing.numbering import LetterNumber, allocate_number, format_number
from tests.signing.conftest import PAMANUKAN, RANCASARI, RunningSigning, skd_request

NOV_2026 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.fixture
async def db(data_dir: Path) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    url = f"sqlite+aiosqlite:///{data_dir / 'numbering.db'}"
    engine = create_engine(url)
    await create_tables(engine, TABLES)
    yield url, session_factory(engine)
    await engine.dispose()


async def _take(
    sessions: async_sessionmaker[AsyncSession],
    desa: str,
    at: datetime = NOV_2026,
    kode: str = "470",
) -> LetterNumber:
    async with sessions() as session:
        number = await allocate_number(session, desa, kode, at)
        await session.commit()
        return number


def test_format() -> None:
    n = LetterNumber("470", 1, PAMANUKAN, 11, 2026)
    assert format_number(n) == "470/001/32.13.11.2004/XI/2026"
    assert str(LetterNumber("470", 42, PAMANUKAN, 4, 2027)) == "470/042/32.13.11.2004/IV/2027"
    assert str(LetterNumber("470", 1234, PAMANUKAN, 9, 2027)) == "470/1234/32.13.11.2004/IX/2027"


async def test_month_and_year_are_wib(db: tuple[str, async_sessionmaker[AsyncSession]]) -> None:
    _, sessions = db
    # 31 Dec 2026 18:00 UTC is already 1 Jan 2027 01:00 in WIB: a new year, a new sequence.
    late = await _take(sessions, PAMANUKAN, datetime(2026, 12, 31, 16, 59, tzinfo=UTC))
    early = await _take(sessions, PAMANUKAN, datetime(2026, 12, 31, 18, 0, tzinfo=UTC))
    assert str(late) == "470/001/32.13.11.2004/XII/2026"
    assert str(early) == "470/001/32.13.11.2004/I/2027"


async def test_sequential_per_desa_kode_and_year(
    db: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    _, sessions = db
    assert [(await _take(sessions, PAMANUKAN)).sequence for _ in range(3)] == [1, 2, 3]
    assert (await _take(sessions, RANCASARI)).sequence == 1
    assert (await _take(sessions, PAMANUKAN, kode="140")).sequence == 1
    assert (await _take(sessions, PAMANUKAN, datetime(2027, 2, 1, tzinfo=UTC))).sequence == 1
    assert (await _take(sessions, PAMANUKAN)).sequence == 4


async def test_a_rolled_back_allocation_leaves_no_gap(
    db: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    _, sessions = db
    assert (await _take(sessions, PAMANUKAN)).sequence == 1
    async with sessions() as session:
        assert (await allocate_number(session, PAMANUKAN, "470", NOV_2026)).sequence == 2
        await session.rollback()
    assert (await _take(sessions, PAMANUKAN)).sequence == 2


async def test_concurrent_issues_get_distinct_consecutive_numbers(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    letters = await asyncio.gather(
        *(issuer.issue(skd_request(f"app-{i}")) for i in range(50)),
        issuer.issue(skd_request("other-desa", RANCASARI)),
    )
    pamanukan = [letter for letter in letters if letter.desa_code == PAMANUKAN]
    assert sorted(letter.sequence for letter in pamanukan) == list(range(1, 51))
    assert len({letter.number for letter in pamanukan}) == 50
    assert [letter.sequence for letter in letters if letter.desa_code == RANCASARI] == [1]
    async with signing.runtime.sessions() as session:
        stored = (await session.exec(select(Letter))).all()
    assert len(stored) == 51
    assert all(letter.status == "valid" for letter in stored)


def test_processes_sharing_one_sqlite_file_never_collide(
    db: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    url, _ = db
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.signing.numbering_worker", url, PAMANUKAN, "60"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:  # all three start taking numbers together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        taken: list[int] = []
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0
            taken.extend(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sorted(taken) == list(range(1, 181))
