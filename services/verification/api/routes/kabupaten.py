"""For the kabupaten operator (Diskominfo / DPMD): overdue letters across the kabupaten's desa,
read-only. No personal data: the task projection holds ids, codes, roles and times only."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from common.db import as_utc
from services.verification.api.deps import KabupatenStaff, SessionDep
from services.verification.models import Task
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
