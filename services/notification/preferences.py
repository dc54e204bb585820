"""How a person wants to hear from us: which outside channels, at which address, and the quiet
hours during which nothing that is not urgent is sent (it waits for the hours to end)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain.errors import Invalid
from common.phone import InvalidPhone, normalize_phone
from common.wib import WIB
from services.notification.channels import ALL_CHANNELS
from services.notification.models import Preference

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def resident_recipient(resident_id: str) -> str:
    """A resident's key, as their token's principal gives it (api.deps.recipient_key) and the
    rules write it: intake's resident id, never the NIK."""
    return f"resident:{resident_id}"


async def save_preferences(
    session: AsyncSession,
    recipient: str,
    *,
    staff: bool,
    channels: Iterable[str],
    email: str | None,
    phone: str | None,
    quiet_hours: tuple[str, str] | None,
    step_updates: bool,
) -> Preferences:
    """Replaces a person's preferences as a whole, checked fully before anything is stored.
    The one place these rules live: notification's API and its gRPC NotificationService
    (the resident portal's page) both call it."""
    chosen = set(channels)
    unknown = sorted(chosen - set(ALL_CHANNELS))
    if unknown:
        raise Invalid(
            "unknown-channel",
            f"Saluran tidak dikenal: {', '.join(unknown)}. Pilihan: whatsapp, sms, email.",
            field="channels",
        )
    email = email.strip() if email else None
    if email and not _EMAIL.match(email):
        raise Invalid("invalid-email", "Alamat email tidak valid.", field="email")
    number: str | None = None
    if phone:
        if not staff:
            # A resident's number is the one they sign in with (intake owns it).
            raise Invalid(
                "phone-not-editable",
                "Nomor HP warga mengikuti nomor yang dipakai untuk masuk; tidak diubah di sini.",
                field="phone",
            )
        try:
            number = normalize_phone(phone)
        except InvalidPhone as exc:
            raise Invalid("invalid-phone", str(exc), field="phone") from exc
    quiet_start = quiet_end = None
    if quiet_hours is not None:
        try:
            start, end = parse_hhmm(quiet_hours[0]), parse_hhmm(quiet_hours[1])
        except ValueError as exc:
            raise Invalid(
                "invalid-quiet-hours",
                "Jam tenang harus berformat JJ:MM, misalnya 21:00.",
                field="quiet_hours",
            ) from exc
        if start == end:
            raise Invalid(
                "invalid-quiet-hours",
                "Jam mulai dan selesai jam tenang tidak boleh sama.",
                field="quiet_hours",
            )
        quiet_start, quiet_end = f"{start:%H:%M}", f"{end:%H:%M}"
    row = await session.get(Preference, recipient) or Preference(recipient=recipient, channels="")
    row.channels = ",".join(c for c in ALL_CHANNELS if c in chosen)
    row.email = email
    row.phone = number
    row.quiet_start, row.quiet_end = quiet_start, quiet_end
    row.step_updates = step_updates
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()
    return Preferences.of(row)
