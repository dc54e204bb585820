"""A desa's working calendar as the approval workflow counts deadlines in it (see the
resolve_route activity): the desa's hours, workdays and own days off (routes.rules_for) plus
national holidays and cuti bersama. The inbox counts what is left of a deadline in it, and
the kabupaten view how long a step took."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlmodel.ext.asyncio.session import AsyncSession

from services.verification.routes import DesaRules, rules_for
from workflows.approval.days_off import national_days_off
from workflows.approval.models import WorkingCalendar, WorkingDay
from workflows.approval.working_time import parse_days_off


@dataclass(frozen=True)
class DesaCalendar:
    """When a desa works: its hours and workdays, and every day off (national and its own)."""

    calendar: WorkingCalendar
    days_off: frozenset[date]


@cache
def national_days_off_between(first_year: int, last_year: int) -> frozenset[date]:
    return parse_days_off(national_days_off(first_year, last_year - first_year + 1))


def desa_calendar(rules: DesaRules, first_year: int, last_year: int) -> DesaCalendar:
    """The desa's calendar with the national days off of `first_year` to `last_year`."""
    return DesaCalendar(
        calendar=WorkingCalendar(
            start_hour=rules.start_hour,
            end_hour=rules.end_hour,
            workdays=list(rules.workdays),
            local_days_off=list(rules.local_days_off),
            days=[WorkingDay(d.weekday, d.start_minute, d.end_minute) for d in rules.schedule],
        ),
        days_off=national_days_off_between(first_year, last_year)
        | parse_days_off(rules.local_days_off),
    )


async def calendar_of(session: AsyncSession, desa_code: str, now: datetime) -> DesaCalendar:
    """The desa's calendar as set now, for deadlines around `now` (a year either side)."""
    return desa_calendar(await rules_for(session, desa_code), now.year - 1, now.year + 1)


async def desa_calendars(
    session: AsyncSession, desa_codes: Iterable[str], first_year: int, last_year: int
) -> dict[str, DesaCalendar]:
    """Each desa's calendar as set now, with the national days off of those years."""
    return {
        code: desa_calendar(await rules_for(session, code), first_year, last_year)
        for code in sorted(set(desa_codes))
    }
