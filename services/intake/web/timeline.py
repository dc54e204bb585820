"""An application's state and timeline as the resident reads them: plain Indonesian, no codes."""

from dataclasses import dataclass
from datetime import datetime

from common.domain import ApplicationStatus, DecidedAs, role_label
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REJECTED,
    APPLICATION_REMINDED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
    LETTER_REVOKED,
)
from services.intake.api.schemas import SIGNING_BLOCKED_TEXT
from services.intake.models import TimelineEntry
from services.intake.web.labels import status_label

CONTENT_LABELS = {"image/jpeg": "foto JPEG", "image/png": "gambar PNG", "application/pdf": "PDF"}


def size_label(size: int) -> str:
    """'850 KB', '1,2 MB' (Indonesian decimal comma)."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


def content_label(content_type: str) -> str:
    return CONTENT_LABELS.get(content_type, content_type)


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    title: str
    reason: str = ""  # the officer's reason (revision, rejection)
    reason_label: str = ""
    deadline: datetime | None = None
    deadline_label: str = ""


def _who(role: str, decided_as: str = "") -> str:
    name = role_label(role) if role else "petugas desa"
    if decided_as == DecidedAs.PLT:
        return f"Plt. {name}"
    if decided_as == DecidedAs.SUPERVISOR:
        return f"{name} (atasan)"
    return name


def timeline_item(entry: TimelineEntry) -> TimelineItem:
    """One entry of intake's timeline in words."""
    by = _who(entry.actor_role or entry.step_role or "", entry.decided_as)
    step = role_label(entry.step_role) if entry.step_role else "petugas desa"
    event = entry.event
    if event == APPLICATION_SUBMITTED:
        return TimelineItem(entry.at, "Permohonan diajukan")
    if event == APPLICATION_STEP_ASSIGNED:
        signing = entry.status == ApplicationStatus.AWAITING_SIGNATURE
        return TimelineItem(
            entry.at,
            f"Menunggu tanda tangan {step}" if signing else f"Diperiksa oleh {step}",
            deadline=entry.deadline,
            deadline_label="Paling lambat",
        )
    if event == APPLICATION_DECIDED:
        return TimelineItem(entry.at, f"Disetujui oleh {by}")
    if event == APPLICATION_REVISION_REQUESTED:
        return TimelineItem(
            entry.at,
            f"Dikembalikan untuk perbaikan oleh {by}",
            reason=entry.reason,
            reason_label="Yang perlu diperbaiki",
            deadline=entry.deadline,
            deadline_label="Kirim perbaikan paling lambat",
        )
    if event == APPLICATION_RESUBMITTED:
        return TimelineItem(entry.at, "Perbaikan dikirim ulang")
    if event == APPLICATION_REJECTED:
        return TimelineItem(
            entry.at,
            f"Ditolak oleh {by}",
            reason=entry.reason,
            reason_label="Alasan penolakan",
        )
    if event == APPLICATION_REMINDED:
        return TimelineItem(entry.at, f"Pengingat dikirim kepada {step}")
    if event == APPLICATION_ESCALATED:
        to = role_label(entry.escalated_to_role) if entry.escalated_to_role else "atasan"
        return TimelineItem(entry.at, f"Melewati batas waktu; diteruskan kepada {to}")
    if event == APPLICATION_CANCELLED:
        return TimelineItem(entry.at, "Dibatalkan oleh pemohon")
    if event == APPLICATION_EXPIRED:
        return TimelineItem(entry.at, "Berakhir: perbaikan tidak dikirim sampai batas waktu")
    if event == APPLICATION_SIGNING_BLOCKED:
        return TimelineItem(entry.at, SIGNING_BLOCKED_TEXT)
    if event == LETTER_ISSUED:
        return TimelineItem(entry.at, "Surat terbit dan sudah ditandatangani secara elektronik")
    if event == LETTER_REVOKED:
        return TimelineItem(entry.at, "Surat dicabut oleh Kepala Desa", reason=entry.reason)
    return TimelineItem(entry.at, status_label(entry.status))
