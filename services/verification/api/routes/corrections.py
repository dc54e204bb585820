"""Residents' requests to correct their own record (population/corrections.py) on the staff
API: the desa's staff list and read them; the operator, the Sekdes and the Kades (own role or
Plt) accept one, which corrects the register (kept in its history), or decline it with a reason
the resident reads on the portal. Reading one request logs a read of the resident's record."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from common.db import as_utc
from services.verification.api.deps import DesaStaff, HeldRoles, SessionDep
from services.verification.population.corrections import (
    MAX_NOTE,
    CorrectionView,
    accept,
    decline,
    document_of,
    field_label,
    read_request,
    requests_of_desa,
)
from services.verification.population.models import CORRECTION_LABELS, STATUS_LABELS
from services.verification.population.register import MAX_TEXT

router = APIRouter(prefix="/register-corrections", tags=["data penduduk"])

RequestId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]


class CorrectionOut(BaseModel):
    id: str
    resident_id: str  # the register's opaque id (GET /api/v1/residents/{id})
    resident_name: str
    resident_status: str
    field: str
    field_label: str
    current_value: str  # the register's value when the resident asked
    proposed_value: str
    note: str
    status: str  # menunggu | diterima | ditolak
    status_label: str
    decline_reason: str
    accepted_value: str
    decided_by: str
    decided_at: datetime | None
    has_document: bool
    created_at: datetime

    @classmethod
    def of(cls, view: CorrectionView) -> "CorrectionOut":
        r = view.request
        return cls(
            id=r.id,
            resident_id=view.resident.id,
            resident_name=view.resident.name,
            resident_status=STATUS_LABELS[view.resident.status],
            field=r.field,
            field_label=field_label(r.field),
            current_value=r.current_value,
            proposed_value=r.proposed_value,
            note=r.note,
            status=r.status,
            status_label=CORRECTION_LABELS[r.status],
            decline_reason=r.decline_reason,
            accepted_value=r.accepted_value,
            decided_by=r.decided_by,
            decided_at=as_utc(r.decided_at) if r.decided_at else None,
            has_document=bool(r.document),
            created_at=as_utc(r.created_at),
        )


class AcceptIn(BaseModel):
    # What the register should hold, when the document shows something other than what the
    # resident wrote; the resident's proposal when absent.
    value: str | None = Field(default=None, max_length=MAX_TEXT)


class DeclineIn(BaseModel):
    reason: str = Field(max_length=MAX_NOTE)


@router.get("")
async def list_corrections(
    staff: DesaStaff,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(menunggu|diterima|ditolak)$")] = None,
) -> list[CorrectionOut]:
    """The desa's correction requests, those waiting first, then the newest."""
    return [CorrectionOut.of(v) for v in await requests_of_desa(session, staff.desa_code, status)]


@router.get("/{request_id}")
async def get_correction(
    request_id: RequestId, staff: DesaStaff, session: SessionDep
) -> CorrectionOut:
    view = await read_request(session, staff.desa_code, request_id, actor=staff.username)
    return CorrectionOut.of(view)


@router.get("/{request_id}/document")
async def get_document(request_id: RequestId, staff: DesaStaff, session: SessionDep) -> Response:
    """The photo or PDF the resident sent with the request."""
    content, content_type = await document_of(
        session, staff.desa_code, request_id, actor=staff.username
    )
    return Response(
        content,
        media_type=content_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/{request_id}/accept")
async def accept_correction(
    request_id: RequestId,
    body: AcceptIn,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> CorrectionOut:
    """Corrects the register (recorded in the resident's history) and marks it accepted."""
    view = await accept(
        session, staff.desa_code, roles, request_id, actor=staff.username, value=body.value
    )
    return CorrectionOut.of(view)


@router.post("/{request_id}/decline")
async def decline_correction(
    request_id: RequestId,
    body: DeclineIn,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> CorrectionOut:
    view = await decline(
        session, staff.desa_code, roles, request_id, actor=staff.username, reason=body.reason
    )
    return CorrectionOut.of(view)
