import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from services.signing.config import Settings
from services.signing.models import TABLES, Letter
from services.signing.numbering import (
    SEQUENCE_PLACEHOLDER,
    InvalidNumberFormat,
    LetterNumber,
    allocate_number,
    check_number_format,
    format_number,
    format_placeholder,
)
from services.signing.runtime import open_runtime
from tests.signing.conftest import (
    PAMANUKAN,
    RANCASARI,
    RunningSigning,
    make_settings,
    skd_request,
)
from tests.signing.numbering_worker import SHARED_APPLICATIONS
from tests.signing.postgres import fresh_database

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
    dotted = LetterNumber("400.12.2", 7, PAMANUKAN, 11, 2026)
    assert format_number(dotted) == "400.12.2/007/32.13.11.2004/XI/2026"


def test_desa_formats() -> None:
    n = LetterNumber("500.2.2", 7, PAMANUKAN, 3, 2026)
    assert format_number(n, "{kode}/{seq}/PEM/{tahun}") == "500.2.2/7/PEM/2026"
    fmt = "{seq:04d}/{jenis}/{kode}/{desa_code}/{bulan}.{bulan_romawi}/{tahun}"
    check_number_format(fmt)
    assert format_number(n, fmt, "SKU") == "0007/SKU/500.2.2/32.13.11.2004/03.III/2026"
    at = datetime(2026, 3, 31, 18, 0, tzinfo=UTC)  # already April in WIB
    assert format_placeholder(None, "400.9", PAMANUKAN, at) == (
        f"400.9/{SEQUENCE_PLACEHOLDER}/32.13.11.2004/IV/2026"
    )
    assert format_placeholder(fmt, "400.9", PAMANUKAN, at, "SKTM") == (
        f"{SEQUENCE_PLACEHOLDER}/SKTM/400.9/32.13.11.2004/04.IV/2026"
    )


@pytest.mark.parametrize(
    ("fmt", "message_part"),
    [
        ("{kode}/{tahun}", "{seq}"),
        ("{seq}/{tahun}", "{kode}"),
        ("{kode}/{seq}", "{tahun}"),
        ("{kode}/{seq}/{nama}/{tahun}", "{nama}"),
        ("{kode}/{seq:>5}/{tahun}", "tidak didukung"),
        ("{kode!r}/{seq}/{tahun}", "tidak didukung"),
        ("{kode}/{seq}/{tahun", "tidak valid"),
        ("{kode}/{seq}/{tahun.real}", "tidak dikenal"),
    ],
)
def test_unusable_formats_are_refused_in_indonesian(fmt: str, message_part: str) -> None:
    with pytest.raises(InvalidNumberFormat) as exc:
        check_number_format(fmt)
    assert message_part in str(exc.value)


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
            [
                sys.executable,
                "-m",
                "tests.signing.numbering_worker",
                "numbers",
                url,
                PAMANUKAN,
                "60",
            ],
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


WORKERS = 3


def _run_workers(settings: Settings, per_worker: int, in_flight: int) -> list[list[object]]:
    """Start the workers, let them issue together, and collect what each got."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.signing.numbering_worker",
                "letters",
                settings.model_dump_json(),
                f"w{i}",
                str(per_worker),
                str(in_flight),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(WORKERS)
    ]
    rows: list[list[object]] = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            assert proc.returncode == 0
            rows.extend(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return rows


@asynccontextmanager
async def _database(backend: str, data_dir: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{data_dir / 'signing-shared.db'}"
    else:
        async with fresh_database("i4_numbering") as url:
            yield url


# PostgreSQL is the production database: hundreds of letters, as many in flight per process as
# the connection pool serves (5 + 10; more would only time out waiting for a connection). SQLite
# (dev) proves the same with fewer: its writers queue on one file lock, and with a dozen in flight
# per process a loaded machine kept some waiting past SQLite's busy timeout ("database is
# locked"), which says nothing about numbering.
@pytest.mark.parametrize(
    ("backend", "per_worker", "in_flight"), [("postgresql", 100, 12), ("sqlite", 30, 2)]
)
async def test_processes_issuing_hundreds_at_once_leave_no_duplicate_and_no_gap(
    backend: str, per_worker: int, in_flight: int, data_dir: Path, nats_url: str
) -> None:
    async with _database(backend, data_dir) as url:
        settings = make_settings(data_dir, nats_url, signing_database_url=url)
        async with open_runtime(settings):  # PKI, secrets, tables and desa profiles, once
            pass
        rows = await asyncio.to_thread(_run_workers, settings, per_worker, in_flight)

        # Each application has one letter, whichever process asked and how often.
        by_application: dict[str, set[tuple[object, ...]]] = {}
        for application_id, letter_id, number, _kode, _seq in rows:
            by_application.setdefault(str(application_id), set()).add((letter_id, number))
        assert len(by_application) == WORKERS * per_worker + SHARED_APPLICATIONS
        assert all(len(answers) == 1 for answers in by_application.values())

        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                letters = (await session.exec(select(Letter))).all()
        finally:
            await engine.dispose()
        assert len(letters) == len(by_application)
        assert all(letter.status == "valid" and letter.sha256 for letter in letters)
        assert len({(x.desa_code, x.number) for x in letters}) == len(letters)
        series: dict[tuple[str, str, int], list[int]] = {}
        for x in letters:
            series.setdefault((x.desa_code, x.kode_klasifikasi, x.year), []).append(x.sequence)
        # Two desa x two kode klasifikasi (SKD 400.12.2, SKU 500.2.2), each counting 1..n.
        assert len(series) == 4
        for key, sequences in series.items():
            assert sorted(sequences) == list(range(1, len(sequences) + 1)), key
