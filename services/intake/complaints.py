"""Complaints (pengaduan) about the desa's service or one application: UU 25/2009 (the duty to
receive and answer complaints) and Perpres 76/2013 (pengelolaan pengaduan pelayanan publik).
docs/public-duties.md.

A complaint is filed by a signed-in resident or by anyone through the public form. It gets a
tracking number and a secret (shown once; only its hash is kept) and a deadline in working hours
(per kabupaten). Its workflow (`workflows/complaint`) escalates it to the kabupaten when the
deadline passes unanswered. What happens to it is appended to `complaint_entry`: filed, each
staff read, escalated, answered; nothing there is changed or deleted.
"""

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from smartdesa.v1 import events_pb2
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain import Role
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from common.domain.events import COMPLAINT_ANSWERED, COMPLAINT_ESCALATED, COMPLAINT_RECEIVED
from common.events import (
    AreaCodes,
    CloudEvent,
    deterministic_event_id,
    event_type,
    proto_data,
    public_subject,
)
from common.outbox import stage_event
from common.temporal_client import TemporalConnection
from common.wilayah import all_desa
from services.intake.duties_models import Complaint, ComplaintEntry
from services.intake.file_safety import InvalidAttachment, check_content, make_safe
from workflows.approval.days_off import national_days_off
from workflows.approval.models import WorkingCalendar
from workflows.approval.working_time import add_working_hours, parse_days_off
from workflows.complaint import task_queue
from workflows.complaint.client import ComplaintWorkflowUnavailable, start_complaint
from workflows.complaint.models import ComplaintInput

log = logging.getLogger(__name__)

SUBJECTS = {"layanan": "Pelayanan desa", "permohonan": "Satu permohonan surat"}
STATUS_LABELS = {
    "diterima": "Diterima, menunggu jawaban desa",
    "diteruskan": "Diteruskan ke kabupaten (melewati batas waktu)",
    "dijawab": "Sudah dijawab",
}
BODY_MIN, BODY_MAX = 20, 4000
ANSWER_MIN, ANSWER_MAX = 10, 4000
REFERENCE_MAX = 40
# Who in a desa answers complaints: the operator at the desk, the Sekdes and the Kades.
ANSWERING_ROLES = (Role.OPERATOR, Role.SEKDES, Role.KADES)
# Default deadline: 5 working days, the shortest of the usual complaint-handling promises; a
# kabupaten sets its own (intake_complaint_deadline_working_hours).
DEFAULT_DEADLINE_WORKING_HOURS = 40

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the desk
NOT_FOUND = "Pengaduan tidak ditemukan. Periksa nomor dan kode rahasianya."


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().upper().encode()).hexdigest()


def kabupaten_of(desa_code: str) -> str:
    return ".".join(desa_code.split(".")[:2])


def complaint_deadline(filed_at: datetime, working_hours: int) -> datetime:
    """`working_hours` after filing, Monday-Friday 08:00-16:00 WIB without national holidays
    and cuti bersama (the approval workflow's working time; a desa's own days off are not the
    kabupaten's, so they do not count here)."""
    days_off = parse_days_off(national_days_off(filed_at.year))
    return add_working_hours(filed_at, working_hours, WorkingCalendar(), days_off)


EVENT_SOURCE = "/services/intake"


def _rfc3339(value: datetime) -> str:
    return as_utc(value).isoformat().replace("+00:00", "Z")


async def _stage(
    session: AsyncSession, complaint: Complaint, name: str, at: datetime, answered_by: str = ""
) -> None:
    """The complaint's public event, in the caller's transaction: its id, area, status and
    deadline; never the text, the attachment, the tracking number or who filed it."""
    area = AreaCodes.from_desa(complaint.desa_code)
    data = events_pb2.ComplaintEvent(
        complaint_id=complaint.id,
        desa_code=area.desa,
        kecamatan_code=area.kecamatan,
        kabupaten_code=area.kabupaten,
        status=complaint.status,
        deadline=_rfc3339(complaint.deadline_at),
        answered_by=answered_by,
    )
    await stage_event(
        session,
        public_subject(complaint.desa_code, name),
        CloudEvent(
            id=deterministic_event_id(complaint.id, name),  # one of each kind per complaint
            source=EVENT_SOURCE,
            type=event_type(name),
            subject=complaint.id,
            time=at,
            data=proto_data(data),
        ),
    )


@dataclass(frozen=True)
class NewComplaint:
    desa_code: str
    subject: str
    body: str
    letter_type: str = ""
    application_reference: str = ""
    resident_id: str | None = None
    attachment: bytes | None = None


@dataclass(frozen=True)
class Filed:
    complaint: Complaint
    secret: str  # shown once to the complainant; only its hash is stored


def check_new(new: NewComplaint) -> NewComplaint:
    errors: dict[str, str] = {}
    if new.desa_code not in all_desa():
        errors["desa"] = "Pilih desa yang dilayani."
    if new.subject not in SUBJECTS:
        errors["perihal"] = "Pilih perihal pengaduan."
    body = new.body.strip()
    if not BODY_MIN <= len(body) <= BODY_MAX:
        errors["isi"] = f"Tulis pengaduan Anda ({BODY_MIN} sampai {BODY_MAX} huruf)."
    reference = new.application_reference.strip()
    if len(reference) > REFERENCE_MAX:
        errors["nomor_permohonan"] = "Nomor permohonan terlalu panjang."
    if errors:
        field = next(iter(errors))
        raise Invalid("complaint-invalid", errors[field], field=field, errors=errors)
    return NewComplaint(
        new.desa_code,
        new.subject,
        body,
        new.letter_type.strip()[:16],
        reference,
        new.resident_id,
        new.attachment,
    )


async def file_complaint(
    session: AsyncSession,
    attachments_root: Path,
    new: NewComplaint,
    deadline_hours: int,
    now: datetime | None = None,
) -> Filed:
    """Store the complaint and its first entry (not yet committed: the caller starts its
    workflow, then commits). The attachment is checked as application uploads are."""
    now = now or datetime.now(UTC)
    new = check_new(new)
    safe = None
    if new.attachment:
        try:
            check_content(len(new.attachment), new.attachment[:16])
            safe = await make_safe(new.attachment)
        except InvalidAttachment as exc:
            raise Invalid("attachment-invalid", str(exc), field="lampiran") from exc
    secret = _random(12)
    complaint = Complaint(
        tracking_number=f"ADU-{_random(4)}-{_random(4)}",
        secret_hash=_hash(secret),
        desa_code=new.desa_code,
        kabupaten_code=kabupaten_of(new.desa_code),
        subject=new.subject,
        letter_type=new.letter_type,
        application_reference=new.application_reference,
        body=new.body,
        resident_id=new.resident_id,
        filed_at=now,
        deadline_at=complaint_deadline(now, deadline_hours),
    )
    if safe is not None:
        complaint.attachment_type = safe.content_type
        complaint.attachment_name = "lampiran" + (".pdf" if "pdf" in safe.content_type else "")
        folder = complaint_folder(attachments_root, complaint.id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / complaint.attachment_name).write_bytes(safe.content)
    session.add(complaint)
    session.add(
        ComplaintEntry(
            complaint_id=complaint.id,
            at=now,
            kind="filed",
            actor="pelapor",
            actor_role="pemohon" if new.resident_id else "",
        )
    )
    await _stage(session, complaint, COMPLAINT_RECEIVED, now)
    await session.flush()
    return Filed(complaint, secret)


async def submit_complaint(
    session: AsyncSession,
    temporal: TemporalConnection,
    approval_task_queue: str,
    attachments_root: Path,
    new: NewComplaint,
    deadline_hours: int,
    now: datetime | None = None,
) -> Filed:
    """File a complaint and start its workflow: both or neither. The workflow's id is the
    complaint's, so a start that succeeded before a failed commit finds no complaint at the
    deadline and ends."""
    filed = await file_complaint(session, attachments_root, new, deadline_hours, now)
    complaint = filed.complaint
    try:
        await start_complaint(
            await temporal.client(),
            task_queue(approval_task_queue),
            ComplaintInput(complaint.id, as_utc(complaint.deadline_at).isoformat()),
        )
    except ComplaintWorkflowUnavailable as exc:
        await session.rollback()
        discard_files(attachments_root, complaint)
        raise Unavailable(
            "complaint-unavailable",
            "Pengaduan belum dapat diterima karena layanan sedang sibuk. Silakan kirim lagi "
            "beberapa saat lagi.",
        ) from exc
    await session.commit()
    log.info("complaint %s filed for desa %s", complaint.id, complaint.desa_code)
    return filed


def complaint_folder(root: Path, complaint_id: str) -> Path:
    return root / "pengaduan" / complaint_id


def discard_files(root: Path, complaint: Complaint) -> None:
    """Undo the attachment of a complaint that was not stored after all."""
    if complaint.attachment_name:
        (complaint_folder(root, complaint.id) / complaint.attachment_name).unlink(missing_ok=True)


@dataclass(frozen=True)
class ComplaintView:
    complaint: Complaint
    entries: list[ComplaintEntry]

    @property
    def answer(self) -> ComplaintEntry | None:
        return next((e for e in self.entries if e.kind == "answered"), None)


async def _view(session: AsyncSession, complaint: Complaint) -> ComplaintView:
    entries = await session.exec(
        select(ComplaintEntry)
        .where(ComplaintEntry.complaint_id == complaint.id)
        .order_by(col(ComplaintEntry.id))
    )
    return ComplaintView(complaint, list(entries.all()))


async def track(session: AsyncSession, tracking_number: str, secret: str) -> ComplaintView:
    """The complainant's view by tracking number and secret; either wrong reads as not found."""
    number = tracking_number.strip().upper()
    complaint = (
        await session.exec(select(Complaint).where(Complaint.tracking_number == number))
    ).first()
    expected = complaint.secret_hash if complaint is not None else _hash("-")
    if not hmac.compare_digest(expected, _hash(secret)) or complaint is None:
        raise NotFound("complaint-not-found", NOT_FOUND)
    return await _view(session, complaint)


async def residents_complaints(session: AsyncSession, resident_id: str) -> list[Complaint]:
    rows = await session.exec(
        select(Complaint)
        .where(Complaint.resident_id == resident_id)
        .order_by(col(Complaint.filed_at).desc())
    )
    return list(rows.all())


async def residents_complaint(
    session: AsyncSession, resident_id: str, complaint_id: str
) -> ComplaintView:
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None or complaint.resident_id != resident_id:
        raise NotFound("complaint-not-found", "Pengaduan tidak ditemukan.")
    return await _view(session, complaint)


# --- staff (through verification, gRPC PublicDutiesService) ---------------------------------


@dataclass(frozen=True)
class StaffActor:
    """Who asks, as verification vouches for them (its signed-in staff member)."""

    username: str
    role: str
    desa_code: str  # "" for kabupaten accounts
    kabupaten_code: str


VIEWER_NO_ATTACHMENT = (
    "Lampiran pengaduan hanya dapat diunduh petugas desa dan operator kabupaten setelah "
    "pengaduan diteruskan; Pemantau Kabupaten tidak mengunduhnya."
)


def _is_kabupaten(actor: StaffActor) -> bool:
    return actor.role in (Role.KABUPATEN_OPERATOR, Role.KABUPATEN_VIEWER)


def _may_see(actor: StaffActor, complaint: Complaint) -> bool:
    if _is_kabupaten(actor):
        return bool(actor.kabupaten_code) and complaint.kabupaten_code == actor.kabupaten_code
    return bool(actor.desa_code) and complaint.desa_code == actor.desa_code


def may_answer(actor: StaffActor, complaint: Complaint) -> bool:
    if complaint.status == "dijawab" or not _may_see(actor, complaint):
        return False
    if actor.role == Role.KABUPATEN_OPERATOR:
        return complaint.status == "diteruskan"  # the kabupaten answers what reached it
    return actor.role in ANSWERING_ROLES


async def staff_complaints(session: AsyncSession, actor: StaffActor) -> list[Complaint]:
    """A desa's complaint inbox, or for kabupaten accounts every complaint of the kabupaten
    (escalated ones first). Open ones first, then by deadline."""
    query = select(Complaint)
    if _is_kabupaten(actor):
        if not actor.kabupaten_code:
            raise Forbidden("kabupaten-staff-only", "Akun kabupaten tanpa kode kabupaten.")
        query = query.where(Complaint.kabupaten_code == actor.kabupaten_code)
    elif actor.desa_code:
        query = query.where(Complaint.desa_code == actor.desa_code)
    else:
        raise Forbidden("desa-staff-only", "Fitur ini untuk petugas desa.")
    rows = list((await session.exec(query.order_by(col(Complaint.deadline_at)))).all())
    order = {"diteruskan": 0, "diterima": 1, "dijawab": 2}
    return sorted(rows, key=lambda c: order.get(c.status, 3))


async def read_for_staff(
    session: AsyncSession, actor: StaffActor, complaint_id: str, now: datetime | None = None
) -> ComplaintView:
    """One complaint for a staff member; the read is recorded (who, role, desa, when)."""
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None or not _may_see(actor, complaint):
        raise NotFound("complaint-not-found", "Pengaduan tidak ditemukan.")
    session.add(
        ComplaintEntry(
            complaint_id=complaint.id,
            at=now or datetime.now(UTC),
            kind="seen",
            actor=actor.username,
            actor_role=actor.role,
            actor_desa=actor.desa_code,
        )
    )
    await session.commit()
    return await _view(session, complaint)


@dataclass(frozen=True)
class AttachmentFile:
    content: bytes
    content_type: str
    file_name: str
    tracking_number: str


async def attachment_for_staff(
    session: AsyncSession,
    root: Path,
    actor: StaffActor,
    complaint_id: str,
    now: datetime | None = None,
) -> AttachmentFile:
    """The complaint's attachment for its desa's staff, and for the kabupaten operator only
    once the complaint reached it (escalated); the read is added to the complaint's record.
    The DPMD viewer sees the complaint but never downloads what the public sent: it answers
    nothing, so it has no need for the file (UU 27/2022: only as much as the purpose needs)."""
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None or not _may_see(actor, complaint) or not complaint.attachment_name:
        raise NotFound("complaint-attachment-not-found", "Lampiran pengaduan tidak ditemukan.")
    if actor.role == Role.KABUPATEN_VIEWER:
        raise Forbidden("complaint-attachment-operator-only", VIEWER_NO_ATTACHMENT)
    if _is_kabupaten(actor):
        escalated = (
            await session.exec(
                select(ComplaintEntry.id)
                .where(ComplaintEntry.complaint_id == complaint.id)
                .where(ComplaintEntry.kind == "escalated")
            )
        ).first()
        if escalated is None:
            raise Forbidden(
                "complaint-not-escalated",
                "Lampiran dibuka kabupaten setelah pengaduan diteruskan ke kabupaten.",
            )
    path = complaint_folder(root, complaint.id) / complaint.attachment_name
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(
            "complaint-attachment-not-found", "Lampiran pengaduan tidak ditemukan."
        ) from exc
    session.add(
        ComplaintEntry(
            complaint_id=complaint.id,
            at=now or datetime.now(UTC),
            kind="attachment_seen",
            actor=actor.username,
            actor_role=actor.role,
            actor_desa=actor.desa_code,
        )
    )
    await session.commit()
    return AttachmentFile(
        content, complaint.attachment_type, complaint.attachment_name, complaint.tracking_number
    )


async def answer_complaint(
    session: AsyncSession,
    actor: StaffActor,
    complaint_id: str,
    text: str,
    now: datetime | None = None,
) -> ComplaintView:
    """The one answer the complainant reads. The caller then tells the workflow."""
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None or not _may_see(actor, complaint):
        raise NotFound("complaint-not-found", "Pengaduan tidak ditemukan.")
    if complaint.status == "dijawab":
        raise Conflict("complaint-answered", "Pengaduan ini sudah dijawab.")
    if not may_answer(actor, complaint):
        raise Forbidden(
            "complaint-not-yours",
            "Pengaduan dijawab oleh operator, Sekdes atau Kades desa; oleh kabupaten bila "
            "sudah diteruskan.",
        )
    text = text.strip()
    if not ANSWER_MIN <= len(text) <= ANSWER_MAX:
        raise Invalid(
            "answer-invalid",
            f"Tulis jawaban ({ANSWER_MIN} sampai {ANSWER_MAX} huruf).",
            field="jawaban",
        )
    # Only an open complaint is answered: a concurrent answer finds the status changed.
    result = await session.exec(
        update(Complaint)
        .where(col(Complaint.id) == complaint.id)
        .where(col(Complaint.status) != "dijawab")
        .values(status="dijawab")
    )
    if result.rowcount != 1:
        await session.rollback()
        raise Conflict("complaint-answered", "Pengaduan ini sudah dijawab.")
    at = now or datetime.now(UTC)
    session.add(
        ComplaintEntry(
            complaint_id=complaint.id,
            at=at,
            kind="answered",
            actor=actor.username,
            actor_role=actor.role,
            actor_desa=actor.desa_code,
            text=text,
        )
    )
    complaint.status = "dijawab"  # as the update above wrote it, for the event
    await _stage(
        session,
        complaint,
        COMPLAINT_ANSWERED,
        at,
        answered_by="kabupaten" if _is_kabupaten(actor) else "desa",
    )
    await session.commit()
    await session.refresh(complaint)
    return await _view(session, complaint)


async def escalate(session: AsyncSession, complaint_id: str, now: datetime | None = None) -> bool:
    """The deadline passed (the workflow's timer): an unanswered complaint goes to the
    kabupaten. Idempotent; False when there was nothing to do."""
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("complaint-not-found", "Pengaduan tidak ditemukan.")
    if complaint.status != "diterima":
        return False
    at = now or datetime.now(UTC)
    complaint.status = "diteruskan"
    session.add(complaint)
    session.add(
        ComplaintEntry(
            complaint_id=complaint.id,
            at=at,
            kind="escalated",
            actor="sistem",
            actor_role=Role.KABUPATEN_OPERATOR,
        )
    )
    await _stage(session, complaint, COMPLAINT_ESCALATED, at)
    await session.commit()
    return True


def overdue(complaint: Complaint) -> bool:
    """Past its deadline unanswered, as the complaint's workflow decided it: its timer fired and
    the escalation was recorded. Not the page's clock against `deadline_at`: the two would
    disagree while the timer's escalation is on its way (a worker restarting, intake briefly
    away), and a page saying "terlambat" of a complaint still in the desa's hands misleads."""
    return complaint.status == "diteruskan"


def entries_for_complainant(entries: Sequence[ComplaintEntry]) -> list[ComplaintEntry]:
    """What the complainant's page lists: not each staff read, only what was done."""
    return [e for e in entries if e.kind not in ("seen", "attachment_seen")]
