"""A desa's working calendar as the approval workflow counts deadlines in it (see the
resolve_route activity): the desa's hours, workdays and own days off (routes.rules_for) plus
national holidays and cuti bersama. The inbox counts what is left of a deadline in it, and
the task projection how long a step took when it is decided (`step_working_seconds`), which the
kabupaten view sums up."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.verification.models import DesaSettings
from services.verification.routes import DesaRules, rules_for, rules_of
from workflows.approval.days_off import national_days_off
from workflows.approval.models import WorkingCalendar, WorkingDay
from workflows.approval.working_time import day_hours, parse_days_off


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
    """Each desa's calendar as set now, with the national days off of those years. One query
    for all of them (the kabupaten view asks for every desa), and desa with the same rules
    (most keep the defaults) share one calendar."""
    codes = sorted(set(desa_codes))
    rows = await session.exec(select(DesaSettings).where(col(DesaSettings.desa_code).in_(codes)))
    settings = {row.desa_code: row for row in rows.all()}
    made: dict[DesaRules, DesaCalendar] = {}
    calendars = {}
    for code in codes:
        rules = rules_of(settings.get(code))
        if rules not in made:
            made[rules] = desa_calendar(rules, first_year, last_year)
        calendars[code] = made[rules]
    return calendars


_WIB_OFFSET = 7 * 3600  # seconds; WIB keeps no daylight saving time


class WorkingClock:
    """Working time between instants in one desa calendar, as `working_hours_between` counts
    it, for many steps at once (the kabupaten view's step times over tens of thousands of
    them): a table of each WIB day's opening hours and the working time before it, so each
    step costs two lookups in seconds since the epoch instead of a walk over its days."""

    def __init__(self, calendar: DesaCalendar) -> None:
        self._calendar = calendar
        self._first = 0  # the table's first WIB day, in days since 1970-01-01
        self._hours: list[tuple[float, float]] = []  # each day's (opens, closes), seconds
        self._before: list[float] = []  # working seconds from the first day to each day

    def _cover(self, first: int, last: int) -> None:
        """The table from day `first` to day `last` (a month beyond, so growing it is rare)."""
        if self._hours:
            first = min(first, self._first)
            last = max(last, self._first + len(self._hours) - 1)
        first, last = first - 31, last + 31
        calendar, days_off = self._calendar.calendar, self._calendar.days_off
        hours, before, total = [], [], 0.0
        epoch = date(1970, 1, 1)
        for number in range(first, last + 1):
            day = epoch + timedelta(days=number)
            bounds = day_hours(day.isoweekday(), calendar) if day not in days_off else None
            opens, closes = bounds or (0, 0)
            hours.append((opens * 60.0, max(closes, opens) * 60.0))
            before.append(total)
            total += hours[-1][1] - hours[-1][0]
        self._first, self._hours, self._before = first, hours, before

    def seconds_between(self, start: float, end: float) -> float:
        """Working seconds between two instants in seconds since the epoch; 0 if `end` is not
        after `start`."""
        if end <= start:
            return 0.0
        local_start, local_end = start + _WIB_OFFSET, end + _WIB_OFFSET
        first, last = int(local_start // 86400), int(local_end // 86400)
        if first < self._first or last - self._first >= len(self._hours):
            self._cover(first, last)
        worked = 0.0
        for sign, day, local in ((1.0, last, local_end), (-1.0, first, local_start)):
            index = day - self._first
            opens, closes = self._hours[index]
            into_day = local - day * 86400
            worked += sign * (self._before[index] + min(max(into_day - opens, 0.0), closes - opens))
        return max(worked, 0.0)

    def hours_between(self, start: datetime, end: datetime) -> float:
        """As working_hours_between(start, end, calendar, days_off) (timezone-aware)."""
        return self.seconds_between(start.timestamp(), end.timestamp()) / 3600


def step_working_seconds(rules: DesaRules, assigned_at: datetime, closed_at: datetime) -> float:
    """How many working seconds a step took, from assignment to decision, in the desa calendar
    `rules` (the task projection passes the desa's rules as set when the step is decided, and
    stores the result: a later change of the calendar does not change it). Timezone-aware."""
    start, end = assigned_at.astimezone(UTC), closed_at.astimezone(UTC)
    # The national days off of every year the step touches (a WIB new year falls at 17:00 UTC).
    clock = _clock(rules, start.year, end.year + 1)
    return clock.seconds_between(start.timestamp(), end.timestamp())


@lru_cache(maxsize=1024)
def _clock(rules: DesaRules, first_year: int, last_year: int) -> WorkingClock:
    """One clock per calendar and years: most desa keep the default rules, and the migration's
    backfill (and the benchmark's loader) count many thousands of steps in each."""
    return WorkingClock(desa_calendar(rules, first_year, last_year))
