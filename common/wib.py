"""Time as people in Subang read it: WIB and Indonesian month names. Imports only the standard
library, so workflow code (no I/O imports) may use it as well as the services."""

import re
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


def indonesian_date(day: date) -> str:
    """ "21 Juli 2026"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def wib_datetime(moment: datetime) -> str:
    """ "21 Juli 2026 pukul 14.00 WIB": how a moment (stored in UTC) is shown to people."""
    local = moment.astimezone(WIB)
    return f"{indonesian_date(local.date())} pukul {local:%H.%M} WIB"


# How people write a month when they shorten it ("Agt", "Agu", "Ags", "Sept", ...); English
# short names too, as a phone's keyboard suggests them.
_MONTH_NAMES: dict[str, int] = {
    **{name.lower(): i for i, name in enumerate(MONTHS, start=1)},
    **{name.lower()[:3]: i for i, name in enumerate(MONTHS, start=1)},
    "agt": 8,
    "ags": 8,
    "aug": 8,
    "sept": 9,
    "okt": 10,
    "oct": 10,
    "des": 12,
    "dec": 12,
    "may": 5,
    "peb": 2,
    "nop": 11,
    "nopember": 11,
}
_NUMERIC_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_WORDS = re.compile(r"(\d{1,2})[\s./-]*([A-Za-z]+)[\s./-]*(\d{4})")


def parse_indonesian_date(text: str) -> date | None:
    """A date as a resident writes or a date picker sends it, or None when it is not one.

    Accepted: what a date picker sends ("1990-08-15"), the words people write ("15 Agustus
    1990", "15 Agt 1990", "15-agustus-1990") and day first in digits ("15-08-1990",
    "15/08/1990", "15.08.1990"). Never month first: "05/08/1990" is 5 August."""
    cleaned = " ".join(text.strip().split())
    if not cleaned or not cleaned.isascii():
        return None
    day: int
    month: int | None
    if m := _NUMERIC_ISO.fullmatch(cleaned):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _NUMERIC_DMY.fullmatch(cleaned):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif m := _WORDS.fullmatch(cleaned):
        day, year = int(m[1]), int(m[3])
        month = _MONTH_NAMES.get(m[2].lower())
        if month is None:
            return None
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None
