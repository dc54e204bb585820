"""Time as people in Subang read it: WIB and Indonesian month names. Imports only the standard
library, so workflow code (no I/O imports) may use it as well as the services."""

from datetime import date, datetime, timedelta, timezone

# Asia/Jakarta is UTC+7 all year (no daylight saving), so a fixed offset is exact and needs no
# tz database.
WIB = timezone(timedelta(hours=7), "WIB")

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)

# ISO weekday numbers (Monday = 1) as people name them.
DAY_NAMES = {1: "Senin", 2: "Selasa", 3: "Rabu", 4: "Kamis", 5: "Jumat", 6: "Sabtu", 7: "Minggu"}


def indonesian_date(day: date) -> str:
    """ "21 Juli 2026"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def wib_datetime(moment: datetime) -> str:
    """ "21 Juli 2026 pukul 14.00 WIB": how a moment (stored in UTC) is shown to people."""
    local = moment.astimezone(WIB)
    return f"{indonesian_date(local.date())} pukul {local:%H.%M} WIB"
