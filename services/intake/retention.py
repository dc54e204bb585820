"""Retention of attachments (UU 27/2022 PDP: personal data kept no longer than its purpose
needs; issue 19 item 6).

An application's attachments (the syarat documents: KTP, KK, photos …) are needed while the
application runs and for a period after it ended (a complaint, a question about the letter).
That period is set per kabupaten (`intake_attachment_retention_days`, default
`intake_attachment_default_retention_days`). After it, this job deletes the files and their
rows, and adds one line to the application's timeline ("berkas syarat dihapus") so the resident
sees why they are gone.

What it never touches:
- an application that has not ended (draft, in review, back for revision, awaiting its
  signature, signing blocked): only FINAL_STATUSES are selected, and the status is read again
  in the transaction that deletes;
- the issued letters (signing's register) and the population register (verification): they are
  records, kept by the classification's retention schedule (docs/public-duties.md), and live
  in other services this job cannot reach;
- the application row, its number, its timeline: what was asked and decided stays.

Idempotent: files are removed before their rows (a crash between the two leaves rows whose
files are already gone, and the next run removes them); a run with nothing past its period
changes nothing. Several replicas running it at once are harmless for the same reason.
Logged without personal data: application ids (opaque) and counts only, never file names.

Scheduled as a periodic task of the intake process (`retention_janitor`), not a Temporal
schedule: the data and files are intake's own (its database, its volume), the job is a local
delete that needs no durable state of its own (each run recomputes what is due from the rows),
and a missed run is caught up by the next; a Temporal schedule would add a workflow, an
activity and an RPC into intake only to call this same function.
"""

import asyncio
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.background import BacklogLoop
from common.db import as_utc, utcnow
from common.domain.statuses import FINAL_STATUSES
from services.intake.attachments import attachment_dir
from services.intake.config import Settings, attachment_retention_days
from services.intake.models import Attachment, LetterApplication, TimelineEntry, UploadSession

log = logging.getLogger(__name__)

DELETED_EVENT = "attachments.deleted"
# Deleted in batches so one run never holds a long transaction.
BATCH = 200


@dataclass(frozen=True)
class Purged:
    applications: int
    files: int


def kabupaten_of(desa_code: str) -> str:
    return ".".join(desa_code.split(".")[:2])


def describe(settings: Settings) -> str:
    """What the resident is told about how long their files are kept."""
    days = settings.intake_attachment_default_retention_days
    return (
        f"Berkas syarat disimpan {days} hari setelah permohonan selesai (ketentuan kabupaten "
        "dapat berbeda), lalu dihapus. Surat yang terbit dan data penduduk disimpan sebagai "
        "arsip desa sesuai jadwal retensi arsip."
    )


async def _ended_at(session: AsyncSession, application: LetterApplication) -> datetime:
    """When the application reached its final status: the timeline's first entry with it
    (the workflow's record), else when it was last submitted or made."""
    first_final = await session.exec(
        select(func.min(TimelineEntry.at)).where(
            TimelineEntry.application_id == application.id,
            TimelineEntry.status == application.status,
        )
    )
    at = first_final.one()
    return as_utc(at or application.submitted_at or application.created_at)


async def _due(session: AsyncSession, settings: Settings, now: datetime) -> list[tuple[str, str]]:
    """(application id, status) of ended applications that still have attachments and whose
    period is over."""
    candidates = await session.exec(
        select(LetterApplication)
        .where(
            col(LetterApplication.status).in_([str(s) for s in FINAL_STATUSES]),
            col(LetterApplication.id).in_(select(Attachment.application_id).distinct()),
        )
        .order_by(col(LetterApplication.created_at))
    )
    due: list[tuple[str, str]] = []
    for application in candidates.all():
        days = attachment_retention_days(settings, kabupaten_of(application.desa_code))
        if await _ended_at(session, application) + timedelta(days=days) <= now:
            due.append((application.id, application.status))
            if len(due) >= BATCH:
                break
    return due


def _remove_files(root: Path, application_id: str) -> None:
    # The application's folder holds only its attachments and unfinished upload parts.
    shutil.rmtree(attachment_dir(root, application_id), ignore_errors=True)


async def purge_attachments(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime | None = None
) -> Purged:
    """One run: deletes the attachments (files, then rows) of every ended application whose
    kabupaten's period is over at `now` (injected by tests to jump the clock)."""
    now = as_utc(now or utcnow())
    root = settings.attachments_dir
    applications = files = 0
    async with sessions() as session:
        due = await _due(session, settings, now)
    for application_id, status in due:
        await asyncio.to_thread(_remove_files, root, application_id)
        async with sessions() as session:
            application = await session.get(LetterApplication, application_id)
            # Read again: only an ended application, in the status it was selected in.
            if application is None or application.status != status:
                continue
            rows = await session.exec(
                select(Attachment.id).where(Attachment.application_id == application_id)
            )
            count = len(rows.all())
            if count == 0:
                continue
            await session.exec(
                delete(Attachment).where(col(Attachment.application_id) == application_id)
            )
            await session.exec(
                delete(UploadSession).where(col(UploadSession.application_id) == application_id)
            )
            session.add(
                TimelineEntry(
                    application_id=application_id,
                    at=now,
                    event=DELETED_EVENT,
                    status=application.status,
                    reason="Berkas syarat dihapus karena masa simpannya berakhir.",
                )
            )
            await session.commit()
        applications += 1
        files += count
        log.info("retention: deleted %d attachments of application %s", count, application_id)
    if applications:
        log.info("retention run: %d applications, %d attachments deleted", applications, files)
    return Purged(applications, files)


def retention_janitor(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> BacklogLoop:
    """Runs the job every `intake_retention_interval_seconds` while the service runs, and
    again at once when a run filled a batch."""

    async def run() -> bool:
        purged = await purge_attachments(sessions, settings)
        return purged.applications >= BATCH

    return BacklogLoop("retention", run, settings.intake_retention_interval_seconds)
