"""Retention of issued letters as records (arsip): the kabupaten's Jadwal Retensi Arsip per main
class of the kode klasifikasi (retention_schedule.toml), and the letters whose retention has run
out. Nothing here deletes: a record's end is decided by appraisal and a berita acara
pemusnahan (UU 43/2009 tentang Kearsipan), so the query only lists letters "due for appraisal"
for the kabupaten operator (GET /api/v1/retention/due)."""

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.wib import WIB
from services.signing.models import Letter, LetterStatus

SCHEDULE_FILE = Path(__file__).with_name("retention_schedule.toml")
DISPOSITIONS = ("musnah", "permanen", "dinilai kembali")


@dataclass(frozen=True)
class Retention:
    main_class: str  # "400", or "" for a kode outside every class
    name: str
    active_years: int
    inactive_years: int
    disposition: str
    confirmed: bool

    @property
    def total_years(self) -> int:
        return self.active_years + self.inactive_years

    def to_json(self) -> dict[str, Any]:
        return {
            "main_class": self.main_class,
            "name": self.name,
            "active_years": self.active_years,
            "inactive_years": self.inactive_years,
            "disposition": self.disposition,
            "confirmed": self.confirmed,
        }


def _entry(main_class: str, raw: dict[str, Any]) -> Retention:
    entry = Retention(
        main_class=main_class,
        name=str(raw["name"]),
        active_years=int(raw["active_years"]),
        inactive_years=int(raw["inactive_years"]),
        disposition=str(raw["disposition"]),
        confirmed=bool(raw["confirmed"]),
    )
    if entry.disposition not in DISPOSITIONS or entry.active_years < 0 or entry.inactive_years < 0:
        raise ValueError(f"jadwal retensi kelas {main_class or 'bawaan'} tidak sah")
    return entry


@cache
def schedule() -> tuple[dict[str, Retention], Retention]:
    """The schedule per main class, and the default for a kode outside every class."""
    raw = tomllib.loads(SCHEDULE_FILE.read_text(encoding="utf-8"))
    classes = {k: _entry(k, v) for k, v in raw["classes"].items()}
    return classes, _entry("", raw["default"])


def main_class(kode_klasifikasi: str) -> str:
    """ "400.12.2" -> "400"; "100.2" -> "100"; anything not starting with a class -> ""."""
    head = kode_klasifikasi.strip().split(".", 1)[0]
    if len(head) == 3 and head.isdigit():
        return f"{head[0]}00"
    return ""


def retention_of(kode_klasifikasi: str) -> Retention:
    classes, default = schedule()
    return classes.get(main_class(kode_klasifikasi), default)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a year without it
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class DueLetter:
    letter: Letter
    retention: Retention
    retention_ends: datetime

    def to_json(self) -> dict[str, Any]:
        # Register data only (number, type, kode, dates): never the holder's NIK or initials.
        issued = self.letter.issued_at
        return {
            "letter_id": self.letter.id,
            "desa_code": self.letter.desa_code,
            "number": self.letter.number,
            "letter_type": self.letter.letter_type,
            "kode_klasifikasi": self.letter.kode_klasifikasi,
            "status": self.letter.status,
            "issued_at": issued.astimezone(WIB).isoformat() if issued else None,
            "retention_ends": self.retention_ends.astimezone(WIB).date().isoformat(),
            "retention": self.retention.to_json(),
        }


async def due_for_appraisal(session: AsyncSession, now: datetime) -> list[DueLetter]:
    """Issued letters (valid or revoked: a revoked letter stays a record) whose active plus
    inactive years have passed at `now`, oldest first. Letters still being issued are not
    records yet."""
    classes, default = schedule()
    shortest = min(r.total_years for r in [*classes.values(), default])
    # Only letters older than the shortest period are read (a day's slack for leap years).
    cutoff = now - timedelta(days=365 * shortest - 1)
    rows = await session.exec(
        select(Letter)
        .where(col(Letter.issued_at).is_not(None))
        .where(col(Letter.issued_at) <= cutoff)
        .where(col(Letter.status).in_([LetterStatus.VALID.value, LetterStatus.REVOKED.value]))
        .order_by(col(Letter.issued_at), col(Letter.id))
    )
    due: list[DueLetter] = []
    for letter in rows:
        assert letter.issued_at is not None
        issued = as_utc(letter.issued_at)  # SQLite returns it without its zone
        retention = retention_of(letter.kode_klasifikasi)
        ends = _add_years(issued, retention.total_years)
        if ends <= now:
            due.append(DueLetter(letter, retention, ends))
    return due
