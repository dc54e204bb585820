"""The letters side of the open performance figures (issue 19 item 4, docs/public-duties.md):
per desa of a kabupaten and one month (WIB), how many letters were requested and issued, and
for each issued letter its time to issue in the desa's working hours and whether that kept the
standard (the sum of the step deadlines of its route in that desa, which the published standar
pelayanan states). Intake asks for it once per page (DirectoryService.GetLetterFigures), adds
its own survey, complaint and channel tallies, and suppresses small cells before publishing.

Why here: verification already projects every application's submission and closing from the
public events (ApplicationRecord, codes and times only), holds each desa's working calendar
(the deadlines count in it) and its routes (the standard). Nothing here names a resident; the
times go out unordered and without application ids.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain import ApplicationStatus
from common.wib import WIB
from common.wilayah import all_desa
from services.verification.calendars import desa_calendars
from services.verification.catalogue import Catalogue
from services.verification.models import ApplicationRecord
from services.verification.routes import route_for
from workflows.approval.working_time import working_hours_between

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


@dataclass
class DesaLetters:
    desa_code: str
    kecamatan_code: str
    requested: int = 0
    issued: int = 0
    working_hours_to_issue: list[float] = field(default_factory=list)
    issued_within_standard: int = 0


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a month in WIB, as UTC. ValueError for anything but YYYY-MM."""
    found = _MONTH.fullmatch(month)
    if not found:
        raise ValueError(f"month must be YYYY-MM, not {month!r}")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=WIB)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=WIB)
    return start.astimezone(UTC), end.astimezone(UTC)


async def letter_figures(
    session: AsyncSession, kabupaten_code: str, month: str, catalogue: Catalogue
) -> list[DesaLetters]:
    """Every desa of the kabupaten (in code order), with zeros where nothing happened. The
    standard of a desa's letter type is its route (the desa's own, else the catalogue's
    default); CatalogueUnavailable when the catalogue cannot be read."""
    start, end = month_bounds(month)
    desa = {
        code: DesaLetters(code, d.kecamatan_code)
        for code, d in sorted(all_desa().items())
        if d.kabupaten_code == kabupaten_code
    }
    if not desa:
        return []
    in_kabupaten = col(ApplicationRecord.desa_code).in_(list(desa))
    requested = await session.exec(
        select(ApplicationRecord).where(
            in_kabupaten,
            col(ApplicationRecord.submitted_at) >= start,
            col(ApplicationRecord.submitted_at) < end,
        )
    )
    for record in requested:
        desa[record.desa_code].requested += 1
    issued = list(
        await session.exec(
            select(ApplicationRecord).where(
                in_kabupaten,
                col(ApplicationRecord.status) == ApplicationStatus.ISSUED,
                col(ApplicationRecord.closed_at) >= start,
                col(ApplicationRecord.closed_at) < end,
            )
        )
    )
    calendars = await desa_calendars(
        session, (r.desa_code for r in issued), start.year - 1, end.year
    )
    standards: dict[tuple[str, str], int | None] = {}
    for record in issued:
        key = (record.desa_code, record.letter_type)
        if key not in standards:
            found = await route_for(session, *key, catalogue)
            standards[key] = (
                sum(s.deadline_working_hours for s in found[0].steps) if found else None
            )
        assert record.closed_at is not None  # issued
        calendar = calendars[record.desa_code]
        hours = working_hours_between(
            as_utc(record.submitted_at),
            as_utc(record.closed_at),
            calendar.calendar,
            calendar.days_off,
        )
        cell = desa[record.desa_code]
        cell.issued += 1
        cell.working_hours_to_issue.append(hours)
        standard = standards[key]
        if standard is not None and hours <= standard:
            cell.issued_within_standard += 1
    return list(desa.values())
