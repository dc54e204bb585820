"""Open performance figures (issue 19 item 4; UU 25/2009 on public information about a service,
Permenpan-RB 14/2017 for the IKM): per kabupaten, kecamatan and desa and per month, letters
requested and issued, the median and 90th percentile of the time to issue in working hours,
the share issued within the standard, the IKM, complaints received and answered on time, and
the digital share (portal and WhatsApp against walk-in at the office).

Where it is computed: the letter figures (requested, issued, times, within the standard) come
from verification in one call for the whole kabupaten (DirectoryService.GetLetterFigures: it
projects every application's submission and issue, and holds each desa's calendar and routes);
the survey, complaints and channels are intake's own tables, read here with one grouped query
each. Intake publishes, so intake suppresses: verification's per-letter times never leave
this module except as percentiles of cells large enough to show.

Suppression (docs/public-duties.md): a count from 1 to MIN_COUNT - 1 is not shown (0 is: it
singles nobody out), nor any figure computed from fewer than MIN_COUNT cases (times and shares
need MIN_COUNT letters, the complaints' on-time share MIN_COUNT complaints); the IKM needs the survey's own
minimum of MIN_ANSWERS_SHOWN answers. Where one hidden count could be recovered by subtraction
from its kecamatan's (or a kecamatan's from the kabupaten's), a second one is hidden with it
(`complementary`). No names, NIK, application ids or free text reach a row.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from smartdesa.v1 import directory_pb2
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain.errors import Invalid, Unavailable
from common.wib import WIB
from common.wilayah import Desa, all_desa
from services.intake.applications import PORTAL, WALK_IN, WHATSAPP
from services.intake.duties_models import Complaint, ComplaintEntry, SurveyAnswer
from services.intake.models import LetterApplication
from services.intake.offered import serving_desa
from services.intake.runtime import Runtime
from services.intake.satisfaction import ELEMENTS, MIN_ANSWERS_SHOWN, index_from_sums

MIN_COUNT = 5
# The digital share: applications filed online (portal) or by chat (WhatsApp) against those
# filed for the resident at the office.
DIGITAL_CHANNELS = (PORTAL, WHATSAPP)
LOOKUP_TIMEOUT_SECONDS = 10.0
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

COLUMNS = (
    "level",
    "code",
    "name",
    "month",
    "requested",
    "issued",
    "median_working_hours",
    "p90_working_hours",
    "issued_within_standard_share",
    "ikm",
    "ikm_band",
    "survey_answers",
    "complaints_received",
    "complaints_answered_on_time_share",
    "digital_share",
)


@dataclass
class Tally:
    """The raw figures of one desa (or a sum of desa): never published as they are."""

    requested: int = 0
    issued: int = 0
    working_hours_to_issue: list[float] = field(default_factory=list)
    issued_within_standard: int = 0
    digital: int = 0
    walk_in: int = 0
    survey_answers: int = 0
    survey_sums: list[int] = field(default_factory=lambda: [0] * len(ELEMENTS))
    complaints_received: int = 0
    complaints_answered_on_time: int = 0

    def add(self, other: Tally) -> None:
        self.requested += other.requested
        self.issued += other.issued
        self.working_hours_to_issue += other.working_hours_to_issue
        self.issued_within_standard += other.issued_within_standard
        self.digital += other.digital
        self.walk_in += other.walk_in
        self.survey_answers += other.survey_answers
        self.survey_sums = [a + b for a, b in zip(self.survey_sums, other.survey_sums, strict=True)]
        self.complaints_received += other.complaints_received
        self.complaints_answered_on_time += other.complaints_answered_on_time


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1), linear between the nearest ranks (as the kabupaten view)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _count(n: int) -> int | None:
    return n if n == 0 or n >= MIN_COUNT else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole >= MIN_COUNT else None


def figures_row(level: str, code: str, name: str, month: str, t: Tally) -> dict[str, Any]:
    """One published row: suppressed cells are None."""
    enough_issued = t.issued >= MIN_COUNT
    hours = t.working_hours_to_issue
    ikm = (
        index_from_sums(t.survey_answers, t.survey_sums)
        if t.survey_answers >= MIN_ANSWERS_SHOWN
        else None
    )
    return {
        "level": level,
        "code": code,
        "name": name,
        "month": month,
        "requested": _count(t.requested),
        "issued": _count(t.issued),
        "median_working_hours": round(percentile(hours, 0.5), 1) if enough_issued else None,
        "p90_working_hours": round(percentile(hours, 0.9), 1) if enough_issued else None,
        "issued_within_standard_share": _share(t.issued_within_standard, t.issued),
        "ikm": ikm.ikm_rounded if ikm else None,
        "ikm_band": ikm.band if ikm else None,
        "survey_answers": _count(t.survey_answers),
        "complaints_received": _count(t.complaints_received),
        "complaints_answered_on_time_share": _share(
            t.complaints_answered_on_time, t.complaints_received
        ),
        "digital_share": _share(t.digital, t.digital + t.walk_in),
    }


def publish(
    kabupaten_code: str, month: str, tallies: dict[str, Tally], areas: Iterable[Desa]
) -> list[dict[str, Any]]:
    """The kabupaten's row, then each kecamatan's followed by its desa, all suppressed."""
    areas = sorted(areas, key=lambda d: (d.kecamatan_code, d.code))
    kabupaten = Tally()
    kecamatan: dict[str, Tally] = defaultdict(Tally)
    for d in areas:
        t = tallies.get(d.code, Tally())
        kabupaten.add(t)
        kecamatan[d.kecamatan_code].add(t)
    name = areas[0].kabupaten if areas else kabupaten_code
    top = figures_row("kabupaten", kabupaten_code, name, month, kabupaten)
    rows = [top]
    kecamatan_rows: list[dict[str, Any]] = []
    desa_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in areas:
        if not desa_rows[d.kecamatan_code]:
            row = figures_row(
                "kecamatan", d.kecamatan_code, d.kecamatan, month, kecamatan[d.kecamatan_code]
            )
            kecamatan_rows.append(row)
            rows.append(row)
        row = figures_row("desa", d.code, d.name, month, tallies.get(d.code, Tally()))
        desa_rows[d.kecamatan_code].append(row)
        rows.append(row)
    for parent in kecamatan_rows:
        complementary(parent, desa_rows[parent["code"]])
    complementary(top, kecamatan_rows)
    return rows


# Counts a reader could subtract from their area's total to recover a suppressed one, and the
# figures computed from each, hidden with it (a share such as 12/13 gives its count away).
DERIVED: dict[str, tuple[str, ...]] = {
    "requested": ("digital_share",),
    "issued": ("issued_within_standard_share",),
    "survey_answers": ("ikm", "ikm_band"),
    "complaints_received": ("complaints_answered_on_time_share",),
}
PROTECTED_COUNTS = tuple(DERIVED)


def _hide(row: dict[str, Any], column: str) -> None:
    row[column] = None
    for derived in DERIVED[column]:
        row[derived] = None


def complementary(parent: dict[str, Any], children: Sequence[dict[str, Any]]) -> None:
    """Secondary suppression: when exactly one child's count is hidden and the parent's is
    shown, the parent minus the others would give it away; so the smallest other non-zero
    count is hidden too (or, if every other child has none, the parent's), with the figures
    computed from it."""
    for column in PROTECTED_COUNTS:
        if parent[column] is None:
            continue
        hidden = [c for c in children if c[column] is None]
        if len(hidden) != 1:
            continue
        shown = [c for c in children if c[column]]
        _hide(min(shown, key=lambda c: (c[column], c["code"])) if shown else parent, column)


def check_month(month: str) -> tuple[datetime, datetime]:
    found = _MONTH.fullmatch(month)
    if not found:
        raise Invalid(
            "invalid-month", "Bulan harus ditulis TTTT-BB, misalnya 2026-11.", field="bulan"
        )
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=WIB)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=WIB)
    return start.astimezone(UTC), end.astimezone(UTC)


def current_month(now: datetime) -> str:
    return now.astimezone(WIB).strftime("%Y-%m")


async def local_tallies(
    session: AsyncSession, desa_codes: Sequence[str], month: str
) -> dict[str, Tally]:
    """Intake's own figures per desa: channels, survey and complaints (grouped queries)."""
    start, end = check_month(month)
    tallies: dict[str, Tally] = defaultdict(Tally)
    channels = await session.exec(
        select(LetterApplication.desa_code, LetterApplication.channel, func.count())
        .where(
            col(LetterApplication.desa_code).in_(desa_codes),
            col(LetterApplication.submitted_at) >= start,
            col(LetterApplication.submitted_at) < end,
        )
        .group_by(LetterApplication.desa_code, LetterApplication.channel)
    )
    for desa_code, channel, n in channels:
        if channel == WALK_IN:
            tallies[desa_code].walk_in += n
        elif channel in DIGITAL_CHANNELS:
            tallies[desa_code].digital += n
    element_sums = [func.sum(getattr(SurveyAnswer, f"u{i}")) for i in range(1, len(ELEMENTS) + 1)]
    survey = await session.exec(
        select(SurveyAnswer.desa_code, func.count(), *element_sums)
        .where(col(SurveyAnswer.desa_code).in_(desa_codes), SurveyAnswer.period == month)
        .group_by(SurveyAnswer.desa_code)
    )
    for row in survey:
        values: tuple[Any, ...] = tuple(row)
        desa_code, n = str(values[0]), int(values[1])
        tallies[desa_code].survey_answers += n
        tallies[desa_code].survey_sums = [int(total or 0) for total in values[2:]]
    answered = (
        select(ComplaintEntry.complaint_id, func.min(ComplaintEntry.at).label("at"))
        .where(ComplaintEntry.kind == "answered")
        .group_by(ComplaintEntry.complaint_id)
        .subquery()
    )
    complaints = await session.exec(
        select(Complaint.desa_code, Complaint.deadline_at, answered.c.at)
        .join(answered, answered.c.complaint_id == Complaint.id, isouter=True)
        .where(
            col(Complaint.desa_code).in_(desa_codes),
            col(Complaint.filed_at) >= start,
            col(Complaint.filed_at) < end,
        )
    )
    for desa_code, deadline_at, answered_at in complaints:
        tallies[desa_code].complaints_received += 1
        if answered_at is not None and _utc(answered_at) <= _utc(deadline_at):
            tallies[desa_code].complaints_answered_on_time += 1
    return tallies


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def merge_letters(tallies: dict[str, Tally], letters: directory_pb2.LetterFigures) -> None:
    for cell in letters.desa:
        t = tallies[cell.desa_code]
        t.requested = cell.requested
        t.issued = cell.issued
        t.working_hours_to_issue = list(cell.working_hours_to_issue)
        t.issued_within_standard = cell.issued_within_standard


def kabupaten_areas(kabupaten_code: str) -> list[Desa]:
    return [d for d in all_desa().values() if d.kabupaten_code == kabupaten_code]


async def figures(
    runtime: Runtime, session: AsyncSession, kabupaten_code: str, month: str
) -> list[dict[str, Any]]:
    """The published rows of a kabupaten and month (Invalid for an unknown kabupaten or a
    malformed month; Unavailable when verification does not answer)."""
    check_month(month)
    areas = kabupaten_areas(kabupaten_code)
    if not areas:
        raise Invalid("unknown-kabupaten", "Kabupaten tidak dikenal.", field="kabupaten")
    # Only the desa switched on (onboarding), and the kecamatan and kabupaten rows pooled from
    # them alone: a total that also held an unlisted desa would give its figures away by
    # subtraction. Unknown (verification silent): nothing rather than every desa.
    serving = await serving_desa(runtime.directory)
    if serving is None:
        raise Unavailable(
            "figures-unavailable", "Angka kinerja sedang tidak dapat ditampilkan. Coba lagi."
        )
    areas = [d for d in areas if d.code in serving]
    try:
        letters: directory_pb2.LetterFigures = await runtime.directory.GetLetterFigures(
            directory_pb2.GetLetterFiguresRequest(kabupaten_code=kabupaten_code, month=month),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        raise Unavailable(
            "figures-unavailable", "Angka kinerja sedang tidak dapat ditampilkan. Coba lagi."
        ) from exc
    tallies = await local_tallies(session, [d.code for d in areas], month)
    merge_letters(tallies, letters)
    return publish(kabupaten_code, month, tallies, areas)


def as_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()
