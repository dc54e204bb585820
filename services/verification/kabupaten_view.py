"""The kabupaten view (Diskominfo, DPMD): letters per desa and kecamatan by state, how long each
role takes over its step, and the overdue list, each row with a link to the Temporal Web UI
already filtered to it. The staff page and `GET /api/v1/kabupaten/summary` both show this.

What it counts, from verification's own projections of the public events (codes and times only):
- letters: the applications submitted in the period (WIB dates, both ends included), by the
  state they are in now. The states part them: masuk = diproses + terlambat + terbit + ditolak
  + dibatalkan + kedaluwarsa, where "terlambat" is a letter still open with a step past its
  deadline (or escalated, or signing refuses it: the overdue list) and "diproses" every other
  open one (in review, back with the resident for revision).
- step times: the route steps decided in the period (approved, returned for revision or
  rejected), from assignment to decision, per the step's role (operator, Kasi, Sekdes, Kades;
  also when a supervisor decided it after an escalation): the median
  and the 90th percentile (linear between the nearest ranks) in the desa's working hours (its
  calendar as it was set when the step was decided, with national holidays and cuti bersama,
  as the deadlines count them: the task projection keeps each step's working seconds then) and
  in calendar hours. A step decided again after a revision counts its last round.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy import ARRAY, ColumnElement, Float, case, func, literal
from sqlalchemy.dialects import postgresql
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain import ApplicationStatus, Role, role_label
from common.domain.errors import Invalid
from common.wib import WIB
from common.wilayah import all_desa
from services.verification.config import Settings
from services.verification.models import (
    TASK_DONE,
    TASK_KIND_DECISION,
    TASK_REVISION_REQUESTED,
    ApplicationRecord,
    Task,
)
from services.verification.step_rollup import role_group, values_in
from services.verification.task_inbox import overdue_clause, overdue_in_kabupaten
from workflows.approval import workflow_id

# The longest period one may ask for (a bit over three years).
MAX_PERIOD_DAYS = 3 * 366
# States a letter may be counted in, in the order the page shows them.
STATE_NAMES = {
    "masuk": "Masuk",
    "diproses": "Diproses",
    "terlambat": "Terlambat",
    "terbit": "Selesai (terbit)",
    "ditolak": "Ditolak",
    "dibatalkan": "Dibatalkan",
    "kedaluwarsa": "Kedaluwarsa",
}
_FINAL: dict[str, str] = {
    ApplicationStatus.ISSUED: "terbit",
    ApplicationStatus.REJECTED: "ditolak",
    ApplicationStatus.CANCELLED: "dibatalkan",
    ApplicationStatus.EXPIRED: "kedaluwarsa",
}
# Route roles grouped as the kabupaten compares them: every Kasi together.
ROLE_GROUPS = {
    Role.OPERATOR: role_label(Role.OPERATOR),
    "kasi": "Kasi",
    Role.SEKDES: role_label(Role.SEKDES),
    Role.KADES: role_label(Role.KADES),
}


class PeriodError(Invalid):
    """A period or area filter that cannot be shown; the message is for people (Indonesian)."""

    field: str  # always names the filter

    def __init__(self, field: str, message: str) -> None:
        super().__init__("invalid-filter", message, field=field)


@dataclass(frozen=True)
class Period:
    """WIB dates, both included."""

    start: date
    end: date

    @classmethod
    def last_days(cls, today: date, days: int = 30) -> "Period":
        return cls(today - timedelta(days=days - 1), today)

    @classmethod
    def this_month(cls, today: date) -> "Period":
        return cls(today.replace(day=1), today)

    def check(self) -> None:
        if self.end < self.start:
            raise PeriodError("sampai", "Tanggal akhir tidak boleh sebelum tanggal awal.")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise PeriodError("dari", "Periode paling panjang tiga tahun.")

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), WIB).astimezone(UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(0), WIB).astimezone(UTC)


def today_wib(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(WIB).date()


@dataclass(frozen=True)
class TemporalUi:
    """Links into the Temporal Web UI: `/namespaces/<ns>/workflows?query=<visibility query>`
    (the search attributes of workflows/approval/search_attributes.py)."""

    base_url: str
    namespace: str

    @cached_property
    def _workflows(self) -> str:
        # Once: the overdue list makes one link per row, thousands in a kabupaten.
        return f"{self.base_url.rstrip('/')}/namespaces/{quote(self.namespace, safe='')}/workflows"

    def query(self, query: str) -> str:
        return f"{self._workflows}?query={quote(query, safe='')}"

    def desa(self, code: str) -> str:
        return self.query(f'DesaCode = "{code}"')

    def kecamatan(self, code: str) -> str:
        return self.query(f'KecamatanCode = "{code}"')

    @cached_property
    def _workflow_query(self) -> str:
        return self._workflows + "?query=" + quote('WorkflowId = "', safe="")

    def workflow(self, application_id: str) -> str:
        # As query(f'WorkflowId = "{workflow_id(application_id)}"'), quoting its fixed parts
        # once: the overdue list makes a link per row, thousands in a kabupaten.
        return f"{self._workflow_query}{quote(workflow_id(application_id), safe='')}%22"

    def overdue(self, desa_code: str | None = None, kecamatan_code: str | None = None) -> str:
        query = "Overdue = true"
        if desa_code:
            query += f' AND DesaCode = "{desa_code}"'
        elif kecamatan_code:
            query += f' AND KecamatanCode = "{kecamatan_code}"'
        return self.query(query)


def temporal_ui(settings: Settings) -> TemporalUi:
    """The Temporal UI of this deployment."""
    return TemporalUi(settings.temporal_ui_url, settings.temporal_namespace)


@dataclass
class Counts:
    masuk: int = 0
    diproses: int = 0
    terlambat: int = 0
    terbit: int = 0
    ditolak: int = 0
    dibatalkan: int = 0
    kedaluwarsa: int = 0

    def add(self, state: str, count: int = 1) -> None:
        self.masuk += count
        setattr(self, state, getattr(self, state) + count)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in STATE_NAMES}


def state_of(record: ApplicationRecord, overdue_ids: set[str]) -> str:
    """Which count a letter falls in (besides "masuk")."""
    final = _FINAL.get(record.status)
    if final:
        return final
    return "terlambat" if record.application_id in overdue_ids else "diproses"


def count_states(records: Iterable[ApplicationRecord], overdue_ids: set[str]) -> Counts:
    counts = Counts()
    for record in records:
        counts.add(state_of(record, overdue_ids))
    return counts


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1), linear between the nearest ranks; None without values."""
    return _quantile(sorted(values), q)


@dataclass
class StepTimes:
    role: str  # operator | kasi | sekdes | kades (or another route role as it is)
    name: str
    decided: int
    median_working_hours: float | None
    p90_working_hours: float | None
    median_hours: float | None
    p90_hours: float | None


class DecidedStep(NamedTuple):
    """What the step times read of a decided task."""

    role: str
    working_seconds: float | None  # kept when it was decided (Task.working_seconds)
    assigned_at: datetime
    closed_at: datetime


def step_times(steps: Iterable[DecidedStep]) -> list[StepTimes]:
    """Per role group, from assignment to decision: median and 90th percentile, in working
    hours of each step's desa calendar (as it was kept when the step was decided) and in
    calendar hours. Groups in route order. PostgreSQL takes the same percentiles itself
    (`_step_times_in_postgresql`); this is SQLite's way (dev and tests)."""
    working: dict[str, list[float]] = defaultdict(list)
    calendar_hours: dict[str, list[float]] = defaultdict(list)
    decided: dict[str, int] = defaultdict(int)
    for step in steps:
        group = role_group(step.role)
        decided[group] += 1
        if step.working_seconds is not None:
            working[group].append(step.working_seconds / 3600)
        seconds = as_utc(step.closed_at).timestamp() - as_utc(step.assigned_at).timestamp()
        calendar_hours[group].append(max(seconds, 0) / 3600)
    return [
        StepTimes(
            role=group,
            name=ROLE_GROUPS.get(group, group),
            decided=decided[group],
            median_working_hours=percentile(working[group], 0.5),
            p90_working_hours=percentile(working[group], 0.9),
            median_hours=percentile(calendar_hours[group], 0.5),
            p90_hours=percentile(calendar_hours[group], 0.9),
        )
        for group in _route_order(decided)
    ]


def _route_order(groups: Iterable[str]) -> list[str]:
    order = list(ROLE_GROUPS)
    return sorted(groups, key=lambda g: (order.index(g) if g in order else len(order), g))


def _decided_in(
    kabupaten_code: str, period: Period, kecamatan: str | None, desa: str | None
) -> list[ColumnElement[bool]]:
    """The route steps decided in the period (approved, returned for revision, rejected)."""
    where: list[ColumnElement[bool]] = [
        col(Task.kabupaten_code) == kabupaten_code,
        col(Task.kind) == TASK_KIND_DECISION,
        col(Task.status).in_((TASK_DONE, TASK_REVISION_REQUESTED)),
        col(Task.closed_at) >= period.since,
        col(Task.closed_at) < period.until,
    ]
    if kecamatan:
        where.append(col(Task.kecamatan_code) == kecamatan)
    if desa:
        where.append(col(Task.desa_code) == desa)
    return where


async def _step_times_in_postgresql(
    session: AsyncSession, where: list[ColumnElement[bool]]
) -> list[StepTimes]:
    """`step_times` in the database (one desa's steps; the kabupaten's and a kecamatan's come
    from the rollup): only a row per role group comes back. percentile_cont interpolates
    between the nearest ranks as `percentile` does."""
    group = case(
        (col(Task.role).startswith("kasi_", autoescape=True), "kasi"), else_=col(Task.role)
    )
    elapsed = func.greatest(
        func.extract("epoch", col(Task.closed_at) - col(Task.assigned_at)), 0
    ) / literal(3600.0)
    working = col(Task.working_seconds) / literal(3600.0)

    def median_and_p90(value: ColumnElement[Any]) -> ColumnElement[Any]:
        quantiles = func.percentile_cont(postgresql.array([0.5, 0.9]), type_=ARRAY(Float))
        return quantiles.within_group(value)

    query = (
        select(group, func.count(), median_and_p90(working), median_and_p90(elapsed))
        .where(*where)
        .group_by(group)
    )
    rows = {row[0]: row[1:] for row in (await session.exec(query)).all()}
    times = []
    for name in _route_order(rows):
        decided, working_hours, hours = rows[name]
        median_working, p90_working = working_hours or (None, None)
        median, p90 = hours or (None, None)
        times.append(
            StepTimes(
                role=name,
                name=ROLE_GROUPS.get(name, name),
                decided=decided,
                median_working_hours=median_working,
                p90_working_hours=p90_working,
                median_hours=median,
                p90_hours=p90,
            )
        )
    return times


async def decided_step_times(
    session: AsyncSession,
    kabupaten_code: str,
    period: Period,
    kecamatan: str | None = None,
    desa: str | None = None,
) -> list[StepTimes]:
    """The step times of the route steps decided in the period, from the working seconds each
    task kept when it was decided (its desa's calendar as set then, docs/performance.md): the
    kabupaten's or a kecamatan's from the rollup the projection keeps, one desa's (a few hundred
    steps a month) from the tasks. The same figures either way."""
    if desa:
        return await raw_step_times(session, kabupaten_code, period, kecamatan, desa)
    return await rollup_step_times(session, kabupaten_code, period, kecamatan)


async def raw_step_times(
    session: AsyncSession,
    kabupaten_code: str,
    period: Period,
    kecamatan: str | None = None,
    desa: str | None = None,
) -> list[StepTimes]:
    """`decided_step_times` from the tasks themselves: in the database on PostgreSQL, in
    Python on SQLite."""
    where = _decided_in(kabupaten_code, period, kecamatan, desa)
    if session.get_bind().dialect.name == "postgresql":
        return await _step_times_in_postgresql(session, where)
    query = select(Task.role, Task.working_seconds, Task.assigned_at, col(Task.closed_at)).where(
        *where
    )
    return step_times(DecidedStep(*row) for row in (await session.exec(query)).all())


async def rollup_step_times(
    session: AsyncSession, kabupaten_code: str, period: Period, kecamatan: str | None = None
) -> list[StepTimes]:
    """`decided_step_times` from the rollup (step_rollup.py): the period's cells (a month of a
    kabupaten is about 2,700), their values put together per role group and sorted here: the
    database's sort of 75,000 steps per request was what kept the summary over its target, and
    sorting the bare values here costs less (docs/performance.md has both measured)."""
    groups = await values_in(session, kabupaten_code, period.start, period.end, kecamatan)

    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else seconds / 3600

    times = []
    for group in _route_order(groups):
        values = groups[group]
        working, elapsed = sorted(values.working_seconds), sorted(values.elapsed_seconds)
        times.append(
            StepTimes(
                role=group,
                name=ROLE_GROUPS.get(group, group),
                decided=values.decided,
                median_working_hours=hours(_quantile(working, 0.5)),
                p90_working_hours=hours(_quantile(working, 0.9)),
                median_hours=hours(_quantile(elapsed, 0.5)),
                p90_hours=hours(_quantile(elapsed, 0.9)),
            )
        )
    return times


def _quantile(ordered: list[float], q: float) -> float | None:
    """`percentile` of values already in order."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class AreaRow:
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    counts: Counts
    temporal_url: str


@dataclass
class OverdueRow:
    task: Task
    desa: str
    kecamatan: str
    temporal_url: str


@dataclass(frozen=True)
class Area:
    """The kabupaten's kecamatan and desa names (common/wilayah.py)."""

    kabupaten_code: str
    kecamatan: dict[str, str]  # code -> name, by code
    desa: dict[str, tuple[str, str]]  # code -> (name, kecamatan code), by code

    @classmethod
    def of(cls, kabupaten_code: str) -> "Area":
        desa = sorted(
            (d for d in all_desa().values() if d.kabupaten_code == kabupaten_code),
            key=lambda d: d.code,
        )
        return cls(
            kabupaten_code,
            {d.kecamatan_code: d.kecamatan for d in desa},
            {d.code: (d.name, d.kecamatan_code) for d in desa},
        )

    def desa_name(self, code: str) -> str:
        return self.desa[code][0] if code in self.desa else code

    def kecamatan_name(self, code: str) -> str:
        return self.kecamatan.get(code, code)


@dataclass(frozen=True)
class Filters:
    period: Period
    kecamatan_code: str | None = None
    desa_code: str | None = None

    def check(self, area: Area) -> None:
        self.period.check()
        if self.kecamatan_code and self.kecamatan_code not in area.kecamatan:
            raise PeriodError("kecamatan", "Kecamatan ini tidak ada di kabupaten Anda.")
        if self.desa_code:
            if self.desa_code not in area.desa:
                raise PeriodError("desa", "Desa ini tidak ada di kabupaten Anda.")
            if self.kecamatan_code and area.desa[self.desa_code][1] != self.kecamatan_code:
                raise PeriodError("desa", "Desa ini tidak berada di kecamatan yang dipilih.")


@dataclass
class Summary:
    filters: Filters
    total: Counts
    kecamatan: list[AreaRow]
    desa: list[AreaRow]
    steps: list[StepTimes]
    overdue: list[OverdueRow]
    overdue_url: str
    kecamatan_names: dict[str, str] = field(default_factory=dict)


async def kabupaten_summary(
    session: AsyncSession, kabupaten_code: str, filters: Filters, ui: TemporalUi
) -> Summary:
    """Everything the kabupaten view shows; raises PeriodError for filters it cannot show."""
    area = Area.of(kabupaten_code)
    filters.check(area)
    kecamatan, desa = filters.kecamatan_code, filters.desa_code
    period = filters.period

    overdue = await overdue_in_kabupaten(session, kabupaten_code, kecamatan, desa)

    # Counted by the database (a month of a kabupaten is tens of thousands of letters): per
    # desa, state and whether a step of it is on the overdue list, as `state_of` parts them.
    late = col(ApplicationRecord.application_id).in_(
        select(Task.application_id).where(overdue_clause(kabupaten_code))
    )
    # A final status as it is (mapped below), else terlambat or diproses.
    state = case(
        (col(ApplicationRecord.status).in_(list(_FINAL)), ApplicationRecord.status),
        (late, "terlambat"),
        else_="diproses",
    )
    query = select(
        ApplicationRecord.kecamatan_code, ApplicationRecord.desa_code, state, func.count()
    ).where(
        ApplicationRecord.kabupaten_code == kabupaten_code,
        col(ApplicationRecord.submitted_at) >= period.since,
        col(ApplicationRecord.submitted_at) < period.until,
    )
    if kecamatan:
        query = query.where(ApplicationRecord.kecamatan_code == kecamatan)
    if desa:
        query = query.where(ApplicationRecord.desa_code == desa)
    query = query.group_by(ApplicationRecord.kecamatan_code, ApplicationRecord.desa_code, state)

    by_kecamatan: dict[str, Counts] = defaultdict(Counts)
    by_desa: dict[str, Counts] = defaultdict(Counts)
    total = Counts()
    for kecamatan_code, desa_code, status, count in (await session.exec(query)).all():
        name = _FINAL.get(status, status)
        total.add(name, count)
        by_kecamatan[kecamatan_code].add(name, count)
        by_desa[desa_code].add(name, count)

    kecamatan_codes = sorted({kecamatan} if kecamatan else {*area.kecamatan, *by_kecamatan})
    kecamatan_rows = [
        AreaRow(
            code=code,
            name=area.kecamatan_name(code),
            kecamatan_code=code,
            kecamatan=area.kecamatan_name(code),
            counts=by_kecamatan.get(code, Counts()),
            temporal_url=ui.kecamatan(code),
        )
        for code in kecamatan_codes
        if code
    ]
    desa_codes = set(by_desa)
    if desa:
        desa_codes.add(desa)
    elif kecamatan:  # every desa of the chosen kecamatan, those without letters too
        desa_codes |= {code for code, (_, kec) in area.desa.items() if kec == kecamatan}
    desa_rows = []
    for code in sorted(desa_codes):
        kec = area.desa[code][1] if code in area.desa else ".".join(code.split(".")[:3])
        desa_rows.append(
            AreaRow(
                code=code,
                name=area.desa_name(code),
                kecamatan_code=kec,
                kecamatan=area.kecamatan_name(kec),
                counts=by_desa.get(code, Counts()),
                temporal_url=ui.desa(code),
            )
        )

    steps = await decided_step_times(session, kabupaten_code, period, kecamatan, desa)

    overdue_rows = [
        OverdueRow(
            task=t,
            desa=area.desa_name(t.desa_code),
            kecamatan=area.kecamatan_name(t.kecamatan_code),
            temporal_url=ui.workflow(t.application_id),
        )
        for t in overdue
    ]
    return Summary(
        filters=filters,
        total=total,
        kecamatan=kecamatan_rows,
        desa=desa_rows,
        steps=steps,
        overdue=overdue_rows,
        overdue_url=ui.overdue(desa, kecamatan),
        kecamatan_names=dict(area.kecamatan),
    )
