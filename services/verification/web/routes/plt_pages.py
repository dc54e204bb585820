"""Plt periods (/pengaturan/plt), the same use cases as /api/v1/plt (`plt_periods`): every desa
staff member sees the current and upcoming ones; the Sekdes and the Kades (also as Plt) grant
and end them."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from common.domain import DESA_ROLES, ROLE_LABELS
from common.domain.errors import DomainError
from common.web.refusals import Refusal, refusal_of
from services.verification import plt_periods
from services.verification.api.deps import (
    DesaManager,
    DesaStaff,
    HeldRoles,
    RuntimeDep,
    SessionDep,
)
from services.verification.inbox_events import publish_inbox_changed
from services.verification.plt import may_grant
from services.verification.plt_periods import PltIn
from services.verification.staff_admin import desa_accounts
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.settings import done, flash_of, refusal_flash

router = APIRouter(prefix="/pengaturan/plt", include_in_schema=False)


async def _page(
    request: Request,
    page: StaffPage,
    staff: DesaStaff,
    session: SessionDep,
    *,
    form: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    periods = await plt_periods.periods(session, staff.desa_code)
    accounts = await desa_accounts(session, staff.desa_code) if page.is_manager else []
    return render(
        request,
        "pengaturan/plt.html",
        {
            "title": "Pelaksana tugas (Plt)",
            "nav_active": "pengaturan",
            "periods": periods,
            "staff_options": [
                (a.username, f"{a.username} ({ROLE_LABELS.get(a.role, a.role)})")
                for a in accounts
                if a.active and a.username != staff.username
            ],
            "role_options": [(r, ROLE_LABELS[r]) for r in DESA_ROLES if may_grant(page.roles, r)],
            "may_end": {p.id for p in periods if may_grant(page.roles, p.role)},
            "form": form or {},
            **(extra if extra is not None else flash_of(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get("")
async def plt_page(
    request: Request, page: StaffPageDep, staff: DesaStaff, session: SessionDep
) -> HTMLResponse:
    return await _page(request, page, staff, session)


@router.post("")
async def grant(
    request: Request,
    page: StaffPageDep,
    staff: DesaManager,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    mulai: Annotated[str, Form(max_length=40)] = "",
    sampai: Annotated[str, Form(max_length=40)] = "",
    alasan: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"username": username, "role": role, "mulai": mulai, "sampai": sampai, "alasan": alasan}
    refused: Refusal | None = None
    try:
        body = PltIn(
            username=username,
            role=role,
            starts_at=datetime.fromisoformat(mulai) if mulai.strip() else None,
            ends_at=datetime.fromisoformat(sampai),
            reason=alasan,
        )
    except (ValueError, ValidationError):
        refused = Refusal(
            422,
            "Isi akhir masa Plt (tanggal dan jam, WIB) dan pilih staf serta jabatannya.",
            field="sampai",
        )
    else:
        try:
            await plt_periods.grant(session, staff, roles, body)
            # The new Plt's open inbox page (on any replica) now lists the role's tasks too.
            await publish_inbox_changed(runtime.nats, staff.desa_code, plt=True)
        except DomainError as exc:
            refused = refusal_of(exc)
            if refused.status not in (409, 422):
                raise
    if refused is not None:
        return await _page(
            request,
            page,
            staff,
            session,
            form=form,
            extra=refusal_flash(refused),
            status_code=refused.status,
        )
    return done("/pengaturan/plt", "plt-ditetapkan")


@router.post("/{plt_id}/akhiri")
async def end(
    plt_id: Annotated[int, Path(ge=1)],
    staff: DesaManager,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    await plt_periods.end(session, staff, roles, plt_id)
    await publish_inbox_changed(runtime.nats, staff.desa_code, plt=True)
    return done("/pengaturan/plt", "plt-diakhiri")
