"""Plt (pelaksana tugas): a staff member of a desa holds another role there for a period, e.g.
the Sekdes acting as Kades while the Kades is on leave, or a Kasi's work handed to a deputy.

A Plt acts in that role exactly like its holder: the role's inbox, its decisions (which the
workflow records as taken by a Plt) and, for Sekdes and Kades, the desa's settings.
"""

from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain import MANAGER_ROLES, rank
from services.verification.models import PltAssignment, Staff


def is_current(plt: PltAssignment, at: datetime) -> bool:
    end = as_utc(plt.ends_at)
    if plt.ended_at is not None:
        end = min(end, as_utc(plt.ended_at))
    return as_utc(plt.starts_at) <= at < end


async def current_plt(
    session: AsyncSession, desa_code: str, *, username: str | None = None, role: str | None = None
) -> list[PltAssignment]:
    """Plt periods in force now in this desa, for one person and/or one role."""
    now = utcnow()
    query = select(PltAssignment).where(PltAssignment.desa_code == desa_code, *plt_in_force(now))
    if username is not None:
        query = query.where(PltAssignment.username == username)
    if role is not None:
        query = query.where(PltAssignment.role == role)
    rows = await session.exec(query.order_by(col(PltAssignment.starts_at)))
    return [p for p in rows.all() if is_current(p, now)]


def plt_in_force(now: datetime) -> list[ColumnElement[bool]]:
    """Where a Plt period is in force at `now` (`is_current` checks it again in Python)."""
    return [
        col(PltAssignment.starts_at) <= now,
        col(PltAssignment.ends_at) > now,
        col(PltAssignment.ended_at).is_(None),
    ]


def held_roles(staff: Staff, periods: list[PltAssignment], now: datetime) -> list[str]:
    """The staff member's own role first, then the roles of `periods` (theirs, oldest first)
    in force at `now`."""
    roles = [staff.role]
    for plt in periods:
        if is_current(plt, now) and plt.role not in roles:
            roles.append(plt.role)
    return roles


async def roles_held(session: AsyncSession, staff: Staff) -> list[str]:
    """The staff member's own role first, then the roles they hold as Plt right now."""
    now = utcnow()
    rows = await session.exec(
        select(PltAssignment)
        .where(
            PltAssignment.desa_code == staff.desa_code,
            PltAssignment.username == staff.username,
            *plt_in_force(now),
        )
        .order_by(col(PltAssignment.starts_at))
    )
    return held_roles(staff, list(rows.all()), now)


async def periods_ahead(
    session: AsyncSession, desa_code: str, username: str
) -> list[tuple[str, datetime, datetime]]:
    """A staff member's Plt periods in the desa that are in force now or start later: (role,
    from, until), for their inbox stream to judge at each notice whether a role is theirs."""
    now = utcnow()
    rows = await session.exec(
        select(PltAssignment).where(
            PltAssignment.desa_code == desa_code,
            PltAssignment.username == username,
            col(PltAssignment.ends_at) > now,
        )
    )
    ahead = []
    for plt in rows.all():
        end = as_utc(plt.ends_at)
        if plt.ended_at is not None:
            end = min(end, as_utc(plt.ended_at))
        if end > now:
            ahead.append((plt.role, as_utc(plt.starts_at), end))
    return ahead


def may_grant(granter_roles: list[str], role: str) -> bool:
    """A Sekdes or Kades hands over their own role or one below it (a Kades any role; a Sekdes
    the Sekdes's own, a Kasi's or the operator's)."""
    return any(
        r in MANAGER_ROLES and rank(role) <= rank(r) and rank(role) >= 0 for r in granter_roles
    )


async def overlapping(
    session: AsyncSession, desa_code: str, username: str, role: str, start: datetime, end: datetime
) -> bool:
    rows = await session.exec(
        select(PltAssignment).where(
            PltAssignment.desa_code == desa_code,
            PltAssignment.username == username,
            PltAssignment.role == role,
            col(PltAssignment.starts_at) < end,
            col(PltAssignment.ends_at) > start,
        )
    )
    for plt in rows.all():
        effective_end = as_utc(plt.ended_at) if plt.ended_at is not None else as_utc(plt.ends_at)
        if effective_end > start and as_utc(plt.starts_at) < end:
            return True
    return False
