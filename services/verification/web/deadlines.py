"""Deadlines as the staff read them: counted in the desa's working time (its hours, workdays,
national holidays, cuti bersama and its own days off), e.g. "sisa 3 jam kerja" or "terlambat
2 jam 15 menit kerja", and how long a task has waited ("menunggu 2 hari")."""

from datetime import datetime, timedelta

from common.db import as_utc
from services.verification.calendars import DesaCalendar
from workflows.approval.working_time import working_time_between


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
