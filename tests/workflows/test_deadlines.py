"""The workflow's arithmetic of time, alone: deadlines and their timers, who is told at each
escalation, how long a returned letter waits, how often a refused letter is tried again."""

from datetime import UTC, date, datetime, timedelta

import pytest

from common.domain import Role
from workflows.approval import deadlines
from workflows.approval.deadlines import Timer
from workflows.approval.models import WorkingCalendar

pytestmark = pytest.mark.unit

# Monday 2 November 2026, 09:00 WIB (02:00 UTC): an ordinary working morning.
MONDAY_9 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
WORKDAYS = WorkingCalendar()


def test_a_step_of_eight_hours_started_at_nine_is_due_at_nine_next_morning() -> None:
    due = deadlines.step_deadline(MONDAY_9, 8, WORKDAYS, frozenset())
    assert due == MONDAY_9 + timedelta(days=1)


def test_a_day_off_moves_the_deadline_a_working_day_later() -> None:
    tuesday = frozenset({date(2026, 11, 3)})
    due = deadlines.step_deadline(MONDAY_9, 8, WORKDAYS, tuesday)
    assert due == MONDAY_9 + timedelta(days=2)


def test_timers_remind_at_half_time_and_the_last_hour_then_escalate_twice() -> None:
    due = deadlines.step_deadline(MONDAY_9, 8, WORKDAYS, frozenset())
    timers = deadlines.step_timers(MONDAY_9, due, 8, WORKDAYS, frozenset())
    assert timers == [
        (MONDAY_9 + timedelta(hours=4), Timer.REMIND),  # 13:00 WIB: half the working time
        (MONDAY_9 + timedelta(hours=7), Timer.REMIND),  # 16:00 WIB: one working hour left
        (due, Timer.ESCALATE),  # to the supervisor
        (MONDAY_9 + timedelta(days=2), Timer.ESCALATE),  # as long again: to the kabupaten
    ]


def test_a_one_hour_step_has_one_reminder() -> None:
    due = deadlines.step_deadline(MONDAY_9, 1, WORKDAYS, frozenset())
    timers = deadlines.step_timers(MONDAY_9, due, 1, WORKDAYS, frozenset())
    assert timers == [
        (MONDAY_9 + timedelta(minutes=30), Timer.REMIND),
        (due, Timer.ESCALATE),
        (due + timedelta(hours=1), Timer.ESCALATE),
    ]


@pytest.mark.parametrize(
    ("role", "level", "told"),
    [
        (Role.KASI_PEMERINTAHAN, 1, Role.SEKDES),
        (Role.SEKDES, 1, Role.KADES),
        (Role.KADES, 1, Role.KABUPATEN_OPERATOR),
        (Role.KASI_PEMERINTAHAN, 2, Role.KABUPATEN_OPERATOR),
        (Role.SEKDES, 2, Role.KABUPATEN_OPERATOR),
    ],
)
def test_escalation_goes_to_the_supervisor_then_the_kabupaten(
    role: Role, level: int, told: Role
) -> None:
    assert deadlines.escalated_to(role, level) == told


def test_a_returned_letter_expires_after_calendar_days() -> None:
    assert deadlines.resubmit_expiry(MONDAY_9, 14) == MONDAY_9 + timedelta(days=14)


def test_retries_of_a_refused_letter_slow_down() -> None:
    soon = [deadlines.issue_retry_delay(n, timedelta(minutes=15 * n)) for n in range(1, 5)]
    assert soon == [timedelta(minutes=15)] * 4
    assert deadlines.issue_retry_delay(5, timedelta(hours=1)) == timedelta(hours=1)
    assert deadlines.issue_retry_delay(30, timedelta(days=1)) == timedelta(hours=6)
