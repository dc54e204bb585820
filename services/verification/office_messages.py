"""Residents' messages for the desa office from the WhatsApp chat ("petugas", issue 17), as the
desa's Operator, Sekdes and Kades (also as Plt) read and answer them on *Pesan warga*.

Notification keeps the messages and sends the answer into the chat
(NotificationService.ListOfficeMessages / AnswerOfficeMessage: that desa's only, each message
answered once). Here the register adds who wrote (the name, for the desa's own staff), and
every read of the messages is written to the residents' access log: the message text is the
resident's personal data, so each resident whose messages are shown gets a row
(`access_log.KIND_OFFICE_MESSAGE`), besides the register's own row for the name.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import notification_pb2, notification_pb2_grpc
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role
from common.domain.errors import Forbidden, Invalid, NotFound, Unavailable
from services.verification import access_log
from services.verification.models import Staff
from services.verification.population.models import Resident
from services.verification.population.register import log_reads

log = logging.getLogger(__name__)

# Who answers residents for the desa office (notification checks the same roles).
OFFICE_ROLES = (Role.OPERATOR, Role.SEKDES, Role.KADES)
PURPOSE = "Menjawab pesan WhatsApp warga"
MAX_ANSWER = 1000
UNAVAILABLE = (
    "Layanan WhatsApp sedang tidak dapat dihubungi; balasan belum dikirim. Silakan coba lagi."
)
NOT_OFFICE = (
    "Hanya Operator Desa, Sekretaris Desa atau Kepala Desa (juga sebagai Plt) yang dapat "
    "membaca dan menjawab pesan WhatsApp warga."
)


@dataclass(frozen=True)
class OfficeMessage:
    id: int
    received_at: datetime
    text: str
    resident: Resident | None  # who wrote, from the register (None: no longer held here)
    answered: bool
    answer: str
    answered_at: datetime | None
    answered_by: str


@dataclass(frozen=True)
class Answered:
    message_id: int
    sent: bool  # False: answered already, nothing sent now
    answer: str  # the answer the message holds


def office_role(roles: list[str]) -> str:
    """The role the staff member answers in: their own first, then a Plt role."""
    for role in roles:
        if role in OFFICE_ROLES:
            return role
    raise Forbidden("office-staff-only", NOT_OFFICE)


def may_answer(roles: list[str]) -> bool:
    return any(r in OFFICE_ROLES for r in roles)


def _datetime(ts: Timestamp) -> datetime | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def _stub(
    notification: notification_pb2_grpc.NotificationServiceAsyncStub | None,
) -> notification_pb2_grpc.NotificationServiceAsyncStub:
    if notification is None:
        raise Unavailable("notification-unavailable", UNAVAILABLE)
    return notification


async def list_office_messages(
    session: AsyncSession,
    notification: notification_pb2_grpc.NotificationServiceAsyncStub | None,
    rpc_timeout: float,
    *,
    staff: Staff,
    roles: list[str],
) -> list[OfficeMessage]:
    """The desa's messages, newest first, each with who wrote from the register. The read is
    logged for every resident shown (their messages, and their register record)."""
    office_role(roles)
    stub = _stub(notification)
    try:
        answer = await stub.ListOfficeMessages(
            notification_pb2.ListOfficeMessagesRequest(desa_code=staff.desa_code),
            timeout=rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("notification office-message call failed: %s", exc.code().name)
        raise Unavailable("notification-unavailable", UNAVAILABLE) from exc
    ids = sorted({m.resident_id for m in answer.messages if m.resident_id})
    records = {
        r.id: r
        for r in (
            await session.exec(
                select(Resident).where(
                    Resident.desa_code == staff.desa_code, col(Resident.id).in_(ids)
                )
            )
        ).all()
    }
    if ids:
        access_log.record(
            session,
            staff,
            access_log.KIND_OFFICE_MESSAGE,
            register_resident_ids=ids,
            purpose=access_log.OFFICE_MESSAGE_PURPOSE,
        )
        if records:
            log_reads(
                session, list(records.values()), actor=staff.username, purpose=PURPOSE, kind="view"
            )
        await session.commit()
    return [
        OfficeMessage(
            id=m.id,
            received_at=_datetime(m.received_at) or datetime.now(UTC),
            text=m.text,
            resident=records.get(m.resident_id),
            answered=m.answered,
            answer=m.answer,
            answered_at=_datetime(m.answered_at),
            answered_by=m.answered_by,
        )
        for m in answer.messages
    ]


def checked_answer(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise Invalid("empty-answer", "Tulis balasan untuk warga.", field="balasan")
    if len(text) > MAX_ANSWER:
        raise Invalid(
            "answer-too-long",
            f"Balasan paling banyak {MAX_ANSWER} karakter.",
            field="balasan",
        )
    return text


async def answer_office_message(
    notification: notification_pb2_grpc.NotificationServiceAsyncStub | None,
    rpc_timeout: float,
    *,
    staff: Staff,
    roles: list[str],
    message_id: int,
    text: str,
) -> Answered:
    """Sends the answer into the resident's chat (notification keeps the 24-hour window's
    rules). A form posted twice sends once: the second gets sent=False and the answer given."""
    role = office_role(roles)
    text = checked_answer(text)
    stub = _stub(notification)
    try:
        answer = await stub.AnswerOfficeMessage(
            notification_pb2.AnswerOfficeMessageRequest(
                desa_code=staff.desa_code,
                message_id=message_id,
                text=text,
                actor=staff.username,
                actor_role=role,
            ),
            timeout=rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(
                "office-message-not-found", "Pesan itu tidak ditemukan di desa ini."
            ) from exc
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
            raise Forbidden("office-staff-only", NOT_OFFICE) from exc
        log.warning("notification office-answer call failed: %s", exc.code().name)
        raise Unavailable("notification-unavailable", UNAVAILABLE) from exc
    if answer.sent:
        log.info("office message %d answered by %s", message_id, staff.username)
    return Answered(message_id=message_id, sent=answer.sent, answer=answer.message.answer)
