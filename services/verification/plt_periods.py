"""The desa's Plt periods as staff read and change them, the one path of the API (/plt) and the
page (/pengaturan/plt): every staff member sees who acts for whom; the Sekdes and the Kades
(callers' `DesaManager`) hand a role (their own or one below theirs) to a colleague for a
period, and may end it early. Refusals are domain errors."""

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain import DESA_ROLES, role_label
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound
from common.wib import WIB
from services.verification.models import PltAssignment, Staff
from services.verification.plt import is_current, may_grant, overlapping

log = logging.getLogger(__name__)

MAX_PERIOD = timedelta(days=366)


class PltIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    role: str = Field(max_length=40)
    # Times without a zone are read as WIB; starts_at defaults to now.
    starts_at: datetime | None = None
    ends_at: datetime
    reason: str = Field(default="", max_length=200)


class PltOut(BaseModel):
    id: int
    username: str
    role: str
    role_label: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    granted_by: str
    granted_at: datetime
    ended_by: str | None
    ended_at: datetime | None
    current: bool

    @classmethod
    def of(cls, plt: PltAssignment) -> "PltOut":
        assert plt.id is not None
        return cls(
            id=plt.id,
            username=plt.username,
            role=plt.role,
            role_label=role_label(plt.role),
            starts_at=as_utc(plt.starts_at),
            ends_at=as_utc(plt.ends_at),
            reason=plt.reason,
            granted_by=plt.granted_by,
            granted_at=as_utc(plt.granted_at),
            ended_by=plt.ended_by,
            ended_at=as_utc(plt.ended_at) if plt.ended_at else None,
            current=is_current(plt, utcnow()),
        )


def _utc(value: datetime) -> datetime:
    return as_utc(value.replace(tzinfo=WIB) if value.tzinfo is None else value)


async def periods(
    session: AsyncSession, desa_code: str, *, include_past: bool = False
) -> list[PltOut]:
    """The desa's Plt periods: current and upcoming ones, or all of them with include_past."""
    query = select(PltAssignment).where(PltAssignment.desa_code == desa_code)
    rows = (await session.exec(query.order_by(col(PltAssignment.starts_at)))).all()
    now = utcnow()
    return [
        PltOut.of(p)
        for p in rows
        if include_past or (p.ended_at is None and as_utc(p.ends_at) > now)
    ]


async def grant(session: AsyncSession, staff: Staff, roles: list[str], body: PltIn) -> PltOut:
    role = body.role.strip()
    if role not in DESA_ROLES:
        raise Invalid(
            "unknown-role", f"Peran '{role}' tidak dikenal (pilihan: {', '.join(DESA_ROLES)})."
        )
    if not may_grant(roles, role):
        raise Forbidden(
            "may-not-grant",
            f"Anda tidak dapat menetapkan Plt {role_label(role)}: hanya peran Anda sendiri atau "
            "peran di bawahnya.",
        )
    if body.username == staff.username:
        raise Invalid("self-grant", "Plt tidak dapat ditetapkan untuk diri sendiri.")
    grantee = (await session.exec(select(Staff).where(Staff.username == body.username))).first()
    if grantee is None or not grantee.active or grantee.desa_code != staff.desa_code:
        raise Invalid(
            "no-such-staff", "Staf aktif dengan nama pengguna ini tidak ada di desa Anda."
        )
    if grantee.role == role:
        raise Invalid("already-holds-role", "Staf ini sudah memegang peran tersebut.")
    now = utcnow()
    starts_at = _utc(body.starts_at) if body.starts_at else now
    ends_at = _utc(body.ends_at)
    if ends_at <= starts_at:
        raise Invalid("invalid-period", "Akhir masa Plt harus setelah awalnya.")
    if ends_at <= now:
        raise Invalid("invalid-period", "Akhir masa Plt sudah lewat.")
    if ends_at - starts_at > MAX_PERIOD:
        raise Invalid("invalid-period", "Masa Plt paling lama satu tahun.")
    if await overlapping(session, staff.desa_code, grantee.username, role, starts_at, ends_at):
        raise Conflict(
            "overlapping-plt",
            "Staf ini sudah menjadi Plt untuk peran tersebut pada sebagian masa yang sama.",
        )
    plt = PltAssignment(
        desa_code=staff.desa_code,
        username=grantee.username,
        role=role,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=body.reason.strip(),
        granted_by=staff.username,
    )
    session.add(plt)
    await session.commit()
    log.info("plt %s (%s) in desa %s granted by staff %s", plt.id, role, staff.desa_code, staff.id)
    return PltOut.of(plt)


async def end(session: AsyncSession, staff: Staff, roles: list[str], plt_id: int) -> PltOut:
    """Ends a Plt period now (an upcoming one is thereby withdrawn). Ending twice is harmless."""
    plt = await session.get(PltAssignment, plt_id)
    if plt is None or plt.desa_code != staff.desa_code:
        raise NotFound("not-found", "Masa Plt tidak ditemukan.")
    if not may_grant(roles, plt.role):
        raise Forbidden("may-not-grant", f"Anda tidak dapat mengakhiri Plt {role_label(plt.role)}.")
    now = utcnow()
    if plt.ended_at is None and as_utc(plt.ends_at) > now:
        plt.ended_at = now
        plt.ended_by = staff.username
        session.add(plt)
        await session.commit()
        log.info("plt %s in desa %s ended by staff %s", plt.id, staff.desa_code, staff.id)
    return PltOut.of(plt)
