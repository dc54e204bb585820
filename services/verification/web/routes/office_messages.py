"""*Pesan warga* (/pesan-warga): residents' messages for the desa office from the WhatsApp chat
("petugas"), newest first, each answered back into the chat with a CSRF-checked form
(services/verification/office_messages.py). Operator, Sekdes and Kades of the desa (also as
Plt). The operators' inbox note for a new message links here."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import DomainError, Unavailable
from common.web.refusals import refusal_of
from services.verification import office_messages
from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.web.pages import StaffPage, StaffPageDep, render

router = APIRouter(include_in_schema=False)

OFFICE_PATH = "/pesan-warga"
MessageId = Annotated[int, Path(ge=1, le=2**53)]

DONE = {
    "terkirim": "Balasan dikirim ke WhatsApp warga.",
    "sudah-dijawab": (
        "Pesan itu sudah dijawab sebelumnya, jadi balasan Anda tidak dikirim. Balasan yang "
        "sudah dikirim tertera di bawah."
    ),
}


async def _page(
    request: Request,
    page: StaffPage,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    *,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    # Notification down: the page says so instead of failing.
    messages: list[office_messages.OfficeMessage] | None
    try:
        messages = await office_messages.list_office_messages(
            session,
            runtime.notification,
            runtime.settings.intake_timeout_seconds,
            staff=staff,
            roles=roles,
        )
    except Unavailable:
        messages = None
    return render(
        request,
        "pesan_warga.html",
        {
            "title": "Pesan warga",
            "nav_active": "pesan-warga",
            "messages": messages,
            "drafts": {},
            "errors": {},
            **(extra or {}),
        },
        page=page,
        status_code=status_code,
    )


@router.get(OFFICE_PATH)
async def office_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    pesan: str = "",
) -> HTMLResponse:
    office_messages.office_role(roles)
    done = DONE.get(pesan)
    extra = {"flash": done, "flash_kind": "ok"} if done else None
    return await _page(request, page, staff, roles, session, runtime, extra=extra)


@router.post(OFFICE_PATH + "/{message_id}/jawab")
async def answer_page(
    request: Request,
    message_id: MessageId,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    balasan: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        answered = await office_messages.answer_office_message(
            runtime.notification,
            runtime.settings.intake_timeout_seconds,
            staff=staff,
            roles=roles,
            message_id=message_id,
            text=balasan,
        )
    except DomainError as exc:
        refused = refusal_of(exc)
        if refused.status not in (422, 503):
            raise  # another desa's message, or not the office's role: the error page
        return await _page(
            request,
            page,
            staff,
            roles,
            session,
            runtime,
            extra={
                "flash": refused.message,
                "flash_kind": "galat",
                "drafts": {message_id: balasan},
                "errors": {message_id: refused.message},
            },
            status_code=refused.status,
        )
    # The same answer posted twice (a double click) was sent once: it reads as sent.
    same = answered.answer == " ".join(balasan.split())
    done = "terkirim" if answered.sent or same else "sudah-dijawab"
    return RedirectResponse(f"{OFFICE_PATH}?pesan={done}#pesan-{message_id}", status_code=303)
