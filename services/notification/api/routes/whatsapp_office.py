"""Residents' messages to the desa office sent by WhatsApp chat ("petugas"), for the desa's
staff to read and answer; the answer goes back into the resident's chat (within the 24-hour
window as a message, after it as the approved template "chat_office_answer")."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from common.auth import Principal
from common.db import as_utc
from common.http import Problem
from services.notification.api.deps import RuntimeDep, get_principal
from services.notification.chat import (
    OFFICE_ROLES,
    ChatUnavailable,
    OfficeMessageNotFound,
    office_messages,
)
from services.notification.chat import answer_office_message as answer_office
from services.notification.models import OfficeMessage

router = APIRouter(prefix="/whatsapp/office-messages", tags=["whatsapp"])

MAX_ID = 2**31 - 1


class OfficeMessageOut(BaseModel):
    id: int
    resident_name: str
    text: str
    created_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None

    @classmethod
    def of(cls, row: OfficeMessage) -> "OfficeMessageOut":
        assert row.id is not None
        return cls(
            id=row.id,
            resident_name=row.resident_name,
            text=row.text,
            created_at=as_utc(row.created_at),
            answer=row.answer,
            answered_by=row.answered_by,
            answered_at=as_utc(row.answered_at) if row.answered_at else None,
        )


class AnswerIn(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


async def office_staff(
    principal: Annotated[Principal, Depends(get_principal)],
) -> Principal:
    if principal.kind != "staff" or principal.role not in OFFICE_ROLES or not principal.desa_code:
        raise Problem(
            403, "Hanya petugas kantor desa yang dapat membaca pesan warga.", code="forbidden"
        )
    return principal


OfficeStaff = Annotated[Principal, Depends(office_staff)]


@router.get("")
async def list_office_messages(staff: OfficeStaff, runtime: RuntimeDep) -> list[OfficeMessageOut]:
    """The desa's messages, newest first (the staff member's own desa only)."""
    assert staff.desa_code is not None
    return [
        OfficeMessageOut.of(m) for m in await office_messages(runtime.sessions, staff.desa_code)
    ]


@router.post("/{message_id}/answer")
async def answer_office_message(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: AnswerIn,
    staff: OfficeStaff,
    runtime: RuntimeDep,
) -> OfficeMessageOut:
    """Sends the answer into the resident's chat and records it, once: the same answer posted
    again is answered with the record and not sent again; another answer to a message answered
    already is refused. Another desa's message is answered as if it did not exist."""
    assert staff.desa_code is not None
    text = " ".join(body.text.split())
    if not text:
        raise Problem(422, "Balasan tidak boleh kosong.", code="empty-answer")
    if runtime.chat is None:
        raise Problem(503, "Percakapan WhatsApp tidak aktif.", code="chat-off")
    try:
        row, sent = await answer_office(
            runtime.sessions,
            runtime.chat.answer_office,
            desa_code=staff.desa_code,
            message_id=message_id,
            text=text,
            actor=staff.subject,
        )
    except OfficeMessageNotFound as exc:
        raise Problem(404, "Pesan tidak ditemukan.", code="office-message-not-found") from exc
    except ChatUnavailable as exc:
        raise Problem(
            503,
            "Balasan belum dapat dikirim. Coba lagi sebentar lagi.",
            code="chat-unavailable",
            headers={"Retry-After": "5"},
        ) from exc
    if not sent and row.answer != text:
        raise Problem(409, "Pesan ini sudah dijawab.", code="office-message-answered")
    return OfficeMessageOut.of(row)
