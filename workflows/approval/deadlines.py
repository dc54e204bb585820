"""When the approval workflow acts on its own: a step's deadline, its reminders and escalations,
how long a returned letter waits for the resident, and how often a letter signing refused is
tried again. Pure arithmetic on the times it is given (the workflow passes workflow.now()), so
it is unit-tested without Temporal and the workflow stays deterministic."""

from datetime import date, datetime, timedelta
from enum import StrEnum

from common.domain import Role, supervisor_of
from workflows.approval.models import WorkingCalendar
from workflows.approval.working_time import add_working_hours

# The last working hour before the deadline gets its own reminder.
LAST_HOUR = 1.0
# A remote signer (BSrE) has as long to sign as a step of the default length.
SIGNATURE_WORKING_HOURS = 8

# Retrying a blocked letter: often at first (the cause is often fixed within the hour), then
# hourly for the rest of the first day, then every 6 hours, which keeps the history of a letter
# blocked for weeks small (a few events per attempt).
RETRY_SOON = timedelta(minutes=15)
RETRY_SOON_TIMES = 4
RETRY_HOURLY = timedelta(hours=1)
RETRY_HOURLY_UNTIL = timedelta(days=1)
RETRY_LATER = timedelta(hours=6)


class Timer(StrEnum):
    """What a step's timer does when it fires (also its summary in the Temporal UI)."""

    REMIND = "remind"
    ESCALATE = "escalate"


def step_deadline(
    started: datetime, hours: float, calendar: WorkingCalendar, days_off: frozenset[date]
) -> datetime:
    return add_working_hours(started, hours, calendar, days_off)


def step_timers(
    started: datetime,
    deadline: datetime,
    hours: float,
    calendar: WorkingCalendar,
    days_off: frozenset[date],
) -> list[tuple[datetime, Timer]]:
    """Reminders at half the step's time and at the start of its last working hour, the
    deadline (escalation to the supervisor), and a second deadline as long again (escalation to
    the kabupaten operator), in order."""
    reminders = {add_working_hours(started, hours / 2, calendar, days_off)}
    if hours > LAST_HOUR:
        reminders.add(add_working_hours(started, hours - LAST_HOUR, calendar, days_off))
    timers = [(r, Timer.REMIND) for r in sorted(reminders) if started < r < deadline]
    second = add_working_hours(deadline, hours, calendar, days_off)
    return [*timers, (deadline, Timer.ESCALATE), (second, Timer.ESCALATE)]


def escalated_to(role: str, level: int) -> Role:
    """Who is told at escalation `level` of a step waiting on `role`: its supervisor first,
    then the kabupaten operator."""
    return supervisor_of(role) if level == 1 else Role.KABUPATEN_OPERATOR


def resubmit_expiry(returned: datetime, days: int) -> datetime:
    """A letter returned for revision expires after this many calendar days."""
    return returned + timedelta(days=days)


def issue_retry_delay(failures: int, blocked_for: timedelta) -> timedelta:
    """How long to wait after the `failures`-th refused attempt, blocked for `blocked_for`."""
    if failures <= RETRY_SOON_TIMES:
        return RETRY_SOON
    if blocked_for < RETRY_HOURLY_UNTIL:
        return RETRY_HOURLY
    return RETRY_LATER
