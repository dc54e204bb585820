"""Working-time arithmetic: properties over any start, duration and calendar (hypothesis), and
the cases staff would check by hand."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.wib import WIB, wib_datetime
from workflows.approval.days_off import national_days_off
from workflows.approval.models import WorkingCalendar, WorkingDay
from workflows.approval.working_time import (
    NoWorkingTime,
    add_working_hours,
    is_working_instant,
    parse_days_off,
    working_time_between,
)

pytestmark = pytest.mark.unit

DEFAULT = WorkingCalendar()
NATIONAL = parse_days_off(national_days_off(2026))


def wib(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=WIB)


starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=24 * 60).map(lambda minutes: minutes / 60)


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    start = draw(st.integers(min_value=0, max_value=22))
    end = draw(st.integers(min_value=start + 1, max_value=24))
    workdays = draw(st.sets(st.integers(min_value=1, max_value=7), min_size=1))
    if not draw(st.booleans()):
        return WorkingCalendar(start_hour=start, end_hour=end, workdays=sorted(workdays))
    # Each weekday its own hours, to the half hour (what the settings page offers).
    days = []
    for weekday in sorted(workdays):
        opens = draw(st.integers(min_value=0, max_value=47))
        closes = draw(st.integers(min_value=opens + 1, max_value=48))
        days.append(WorkingDay(weekday, opens * 30, closes * 30))
    return WorkingCalendar(workdays=sorted(workdays), days=days)


days_off_sets = st.frozensets(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 6, 30)))


@settings(max_examples=300, deadline=None)
@given(start=starts, hours=durations, calendar=calendars(), days_off=days_off_sets)
def test_a_deadline_never_lands_outside_working_time(
    start: datetime, hours: float, calendar: WorkingCalendar, days_off: frozenset[date]
) -> None:
    deadline = add_working_hours(start, hours, calendar, days_off)
    assert deadline >= start
    assert is_working_instant(deadline, calendar, days_off), deadline.astimezone(WIB)


@settings(max_examples=300, deadline=None)
@given(
    start=starts,
    later_by=st.integers(min_value=0, max_value=30 * 24 * 60),
    hours=durations,
    more=durations,
    calendar=calendars(),
    days_off=days_off_sets,
)
def test_adding_hours_is_monotonic(
    start: datetime,
    later_by: int,
    hours: float,
    more: float,
    calendar: WorkingCalendar,
    days_off: frozenset[date],
) -> None:
    base = add_working_hours(start, hours, calendar, days_off)
    # More hours never end earlier, and a later start never ends earlier.
    assert add_working_hours(start, hours + more, calendar, days_off) >= base
    later = start + timedelta(minutes=later_by)
    assert add_working_hours(later, hours, calendar, days_off) >= base


@settings(max_examples=200, deadline=None)
@given(start=starts, a=durations, b=durations, calendar=calendars(), days_off=days_off_sets)
def test_hours_add_up(
    start: datetime, a: float, b: float, calendar: WorkingCalendar, days_off: frozenset[date]
) -> None:
    """Adding a then b lands where a + b does, except that a step ending exactly at closing
    time moves on to the next opening: the same working moment either way."""
    step_by_step = add_working_hours(
        add_working_hours(start, a, calendar, days_off), b, calendar, days_off
    )
    at_once = add_working_hours(start, a + b, calendar, days_off)
    if b > 0:
        assert abs(step_by_step - at_once) < timedelta(seconds=1)
    else:
        assert step_by_step >= at_once


def test_a_day_working_until_midnight_closes_at_the_next_dates_00_00() -> None:
    # Hypothesis found it: 24 working hours of a Monday-only, round-the-clock calendar end at
    # Tuesday 00:00 WIB, which is Monday's closing time, a working instant.
    calendar = WorkingCalendar(start_hour=0, end_hour=24, workdays=[1])
    deadline = add_working_hours(datetime(2026, 1, 1, tzinfo=UTC), 24, calendar, frozenset())
    assert deadline.astimezone(WIB) == datetime(2026, 1, 6, 0, 0, tzinfo=WIB)
    assert is_working_instant(deadline, calendar, frozenset())
    # The Tuesday itself does not work: one minute later is outside working time.
    assert not is_working_instant(deadline + timedelta(minutes=1), calendar, frozenset())
    # Nor is 00:00 after a day that closes earlier, or after a day off.
    assert not is_working_instant(
        datetime(2026, 1, 6, 0, 0, tzinfo=WIB), WorkingCalendar(workdays=[1]), frozenset()
    )
    assert not is_working_instant(deadline, calendar, frozenset({date(2026, 1, 5)}))


def test_holidays_and_cuti_bersama_are_skipped() -> None:
    # Thursday 14 May 2026 is Ascension Day and Friday 15 May cuti bersama: a step assigned
    # on Wednesday 13 May at 15:00 WIB with 8 working hours is due Monday 18 May 15:00.
    due = add_working_hours(wib(2026, 5, 13, 15), 8, DEFAULT, NATIONAL)
    assert due.astimezone(WIB) == wib(2026, 5, 18, 15)
    # Idul Fitri 2026: 18 March (cuti bersama), 19 (Nyepi), 20 (cuti bersama), 21-22, 23-24
    # (cuti bersama). Assigned Tuesday 17 March 15:00 with 8 hours: one hour that Tuesday,
    # the other seven on Wednesday 25 March.
    due = add_working_hours(wib(2026, 3, 17, 15), 8, DEFAULT, NATIONAL)
    assert due.astimezone(WIB) == wib(2026, 3, 25, 15)


def test_friday_15_00_lands_on_monday_or_after_the_holiday() -> None:
    # An ordinary weekend: Friday 6 Nov 2026 15:00 + 8h = Monday 9 Nov 15:00.
    assert add_working_hours(wib(2026, 11, 6, 15), 8, DEFAULT, NATIONAL) == wib(2026, 11, 9, 15)
    # Friday 14 Aug 2026 15:00, Monday 17 Aug is Independence Day: Tuesday 18 Aug 15:00.
    assert add_working_hours(wib(2026, 8, 14, 15), 8, DEFAULT, NATIONAL) == wib(2026, 8, 18, 15)
    # Friday 11 Dec 2026 15:00 + 1h lands at closing time on the same Friday.
    assert add_working_hours(wib(2026, 12, 11, 15), 1, DEFAULT, NATIONAL) == wib(2026, 12, 11, 16)


def test_time_outside_office_hours_does_not_count() -> None:
    # Saturday night counts from Monday 08:00.
    assert add_working_hours(wib(2026, 11, 7, 22), 2, DEFAULT, NATIONAL) == wib(2026, 11, 9, 10)
    # Early morning counts from opening.
    assert add_working_hours(wib(2026, 11, 10, 6), 1, DEFAULT, NATIONAL) == wib(2026, 11, 10, 9)
    # A desa's own day off (a village feast) is skipped like a holiday.
    feast = NATIONAL | {date(2026, 11, 11)}
    assert add_working_hours(wib(2026, 11, 10, 12), 8, DEFAULT, feast) == wib(2026, 11, 12, 12)


def test_a_calendar_with_other_hours_and_saturdays() -> None:
    calendar = WorkingCalendar(start_hour=7, end_hour=14, workdays=[1, 2, 3, 4, 5, 6])
    # Friday 13:00 + 3h: one hour Friday, two on Saturday from 07:00.
    assert add_working_hours(wib(2026, 11, 6, 13), 3, calendar, frozenset()) == wib(2026, 11, 7, 9)


def test_times_come_back_in_utc() -> None:
    due = add_working_hours(datetime(2026, 11, 9, 1, 0, tzinfo=UTC), 1, DEFAULT, NATIONAL)
    assert due.utcoffset() == timedelta(0)
    assert due == datetime(2026, 11, 9, 2, 0, tzinfo=UTC)  # 09:00 WIB


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_hours(datetime(2026, 11, 9, 8), 1, DEFAULT, NATIONAL)  # naive
    with pytest.raises(ValueError):
        add_working_hours(wib(2026, 11, 9, 8), -1, DEFAULT, NATIONAL)
    every_day_off = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(4000))
    with pytest.raises(NoWorkingTime):
        add_working_hours(wib(2026, 1, 1), 1, DEFAULT, every_day_off)


def test_staff_read_times_in_wib() -> None:
    assert (
        wib_datetime(datetime(2026, 12, 3, 3, 0, tzinfo=UTC)) == "3 Desember 2026 pukul 10.00 WIB"
    )


# Monday to Thursday 08:00-16:00, Friday 07:30-11:00 WIB (a desa's shorter Friday).
SHORT_FRIDAY = WorkingCalendar(
    days=[WorkingDay(d, 8 * 60, 16 * 60) for d in (1, 2, 3, 4)] + [WorkingDay(5, 450, 660)]
)


def test_a_shorter_friday_moves_a_deadline_to_monday() -> None:
    # Friday 11 December 2026, 10:00 WIB, two working hours: one is left on Friday (until
    # 11:00), the other is Monday's first hour. With one schedule for every day it would be
    # Friday 12:00.
    friday = wib(2026, 12, 11, 10)
    assert add_working_hours(friday, 2, DEFAULT, NATIONAL) == wib(2026, 12, 11, 12)
    assert add_working_hours(friday, 2, SHORT_FRIDAY, NATIONAL) == wib(2026, 12, 14, 9)
    # A half-hour opening counts from 07:30: Thursday 15:30 + 1 hour is Friday 08:00.
    assert add_working_hours(wib(2026, 12, 10, 15, 30), 1, SHORT_FRIDAY, NATIONAL) == wib(
        2026, 12, 11, 8
    )
    assert is_working_instant(wib(2026, 12, 11, 11), SHORT_FRIDAY, NATIONAL)  # closing time
    assert not is_working_instant(wib(2026, 12, 11, 11, 1), SHORT_FRIDAY, NATIONAL)
    assert not is_working_instant(wib(2026, 12, 11, 7, 29), SHORT_FRIDAY, NATIONAL)
    assert working_time_between(
        wib(2026, 12, 11, 7), wib(2026, 12, 14, 9), SHORT_FRIDAY, NATIONAL
    ) == timedelta(hours=4, minutes=30)
