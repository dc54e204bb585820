"""The operator's pages for residents' sign-in (issue 13 item 6), over the same use cases as
the staff API (services/verification/population/sign_in_phone.py):

- /masuk-warga: the phones bound to NIKs the register holds without one, by a first sign-in
  that proved the KK number and mother's name; each can be undone.
- /penduduk/{id}/nomor-hp: a resident's new phone, recorded after their KTP and KK were
  checked in person at the office.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import DomainError, Unavailable
from common.web.refusals import refusal_of
from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.population import sign_in_phone
from services.verification.population.register import read_resident, require_editor
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.settings import problem_flash

router = APIRouter(include_in_schema=False)

BindingId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f-]+$")]
ResidentId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]
LinkId = Annotated[str, Path(min_length=40, max_length=40, pattern="^[0-9a-f]{40}$")]
BINDINGS_PATH = "/masuk-warga"

DONE = {
    "dibatalkan": (
        "Pengikatan dibatalkan. Nomor itu tidak lagi dapat masuk dengan NIK tersebut dan semua "
        "sesi warga itu berakhir. Bila pemilik NIK datang, catat nomor HP-nya lewat Ganti nomor "
        "HP di data penduduknya."
    ),
    "sudah-dibatalkan": "Pengikatan itu sudah dibatalkan sebelumnya.",
    "wa-dibatalkan": (
        "Tautan nomor WhatsApp dibatalkan. Nomor itu kembali tidak dikenal: percakapannya "
        "berakhir dan ia tidak lagi dapat mengajukan surat atas nama warga tersebut."
    ),
    "wa-sudah-dibatalkan": "Tautan nomor WhatsApp itu sudah dibatalkan sebelumnya.",
}


def _context(page: StaffPage) -> dict[str, Any]:
    return {"nav_active": "penduduk", "csrf": page.csrf}


@router.get(BINDINGS_PATH)
async def bindings_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    semua: bool = False,
) -> HTMLResponse:
    found = await sign_in_phone.list_bindings(
        session,
        runtime.intake,
        runtime.settings.intake_timeout_seconds,
        desa_code=staff.desa_code,
        roles=roles,
        actor=staff.username,
        include_undone=semua,
    )
    message = DONE.get(request.query_params.get("pesan", ""))
    # Notification down: the sign-in bindings are still shown, with a note for the links.
    links: list[sign_in_phone.WhatsAppLink] | None = None
    try:
        links = await sign_in_phone.list_whatsapp_links(
            session,
            runtime.notification,
            runtime.settings.intake_timeout_seconds,
            desa_code=staff.desa_code,
            roles=roles,
            actor=staff.username,
        )
    except Unavailable:
        links = None
    return render(
        request,
        "masuk_warga.html",
        {
            **_context(page),
            "title": "Nomor HP masuk warga",
            "bindings": found,
            "links": links,
            "all": semua,
            **({"flash": message, "flash_kind": "ok"} if message else {}),
        },
        page=page,
    )


@router.post(BINDINGS_PATH + "/{binding_id}/batalkan")
async def undo_page(
    binding_id: BindingId, staff: DesaStaff, roles: HeldRoles, runtime: RuntimeDep
) -> Response:
    undone = await sign_in_phone.undo_binding(
        runtime.intake,
        runtime.settings.intake_timeout_seconds,
        desa_code=staff.desa_code,
        roles=roles,
        actor=staff.username,
        binding_id=binding_id,
    )
    message = "dibatalkan" if undone else "sudah-dibatalkan"
    return RedirectResponse(f"{BINDINGS_PATH}?pesan={message}", status_code=303)


@router.post(BINDINGS_PATH + "/whatsapp/{link_id}/batalkan")
async def undo_whatsapp_page(
    link_id: LinkId, staff: DesaStaff, roles: HeldRoles, runtime: RuntimeDep
) -> Response:
    undone = await sign_in_phone.undo_whatsapp_link(
        runtime.notification,
        runtime.settings.intake_timeout_seconds,
        desa_code=staff.desa_code,
        roles=roles,
        actor=staff.username,
        link_id=link_id,
    )
    message = "wa-dibatalkan" if undone else "wa-sudah-dibatalkan"
    return RedirectResponse(f"{BINDINGS_PATH}?pesan={message}", status_code=303)


async def _phone_page(
    request: Request,
    page: StaffPage,
    staff: DesaStaff,
    session: SessionDep,
    resident_id: str,
    *,
    extra: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    resident = await read_resident(
        session,
        staff.desa_code,
        resident_id,
        actor=staff.username,
        purpose=sign_in_phone.PHONE_PURPOSE,
    )
    return render(
        request,
        "penduduk_nomor_hp.html",
        {
            **_context(page),
            "title": f"Ganti nomor HP: {resident.name}",
            "r": resident,
            "phones": [p for p in resident.phones.split(",") if p],
            "form": form or {},
            **(extra or {}),
        },
        page=page,
        status_code=status_code,
    )


@router.get("/penduduk/{resident_id}/nomor-hp")
async def phone_page(
    request: Request,
    resident_id: ResidentId,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    selesai: int = 0,
) -> HTMLResponse:
    require_editor(roles)
    extra: dict[str, Any] = {}
    if selesai:
        extra = {
            "flash": (
                "Nomor HP diganti dan tercatat di riwayat data penduduk. Semua sesi masuk warga "
                "ini berakhir, dan nomor lama diberi tahu."
            ),
            "flash_kind": "ok",
        }
    return await _phone_page(request, page, staff, session, resident_id, extra=extra)


@router.post("/penduduk/{resident_id}/nomor-hp")
async def change_phone_page(
    request: Request,
    resident_id: ResidentId,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    phone: Annotated[str, Form(max_length=32)] = "",
    diperiksa: Annotated[str, Form(max_length=8)] = "",
    catatan: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        await sign_in_phone.change_phone(
            session,
            runtime.intake,
            runtime.settings.intake_timeout_seconds,
            desa_code=staff.desa_code,
            roles=roles,
            actor=staff.username,
            resident_id=resident_id,
            phone=phone,
            checked_in_person=diperiksa == "ya",
            note=catatan,
        )
    except DomainError as exc:
        refused = refusal_of(exc)
        if refused.status not in (409, 422, 503):
            raise
        return await _phone_page(
            request,
            page,
            staff,
            session,
            resident_id,
            extra={**problem_flash(exc), "error_field": refused.field},
            form={"phone": phone, "catatan": catatan},
            status_code=refused.status,
        )
    return RedirectResponse(f"/penduduk/{resident_id}/nomor-hp?selesai=1", status_code=303)
