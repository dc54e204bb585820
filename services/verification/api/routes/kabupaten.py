"""For the kabupaten's staff (Diskominfo's operator, DPMD's viewer): overdue letters across the
kabupaten's desa and the kabupaten view's summary, read-only. No personal data: the task projection holds ids, codes, roles and times only."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from common.db import as_utc
from services.verification import staff_tasks
from services.verification.api.deps import CurrentStaff, KabupatenStaff, SessionDep, SettingsDep
from services.verification.kabupaten_view import (
    AreaRow,
    Filters,
    Period,
    Summary,
    kabupaten_summary,
    temporal_ui,
    today_wib,
)
from services.verification.models import Task
from services.verification.staff_tasks import EscalatedTask
from services.verification.task_inbox import overdue_in_kabupaten

router = APIRouter(prefix="/kabupaten", tags=["kabupaten"])


class OverdueTask(BaseModel):
    application_id: str
    desa_code: str
    kecamatan_code: str
    letter_type: str
    step_index: int
    step_role: str
    assigned_at: datetime
    deadline: datetime | None
    escalated_to_role: str | None
    escalation_level: int
    kind: str  # "decision", or "signing_blocked": approved, but signing refuses the letter

    @classmethod
    def of(cls, t: Task) -> "OverdueTask":
        return cls(
            application_id=t.application_id,
            desa_code=t.desa_code,
            kecamatan_code=t.kecamatan_code,
            letter_type=t.letter_type,
            step_index=t.step_index,
            step_role=t.role,
            assigned_at=as_utc(t.assigned_at),
            deadline=as_utc(t.deadline) if t.deadline else None,
            escalated_to_role=t.escalated_to_role or None,
            escalation_level=t.escalation_level,
            kind=t.kind,
        )


@router.get("/tasks")
async def escalated_tasks(staff: CurrentStaff, session: SessionDep) -> list[EscalatedTask]:
    """The kabupaten operator's inbox: the steps escalated to them in their kabupaten (a Kades
    step past its deadline, any step past its second one), overdue first, with the desa and
    kecamatan by name. They may open and decide these (`/api/v1/tasks/{id}`). No personal
    data; 403 for anyone but the kabupaten operator."""
    return await staff_tasks.escalated_tasks(session, staff)


@router.get("/overdue-tasks")
async def overdue_tasks(
    staff: KabupatenStaff,
    session: SessionDep,
    kecamatan_code: Annotated[str | None, Query(max_length=20)] = None,
    desa_code: Annotated[str | None, Query(max_length=20)] = None,
) -> list[OverdueTask]:
    """Every step past its deadline, and every approved letter signing refuses, in the
    operator's kabupaten, most overdue first; filter by kecamatan or desa code."""
    tasks = await overdue_in_kabupaten(session, staff.kabupaten_code, kecamatan_code, desa_code)
    return [OverdueTask.of(t) for t in tasks]


class CountsOut(BaseModel):
    """Letters submitted in the period by their state now; masuk is the sum of the others."""

    masuk: int
    diproses: int
    terlambat: int
    terbit: int
    ditolak: int
    dibatalkan: int
    kedaluwarsa: int


class AreaOut(BaseModel):
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    counts: CountsOut
    temporal_url: str  # the Temporal UI's workflow list filtered to this area


class StepTimesOut(BaseModel):
    role: str  # operator | kasi | sekdes | kades
    name: str
    decided: int
    median_working_hours: float | None
    p90_working_hours: float | None
    median_hours: float | None
    p90_hours: float | None


class OverdueOut(OverdueTask):
    desa: str
    kecamatan: str
    temporal_url: str


class SummaryOut(BaseModel):
    period_from: date
    period_to: date
    kecamatan_code: str | None
    desa_code: str | None
    total: CountsOut
    kecamatan: list[AreaOut]
    desa: list[AreaOut]
    steps: list[StepTimesOut]
    overdue: list[OverdueOut]
    # How many are overdue in all; `overdue` holds the most urgent of them (at most 100), the
    # rest are in GET /kabupaten/overdue-tasks.
    overdue_total: int
    overdue_temporal_url: str

    @classmethod
    def of(cls, s: Summary) -> "SummaryOut":
        def area(row: AreaRow) -> AreaOut:
            return AreaOut(
                code=row.code,
                name=row.name,
                kecamatan_code=row.kecamatan_code,
                kecamatan=row.kecamatan,
                counts=CountsOut(**row.counts.as_dict()),
                temporal_url=row.temporal_url,
            )

        return cls(
            period_from=s.filters.period.start,
            period_to=s.filters.period.end,
            kecamatan_code=s.filters.kecamatan_code,
            desa_code=s.filters.desa_code,
            total=CountsOut(**s.total.as_dict()),
            kecamatan=[area(r) for r in s.kecamatan],
            desa=[area(r) for r in s.desa],
            steps=[StepTimesOut(**vars(st)) for st in s.steps],
            overdue=[
                OverdueOut(
                    **OverdueTask.of(o.task).model_dump(),
                    desa=o.desa,
                    kecamatan=o.kecamatan,
                    temporal_url=o.temporal_url,
                )
                for o in s.overdue
            ],
            overdue_total=s.overdue_total,
            overdue_temporal_url=s.overdue_url,
        )


def filters_of(
    period_from: date | None,
    period_to: date | None,
    kecamatan: str | None,
    desa: str | None,
    today: date | None = None,
) -> Filters:
    """The filters as given; without dates the last 30 days (WIB) up to today."""
    today = today or today_wib()
    default = Period.last_days(today)
    return Filters(
        Period(period_from or default.start, period_to or max(period_from or today, today)),
        kecamatan or None,
        desa or None,
    )


@router.get("/summary")
async def summary(
    staff: KabupatenStaff,
    session: SessionDep,
    settings: SettingsDep,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
    kecamatan: Annotated[str | None, Query(max_length=20)] = None,
    desa: Annotated[str | None, Query(max_length=20)] = None,
) -> SummaryOut:
    """Letters per kecamatan and desa by state (submitted from `from` to `to`, WIB dates, by
    default the last 30 days), each role's median and 90th percentile time per step (steps
    decided in the period), and the overdue list; each row with its Temporal UI link. The same
    numbers as the /kabupaten page."""
    filters = filters_of(period_from, period_to, kecamatan, desa)
    result = await kabupaten_summary(session, staff.kabupaten_code, filters, temporal_ui(settings))
    return SummaryOut.of(result)
