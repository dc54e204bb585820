"""How a person wants to hear from us: which outside channels, at which address, and the quiet
hours during which nothing that is not urgent is sent (it waits for the hours to end)."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from common.wib import WIB
from services.notification.channels import ALL_CHANNELS
from services.notification.models import Preference


def parse_hhmm(value: str) -> time:
    """ "22:00" -> time(22, 0). Raises ValueError for anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2:
        raise ValueError(value)
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Preferences:
    channels: frozenset[str]
    email: str | None = None
    phone: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    # A resident's one-line message at each step the application reaches; off: in-app only.
    step_updates: bool = True

    @classmethod
    def default(cls) -> "Preferences":
        return cls(channels=frozenset(ALL_CHANNELS))

    @classmethod
    def of(cls, row: Preference) -> "Preferences":
        return cls(
            channels=frozenset(c for c in row.channels.split(",") if c),
            email=row.email,
            phone=row.phone,
            quiet_start=parse_hhmm(row.quiet_start) if row.quiet_start else None,
            quiet_end=parse_hhmm(row.quiet_end) if row.quiet_end else None,
            step_updates=row.step_updates,
        )

    def allows(self, channel: str) -> bool:
        return channel in self.channels

    def send_after(self, now: datetime, *, urgent: bool) -> datetime:
        """`now`, or the end of the quiet hours `now` falls in (for what is not urgent).
        Quiet hours may span midnight (22:00–06:00)."""
        if urgent or self.quiet_start is None or self.quiet_end is None:
            return now
        if self.quiet_start == self.quiet_end:
            return now
        local = now.astimezone(WIB)
        clock = local.time().replace(tzinfo=None)
        start, end = self.quiet_start, self.quiet_end
        if start < end:
            quiet = start <= clock < end
            end_day = local.date()
        else:  # spans midnight
            quiet = clock >= start or clock < end
            end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
        if not quiet:
            return now
        return datetime.combine(end_day, end, tzinfo=WIB).astimezone(now.tzinfo)


async def load_preferences(session: AsyncSession, recipient: str) -> Preferences:
    row = await session.get(Preference, recipient)
    return Preferences.of(row) if row is not None else Preferences.default()
