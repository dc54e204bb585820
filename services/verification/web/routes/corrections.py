"""Permintaan perbaikan data (/perbaikan-data): residents' requests to correct their own record
in the population register, over the same use cases as /api/v1/register-corrections
(services/verification/population/corrections.py). Every desa staff member sees them; the
operator, the Sekdes and the Kades (also as Plt) accept (the register is corrected, kept in its
history) or decline with a reason the resident reads on the portal."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import DomainError
from common.web.refusals import refusal_of
from services.verification.api.deps import DesaStaff, HeldRoles, SessionDep
from services.verification.population.corrections import (
    MAX_NOTE,
    accept,
    decline,
    document_of,
    field_label,
    read_request,
    requests_of_desa,
)
from services.verification.population.models import (
    CORRECTION_LABELS,
    CORRECTION_PENDING,
    STATUS_LABELS,
)
from services.verification.population.register import MAX_TEXT, may_edit
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.settings import problem_flash

router = APIRouter(prefix="/perbaikan-data", include_in_schema=False)

RequestId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]
NOTICES = {
    "diterima": "Perbaikan diterima; data penduduk sudah diperbaiki dan tercatat di riwayatnya.",
    "ditolak": "Permintaan perbaikan ditolak; warga membaca alasannya di portal.",
}


def _context(page: StaffPage) -> dict[str, Any]:
    return {
        "title": "Permintaan perbaikan data",
        "nav_active": "penduduk",
        "may_edit": may_edit(page.roles),
        "field_label": field_label,
        "CORRECTION_LABELS": CORRECTION_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "PENDING": CORRECTION_PENDING,
    }


@router.get("")
async def list_page(
    request: Request, page: StaffPageDep, staff: DesaStaff, session: SessionDep
) -> HTMLResponse:
    views = await requests_of_desa(session, staff.desa_code)
    return render(request, "perbaikan_data.html", {**_context(page), "requests": views}, page=page)


async def _detail(
    request: Request,
    page: StaffPage,
    staff: DesaStaff,
    session: SessionDep,
    request_id: str,
    *,
    extra: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = await read_request(session, staff.desa_code, request_id, actor=staff.username)
    notice = NOTICES.get(request.query_params.get("pesan", ""))
    return render(
        request,
        "perbaikan_data_rinci.html",
        {
            **_context(page),
            "v": view,
            "form": form or {},
            "max_text": MAX_TEXT,
            "max_note": MAX_NOTE,
            **({"flash": notice, "flash_kind": "ok"} if notice else {}),
            **(extra or {}),
        },
        page=page,
        status_code=status_code,
    )


@router.get("/{request_id}")
async def detail_page(
    request: Request,
    request_id: RequestId,
    page: StaffPageDep,
    staff: DesaStaff,
    session: SessionDep,
) -> HTMLResponse:
    return await _detail(request, page, staff, session, request_id)


@router.get("/{request_id}/dokumen")
async def document(request_id: RequestId, staff: DesaStaff, session: SessionDep) -> Response:
    content, content_type = await document_of(
        session, staff.desa_code, request_id, actor=staff.username
    )
    return Response(
        content,
        media_type=content_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/{request_id}/terima")
async def accept_page(
    request: Request,
    request_id: RequestId,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    nilai: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        await accept(
            session, staff.desa_code, roles, request_id, actor=staff.username, value=nilai or None
        )
    except DomainError as exc:
        if refusal_of(exc).status not in (409, 422):
            raise
        return await _detail(
            request,
            page,
            staff,
            session,
            request_id,
            extra=problem_flash(exc),
            form={"nilai": nilai},
            status_code=refusal_of(exc).status,
        )
    return RedirectResponse(f"/perbaikan-data/{request_id}?pesan=diterima", 303)


@router.post("/{request_id}/tolak")
async def decline_page(
    request: Request,
    request_id: RequestId,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    alasan: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    try:
        await decline(
            session, staff.desa_code, roles, request_id, actor=staff.username, reason=alasan
        )
    except DomainError as exc:
        if refusal_of(exc).status not in (409, 422):
            raise
        return await _detail(
            request,
            page,
            staff,
            session,
            request_id,
            extra=problem_flash(exc),
            form={"alasan": alasan},
            status_code=refusal_of(exc).status,
        )
    return RedirectResponse(f"/perbaikan-data/{request_id}?pesan=ditolak", 303)
