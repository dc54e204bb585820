"""The residents' access log (UU 27/2022 PDP, issue 19 item 5): every time a staff member reads
a resident's personal data, one `PersonalDataAccess` row says which role of which desa (or
kabupaten) read what, when, and for which application (or "daftar penduduk").

Why here, in verification: every staff read of personal data happens in this service, where
staff sign in, so the reader's role and office are known for certain at the moment of the read
(a role change ends the staff member's sessions, so the account row is the role they read
with). The register's own reads happen here too. Intake, which shows the resident their data,
asks for the log over PopulationService.ListDataAccess; it never receives a username.

Append-only: this module only inserts. Rows name the resident by the application id or the
register record id read, never by NIK or name, so the log itself spreads no personal data.

Two ways in:
- `record(...)` at each read path that reads applications from intake (task detail, the
  attachment download, the letter preview, the inbox's applicant names, the walk-in result);
- register reads (`population.register.log_reads`) add a row per resident read for the staff
  member the request is acting for (`acting`, set by the staff sign-in dependency), so every
  register page and API read is covered without each route passing the staff member along.
"""

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain import KABUPATEN_ROLES
from services.verification.models import PersonalDataAccess, Staff

KIND_REGISTER = "register"
KIND_APPLICATION = "application"
KIND_ATTACHMENT = "attachment"
KIND_LETTER_PREVIEW = "letter_preview"
KIND_INBOX = "inbox"
KIND_WALK_IN = "walk_in"
# A complaint's text (and its attachment): personal data of the complainant, shown to them in
# "Data saya" when they filed it signed in.
KIND_COMPLAINT = "complaint"
KIND_COMPLAINT_ATTACHMENT = "complaint_attachment"
KINDS = (
    KIND_REGISTER,
    KIND_APPLICATION,
    KIND_ATTACHMENT,
    KIND_LETTER_PREVIEW,
    KIND_INBOX,
    KIND_WALK_IN,
    KIND_COMPLAINT,
    KIND_COMPLAINT_ATTACHMENT,
)
REGISTER_PURPOSE = "daftar penduduk"


@dataclass(frozen=True)
class Reader:
    username: str
    role: str
    desa_code: str  # "" for a kabupaten account
    kabupaten_code: str


def kabupaten_of(desa_code: str) -> str:
    """32.13.11.2004 -> 32.13 (Kemendagri codes)."""
    return ".".join(desa_code.split(".")[:2]) if desa_code else ""


def reader_of(staff: Staff) -> Reader:
    """The reader as the log keeps them. A kabupaten account acting at a desa (the escalated
    task's desk, staff_tasks._at_desa) is still the kabupaten's office, not the desa's."""
    if staff.role in KABUPATEN_ROLES:
        return Reader(staff.username, staff.role, "", staff.kabupaten_code)
    return Reader(
        staff.username,
        staff.role,
        staff.desa_code,
        staff.kabupaten_code or kabupaten_of(staff.desa_code),
    )


# The staff member the current request acts for (api.deps.current_staff sets it).
acting: ContextVar[Reader | None] = ContextVar("acting_staff", default=None)


def act_as(staff: Staff) -> None:
    acting.set(reader_of(staff))


def _row(
    who: Reader,
    kind: str,
    purpose: str,
    *,
    application_id: str | None = None,
    register_resident_id: str | None = None,
    complaint_id: str | None = None,
) -> PersonalDataAccess:
    assert kind in KINDS
    return PersonalDataAccess(
        at=utcnow(),
        kind=kind,
        application_id=application_id,
        register_resident_id=register_resident_id,
        complaint_id=complaint_id,
        purpose=purpose[:64],
        reader_username=who.username,
        reader_role=who.role,
        reader_desa_code=who.desa_code,
        reader_kabupaten_code=who.kabupaten_code,
    )


def record(
    session: AsyncSession,
    reader: Reader | Staff,
    kind: str,
    *,
    application_id: str | None = None,
    register_resident_ids: Iterable[str] = (),
    purpose: str = "",
) -> None:
    """Adds the rows for one read to the session (the caller commits): one for the application,
    or one per register record."""
    who = reader if isinstance(reader, Reader) else reader_of(reader)
    if application_id is not None:
        session.add(_row(who, kind, purpose or "permohonan", application_id=application_id))
    for resident_id in register_resident_ids:
        session.add(_row(who, kind, purpose or REGISTER_PURPOSE, register_resident_id=resident_id))


async def record_now(
    session: AsyncSession,
    reader: Reader | Staff,
    kind: str,
    *,
    application_id: str,
    purpose: str = "",
) -> None:
    """`record` one application read and commit it at once (the read is already done)."""
    record(session, reader, kind, application_id=application_id, purpose=purpose)
    await session.commit()


async def record_complaint_read(
    session: AsyncSession, reader: Reader | Staff, kind: str, complaint_id: str, purpose: str
) -> None:
    """One read of a complaint (its text, or its attachment), committed at once (the read is
    done). Intake keeps its own record of the read too, in the complaint's entries."""
    who = reader if isinstance(reader, Reader) else reader_of(reader)
    session.add(_row(who, kind, purpose or "pengaduan", complaint_id=complaint_id))
    await session.commit()


def record_register_reads(resident_ids: Sequence[str], actor: str) -> list[PersonalDataAccess]:
    """The rows for register records a staff member read (population.register.log_reads):
    only when the request acts for that staff member (`actor` is their username), so a
    service's read (actor "intake:…") is not attributed to anyone."""
    reader = acting.get()
    if reader is None or reader.username != actor:
        return []
    return [
        _row(reader, KIND_REGISTER, REGISTER_PURPOSE, register_resident_id=resident_id)
        for resident_id in resident_ids
    ]


async def accesses_of(
    session: AsyncSession,
    register_resident_ids: Sequence[str],
    application_ids: Sequence[str],
    complaint_ids: Sequence[str] = (),
) -> list[PersonalDataAccess]:
    """A resident's log: reads of their register records, their applications and the
    complaints they filed signed in, newest first."""
    if not register_resident_ids and not application_ids and not complaint_ids:
        return []
    clauses = []
    if complaint_ids:
        clauses.append(col(PersonalDataAccess.complaint_id).in_(complaint_ids))
    if register_resident_ids:
        clauses.append(col(PersonalDataAccess.register_resident_id).in_(register_resident_ids))
    if application_ids:
        clauses.append(col(PersonalDataAccess.application_id).in_(application_ids))
    rows = await session.exec(
        select(PersonalDataAccess)
        .where(or_(*clauses))
        .order_by(col(PersonalDataAccess.at).desc(), col(PersonalDataAccess.id).desc())
    )
    return list(rows.all())
