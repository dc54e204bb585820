"""Working time in WIB: when a step's deadline falls, counted in the desa's working hours.

Pure and deterministic (no clock, no I/O, no tz database), so the workflow may call it: WIB
(Asia/Jakarta) is a fixed UTC+7 with no daylight saving, so a fixed offset is exact. Days off
(national holidays, cuti bersama, the desa's own) come in as data: the `resolve_route` activity
computes them once and the workflow carries them in its state.

A working instant is a moment on a working day (a calendar workday that is not a day off)
between its opening and closing time inclusive: a deadline may land exactly at closing time
(16:00), meaning "by the end of that working day". Each weekday may have its own hours
(`WorkingCalendar.days`, e.g. Friday 07:30-11:00); without them every workday has
start_hour-end_hour.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from common.wib import WIB
from workflows.approval.models import WorkingCalendar

# A calendar that never works would loop forever; no real desa is closed for ten years.
_MAX_DAYS_SEARCHED = 3660


class NoWorkingTime(ValueError):
    """The calendar has no working day at all in the searched range."""


def parse_days_off(days: Iterable[str]) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in days)


def day_hours(weekday: int, calendar: WorkingCalendar) -> tuple[int, int] | None:
    """(opening, closing) of an ISO weekday in minutes after midnight, or None when the desa
    does not work that weekday."""
    if calendar.days:
        for d in calendar.days:
            if d.weekday == weekday:
                return d.start_minute, d.end_minute
        return None
    if weekday not in calendar.workdays:
        return None
    return calendar.start_hour * 60, calendar.end_hour * 60


def is_working_day(day: date, calendar: WorkingCalendar, days_off: frozenset[date]) -> bool:
    return day_hours(day.isoweekday(), calendar) is not None and day not in days_off


def is_working_instant(
    moment: datetime, calendar: WorkingCalendar, days_off: frozenset[date]
) -> bool:
    local = moment.astimezone(WIB)
    # A day that works until 24:00 closes at the next date's 00:00: that instant is its closing
    # time (what add_working_hours answers for "by the end of that day"), not the next day's.
    previous = local.date() - timedelta(days=1)
    if is_working_day(previous, calendar, days_off) and local == _day_bounds(previous, calendar)[1]:
        return True
    if not is_working_day(local.date(), calendar, days_off):
        return False
    opens, closes = _day_bounds(local.date(), calendar)
    return opens <= local <= closes


def add_working_hours(
    start: datetime,
    hours: float,
    calendar: WorkingCalendar,
    days_off: frozenset[date],
) -> datetime:
    """The moment `hours` working hours after `start` (timezone-aware), in UTC.

    Time before opening, after closing, on weekends and days off does not count. With 0 hours
    the answer is the first working instant at or after `start`.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if hours < 0:
        raise ValueError("hours must not be negative")
    remaining = timedelta(hours=hours)
    cursor = _first_working_instant(start.astimezone(WIB), calendar, days_off)
    for _ in range(_MAX_DAYS_SEARCHED):
        _, closes = _day_bounds(cursor.date(), calendar)
        available = closes - cursor
        if remaining <= available:
            return (cursor + remaining).astimezone(UTC)
        remaining -= available
        cursor = _next_opening(cursor.date(), calendar, days_off)
    raise NoWorkingTime("no working time found in the calendar")


def working_hours_between(
    start: datetime,
    end: datetime,
    calendar: WorkingCalendar,
    days_off: frozenset[date],
) -> float:
    """How many working hours lie between `start` and `end` (timezone-aware): the inverse of
    add_working_hours, e.g. for how long a step took. 0 if `end` is not after `start`."""
    return (
        max(working_time_between(start, end, calendar, days_off), timedelta()).total_seconds()
        / 3600
    )


def _day_bounds(day: date, calendar: WorkingCalendar) -> tuple[datetime, datetime]:
    """Opening and closing of a working day (callers checked it is one)."""
    hours = day_hours(day.isoweekday(), calendar)
    assert hours is not None
    midnight = datetime.combine(day, time(0), WIB)
    return midnight + timedelta(minutes=hours[0]), midnight + timedelta(minutes=hours[1])


def _first_working_instant(
    local: datetime, calendar: WorkingCalendar, days_off: frozenset[date]
) -> datetime:
    day = local.date()
    if is_working_day(day, calendar, days_off):
        opens, closes = _day_bounds(day, calendar)
        if local < opens:
            return opens
        if local < closes:
            return local
    return _next_opening(day, calendar, days_off)


def _next_opening(after: date, calendar: WorkingCalendar, days_off: frozenset[date]) -> datetime:
    day = after
    for _ in range(_MAX_DAYS_SEARCHED):
        day += timedelta(days=1)
        if is_working_day(day, calendar, days_off):
            return _day_bounds(day, calendar)[0]
    raise NoWorkingTime("no working day found in the calendar")


def working_time_between(
    start: datetime, end: datetime, calendar: WorkingCalendar, days_off: frozenset[date]
) -> timedelta:
    """How much working time lies between `start` and `end` (timezone-aware); negative when
    `end` is before `start` (e.g. how far past a deadline we are, in working time)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end < start:
        return -working_time_between(end, start, calendar, days_off)
    total = timedelta(0)
    local_start, local_end = start.astimezone(WIB), end.astimezone(WIB)
    # The day before too: a day working until 24:00 ends at the next date's 00:00.
    day = local_start.date() - timedelta(days=1)
    while day <= local_end.date():
        if is_working_day(day, calendar, days_off):
            opens, closes = _day_bounds(day, calendar)
            overlap = min(closes, local_end) - max(opens, local_start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total
