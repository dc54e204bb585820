"""An application's state and timeline as the resident reads them: plain Indonesian, no codes."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from common.db import as_utc
from common.domain import ApplicationStatus, DecidedAs, role_label
from common.domain import resident_wording as say
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
from common.wib import wib_datetime
from services.intake.api.schemas import SIGNING_BLOCKED_TEXT
from services.intake.models import LetterApplication, TimelineEntry
from services.intake.retention import DELETED_EVENT as ATTACHMENTS_DELETED
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
    reason: str = ""  # the officer's reason, where the title does not quote it already
    reason_label: str = ""
    deadline: datetime | None = None
    deadline_label: str = ""
    by: str = ""  # who decided, e.g. "Plt. Sekretaris Desa"


def _until(deadline: datetime | None) -> str:
    return wib_datetime(as_utc(deadline)) if deadline is not None else say.NO_DEADLINE


def _who(role: str, decided_as: str = "") -> str:
    name = role_label(role) if role else "petugas desa"
    if decided_as == DecidedAs.PLT:
        return f"Plt. {name}"
    if decided_as == DecidedAs.SUPERVISOR:
        return f"{name} (atasan)"
    return name


def timeline_item(entry: TimelineEntry, application: LetterApplication) -> TimelineItem:
    """One entry of intake's timeline in words; where the resident got a message about it, the
    same line the message carries (common.domain.resident_wording)."""
    by = _who(entry.actor_role or entry.step_role or "", entry.decided_as)
    step = role_label(entry.step_role) if entry.step_role else "petugas desa"
    event = entry.event
    if event == APPLICATION_SUBMITTED:
        number = application.number
        title = say.SUBMITTED.format(number=number) if number else "Permohonan diajukan"
        return TimelineItem(entry.at, title)
    if event == APPLICATION_STEP_ASSIGNED:
        signing = entry.status == ApplicationStatus.AWAITING_SIGNATURE
        return TimelineItem(
            entry.at,
            say.AWAITING_SIGNATURE.format(role=step, deadline=_until(entry.deadline))
            if signing
            else say.STEP_REACHED.format(role=step, deadline=_until(entry.deadline)),
        )
    if event == APPLICATION_DECIDED:
        return TimelineItem(entry.at, say.APPROVED.format(role=by))
    if event == APPLICATION_REVISION_REQUESTED:
        return TimelineItem(
            entry.at,
            say.REVISION.format(reason=say.reason_text(entry.reason)),
            deadline=entry.deadline,
            deadline_label=f"{say.RESUBMIT_BUTTON} paling lambat",
            by=by,
        )
    if event == APPLICATION_RESUBMITTED:
        return TimelineItem(entry.at, say.RESUBMITTED)
    if event == APPLICATION_REJECTED:
        return TimelineItem(
            entry.at, say.REJECTED.format(reason=say.reason_text(entry.reason)), by=by
        )
    if event == APPLICATION_REMINDED:
        return TimelineItem(entry.at, f"Pengingat dikirim kepada {step}")
    if event == APPLICATION_ESCALATED:
        return TimelineItem(entry.at, say.ESCALATED.format(role=step))
    if event == APPLICATION_CANCELLED:
        return TimelineItem(entry.at, say.CANCELLED)
    if event == APPLICATION_EXPIRED:
        return TimelineItem(entry.at, say.EXPIRED)
    if event == APPLICATION_SIGNING_BLOCKED:
        return TimelineItem(entry.at, SIGNING_BLOCKED_TEXT)
    if event == LETTER_ISSUED:
        if application.letter_number:
            return TimelineItem(
                entry.at, say.ISSUED.format(letter_number=application.letter_number)
            )
        return TimelineItem(entry.at, "Surat terbit dan sudah ditandatangani secara elektronik")
    if event == LETTER_REVOKED:
        revoked = say.REVOKED.format(letter_number=application.letter_number or "-")
        return TimelineItem(entry.at, revoked, reason=entry.reason, reason_label="Keterangan")
    if event == ATTACHMENTS_DELETED:  # the retention job (retention.py)
        return TimelineItem(entry.at, "Berkas syarat dihapus karena masa simpannya berakhir")
    return TimelineItem(entry.at, status_label(entry.status))


@dataclass(frozen=True)
class WhereNow:
    """What the application's page leads with: where it is and what the resident does next."""

    lines: tuple[str, ...]  # where it is, in the words the resident's messages use
    next_step: str  # what the resident must do now ("" when the page's own buttons say it)


_WAIT = "Tidak ada. Kami kabari lewat WhatsApp/SMS di setiap tahap."


def where_now(application: LetterApplication, timeline: Sequence[TimelineEntry]) -> WhereNow:
    """The application's state in words. A status this page does not know yet (the workflow
    may add one) reads as being processed, never as a code."""
    status = application.status
    until = _until(application.current_deadline)
    if status == ApplicationStatus.DRAFT:
        return WhereNow((), "Lengkapi isian, unggah semua syarat, lalu tekan Ajukan.")
    if status == ApplicationStatus.IN_REVIEW:
        lines: list[str] = []
        if timeline and timeline[-1].event == APPLICATION_ESCALATED:
            lines.append(say.ESCALATED.format(role=_step_of(timeline[-1])))
        if application.current_step_role:
            role = role_label(application.current_step_role)
            lines.append(say.STEP_REACHED.format(role=role, deadline=until))
        else:  # submitted; the workflow has not reported its first step yet
            lines.append(say.SUBMITTED.format(number=application.number or "-"))
        return WhereNow(tuple(lines), _WAIT)
    if status == ApplicationStatus.REVISION_REQUESTED:
        return WhereNow(
            (say.REVISION.format(reason=say.reason_text(application.status_reason)),),
            say.REVISION_ACTION.format(deadline=until),
        )
    if status == ApplicationStatus.REJECTED:
        return WhereNow(
            (say.REJECTED.format(reason=say.reason_text(application.status_reason)),),
            "Anda dapat mengajukan permohonan baru, atau datang ke kantor desa untuk bertanya.",
        )
    if status == ApplicationStatus.ISSUED:
        line = say.ISSUED.format(letter_number=application.letter_number or "-")
        return WhereNow((line,), "Unduh surat, lalu cetak.")
    if status == ApplicationStatus.AWAITING_SIGNATURE:
        role = role_label(application.current_step_role or "kades")
        return WhereNow((say.AWAITING_SIGNATURE.format(role=role, deadline=until),), _WAIT)
    if status == ApplicationStatus.SIGNING_BLOCKED:
        return WhereNow((SIGNING_BLOCKED_TEXT,), _WAIT)
    if status == ApplicationStatus.EXPIRED:
        return WhereNow((say.EXPIRED,), "Silakan ajukan permohonan baru bila masih diperlukan.")
    if status == ApplicationStatus.CANCELLED:
        return WhereNow(("Permohonan ini sudah dibatalkan.",), "")
    lines = [status_label(status)]
    if application.current_step_role:
        lines.append(
            say.STEP_REACHED.format(role=role_label(application.current_step_role), deadline=until)
        )
    return WhereNow(tuple(lines), _WAIT)


def _step_of(entry: TimelineEntry) -> str:
    return role_label(entry.step_role) if entry.step_role else "petugas desa"
