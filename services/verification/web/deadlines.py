"""Deadlines as the staff read them: counted in the desa's working time (its hours, workdays,
national holidays, cuti bersama and its own days off), e.g. "sisa 3 jam kerja" or "terlambat
2 jam 15 menit kerja", and how long a task has waited ("menunggu 2 hari")."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from services.verification.routes import DesaRules, rules_for
from workflows.approval.activities import national_days_off
from workflows.approval.models import WorkingCalendar
from workflows.approval.working_time import parse_days_off, working_time_between


@dataclass(frozen=True)
class DesaCalendar:
    """When a desa works: its hours and workdays, and every day off (national and its own)."""

    calendar: WorkingCalendar
    days_off: frozenset[date]


@cache
def _national(year: int) -> frozenset[date]:
    # The year before too: an old deadline may lie there.
    return parse_days_off(national_days_off(year - 1, years=3))


def desa_calendar(rules: DesaRules, today: date) -> DesaCalendar:
    """The calendar the approval workflow counts deadlines in (see the resolve_route
    activity): the desa's rules plus national holidays and cuti bersama."""
    return DesaCalendar(
        calendar=WorkingCalendar(
            start_hour=rules.start_hour,
            end_hour=rules.end_hour,
            workdays=list(rules.workdays),
            local_days_off=list(rules.local_days_off),
        ),
        days_off=_national(today.year) | parse_days_off(rules.local_days_off),
    )


async def calendar_of(session: AsyncSession, desa_code: str, now: datetime) -> DesaCalendar:
    return desa_calendar(await rules_for(session, desa_code), now.date())


def _hours_minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} jam {minutes} menit"
    if hours:
        return f"{hours} jam"
    return f"{minutes} menit"


def remaining_text(deadline: datetime, now: datetime, desa: DesaCalendar) -> str:
    """'sisa 3 jam kerja', 'sisa 45 menit kerja', 'terlambat 2 jam 15 menit kerja'."""
    deadline, now = as_utc(deadline), as_utc(now)
    left = working_time_between(now, deadline, desa.calendar, desa.days_off)
    if deadline > now:
        if left < timedelta(minutes=1):
            return "sisa kurang dari 1 menit kerja"
        return f"sisa {_hours_minutes(left)} kerja"
    late = -left
    if late < timedelta(minutes=1):
        return "terlambat kurang dari 1 menit kerja"
    return f"terlambat {_hours_minutes(late)} kerja"


def waited_text(since: datetime, now: datetime) -> str:
    """How long a task has waited, in calendar time: 'baru saja', '40 menit', '3 jam',
    '2 hari'."""
    span = as_utc(now) - as_utc(since)
    if span < timedelta(minutes=1):
        return "baru saja"
    if span < timedelta(hours=1):
        return f"{int(span.total_seconds() // 60)} menit"
    if span < timedelta(days=1):
        return f"{int(span.total_seconds() // 3600)} jam"
    return f"{span.days} hari"
