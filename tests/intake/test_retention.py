"""Retention of attachments (issue 19 item 6) across a clock jump: the job is run with an
injected `now` before and after the kabupaten's period. Before it nothing is deleted; after it
the ended application's files and rows are gone and its timeline says so; a second run changes
nothing; a running application's attachments, however old, are untouched; another kabupaten's
longer period holds; the log carries no personal data."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from common.domain import ApplicationStatus
from services.intake.attachments import attachment_path
from services.intake.config import Settings
from services.intake.models import (
    TABLES,
    Attachment,
    LetterApplication,
    Resident,
    TimelineEntry,
)
from services.intake.retention import DELETED_EVENT, Purged, purge_attachments
from services.intake.web.timeline import timeline_item

PAMANUKAN = "32.13.11.2004"  # Subang: 30 days here
ELSEWHERE = "32.14.01.2001"  # another kabupaten: the default, 365 days
ENDED = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
NIK = "3213115708900001"
FILENAME = "ktp-ani-suryani.jpg"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await create_tables(engine, TABLES)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        intake_attachment_retention_days={"32.13": 30},
        intake_attachment_default_retention_days=365,
    )


async def _application(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    resident: Resident,
    status: ApplicationStatus,
    desa_code: str = PAMANUKAN,
) -> tuple[str, Path]:
    """An application (created long ago) with one attachment on disk; an ended one reached
    its status at ENDED, as the workflow recorded it."""
    async with sessions() as session:
        app = LetterApplication(
            resident_id=resident.id,
            desa_code=desa_code,
            letter_type="SKD",
            purpose="x",
            fields_json="{}",
            status=status,
            created_at=ENDED - timedelta(days=400),
            submitted_at=ENDED - timedelta(days=400),
        )
        session.add(app)
        await session.flush()
        attachment = Attachment(
            application_id=app.id,
            kind="KTP",
            content_type="image/jpeg",
            size_bytes=3,
            sha256="x",
            filename=FILENAME,
        )
        session.add(attachment)
        session.add(
            TimelineEntry(application_id=app.id, sequence=1, at=ENDED, event="x", status=status)
        )
        await session.commit()
    path = attachment_path(settings.attachments_dir, app.id, attachment.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"abc")
    return app.id, path


async def _attachments(sessions: async_sessionmaker[AsyncSession], app_id: str) -> int:
    async with sessions() as session:
        rows = await session.exec(select(Attachment).where(Attachment.application_id == app_id))
        return len(rows.all())


async def test_retention_across_a_clock_jump(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with sessions() as session:
        resident = Resident(nik=NIK, phone="6281234567890")
        session.add(resident)
        await session.commit()
    issued, issued_file = await _application(sessions, settings, resident, ApplicationStatus.ISSUED)
    rejected, rejected_file = await _application(
        sessions, settings, resident, ApplicationStatus.REJECTED
    )
    running, running_file = await _application(
        sessions, settings, resident, ApplicationStatus.IN_REVIEW
    )
    waiting, waiting_file = await _application(
        sessions, settings, resident, ApplicationStatus.REVISION_REQUESTED
    )
    far, far_file = await _application(
        sessions, settings, resident, ApplicationStatus.ISSUED, ELSEWHERE
    )
    caplog.set_level(logging.INFO, logger="services.intake.retention")

    before = await purge_attachments(sessions, settings, ENDED + timedelta(days=30, seconds=-1))
    assert before == Purged(0, 0)
    assert all(p.exists() for p in (issued_file, rejected_file, running_file, far_file))

    after = await purge_attachments(sessions, settings, ENDED + timedelta(days=30))
    assert after == Purged(2, 2)
    for gone, path in ((issued, issued_file), (rejected, rejected_file)):
        assert not path.exists() and not path.parent.exists()
        assert await _attachments(sessions, gone) == 0
    for kept, path in ((running, running_file), (waiting, waiting_file), (far, far_file)):
        assert path.exists() and await _attachments(sessions, kept) == 1
    async with sessions() as session:
        marks = await session.exec(
            select(TimelineEntry).where(TimelineEntry.event == DELETED_EVENT)
        )
        found = list(marks.all())
        assert sorted(m.application_id for m in found) == sorted([issued, rejected])
        record = await session.get(LetterApplication, issued)
        assert record is not None  # the record stays
        # The resident's timeline says why the files are gone.
        mark = next(m for m in found if m.application_id == issued)
        assert timeline_item(mark, record).title == (
            "Berkas syarat dihapus karena masa simpannya berakhir"
        )

    again = await purge_attachments(sessions, settings, ENDED + timedelta(days=31))
    assert again == Purged(0, 0)
    async with sessions() as session:
        marks = await session.exec(
            select(TimelineEntry).where(TimelineEntry.event == DELETED_EVENT)
        )
        assert len(marks.all()) == 2  # nothing written twice

    # The other kabupaten's default period, a year on; the running ones still untouched.
    later = await purge_attachments(sessions, settings, ENDED + timedelta(days=365))
    assert later == Purged(1, 1) and not far_file.exists()
    assert running_file.exists() and waiting_file.exists()

    logged = caplog.text
    assert "deleted 1 attachments of application" in logged
    for personal in (NIK, FILENAME, "6281234567890"):
        assert personal not in logged
