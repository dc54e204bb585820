"""gRPC NotificationService: a resident's notification preferences, read and changed for them
by the resident portal (intake), and the record of every message sent to them ("Data saya"). Callers are authenticated by common.rpc's internal-token
interceptor; the rules are preferences.save_preferences, as behind PUT /api/v1/preferences."""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import notification_pb2 as pb
from smartdesa.v1 import notification_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain.errors import DomainError
from common.rpc import domain_code
from services.notification.channels import ALL_CHANNELS
from services.notification.chat import (
    OFFICE_ROLES,
    ChatUnavailable,
    OfficeMessageNotFound,
    UnknownConversation,
    answer_office_message,
    linked_numbers,
    office_messages,
    undo_link,
)
from services.notification.models import (
    PENDING_STATUSES,
    STANDBY,
    Delivery,
    Notification,
    OfficeMessage,
)
from services.notification.preferences import (
    Preferences,
    load_preferences,
    resident_recipient,
    save_preferences,
)

log = logging.getLogger(__name__)


def _message(prefs: Preferences) -> pb.NotificationPreferences:
    return pb.NotificationPreferences(
        channels=[c for c in ALL_CHANNELS if c in prefs.channels],
        email=prefs.email or "",
        quiet_start=f"{prefs.quiet_start:%H:%M}" if prefs.quiet_start else "",
        quiet_end=f"{prefs.quiet_end:%H:%M}" if prefs.quiet_end else "",
        step_updates=prefs.step_updates,
    )


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # Ends a number's WhatsApp conversation (set once the chat runs; ChatInbox.end).
        self.end_conversation: Callable[[str], Awaitable[None]] | None = None
        # Sends the office's answer into a conversation (ChatInbox.answer_office); None while
        # the chat is off.
        self.answer_conversation: Callable[[str, str], Awaitable[None]] | None = None

    async def GetPreferences(
        self, request: pb.GetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotificationPreferences:
        if not request.resident_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resident_id is required")
        async with self._sessions() as session:
            prefs = await load_preferences(session, resident_recipient(request.resident_id))
        return _message(prefs)

    async def SetPreferences(
        self, request: pb.SetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotificationPreferences:
        if not request.resident_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resident_id is required")
        wanted = request.preferences
        quiet = (
            (wanted.quiet_start, wanted.quiet_end)
            if wanted.quiet_start or wanted.quiet_end
            else None
        )
        try:
            async with self._sessions() as session:
                saved = await save_preferences(
                    session,
                    resident_recipient(request.resident_id),
                    staff=False,  # only residents are served here; their phone stays intake's
                    channels=list(wanted.channels),
                    email=wanted.email or None,
                    phone=None,
                    quiet_hours=quiet,
                    step_updates=wanted.step_updates,
                )
        except DomainError as exc:
            # The message is Indonesian and names no one: the portal shows it as it is.
            await context.abort(domain_code(exc), exc.message)
            raise
        return _message(saved)

    async def ListMessages(
        self, request: pb.ListMessagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMessagesResponse:
        if not request.resident_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resident_id is required")
        async with self._sessions() as session:
            sent = await messages_of(session, resident_recipient(request.resident_id))
        return pb.ListMessagesResponse(messages=sent)

    async def ListWhatsAppLinks(
        self, request: pb.ListWhatsAppLinksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWhatsAppLinksResponse:
        if not request.desa_code:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desa_code is required")
        found = await linked_numbers(self._sessions, request.desa_code)
        return pb.ListWhatsAppLinksResponse(
            links=[
                pb.WhatsAppLink(
                    id=c.key,
                    phone=c.phone,
                    resident_id=c.linked_resident_id or "",
                    linked_at=_at(c.linked_at or c.created_at),
                )
                for c in found
            ]
        )

    async def UndoWhatsAppLink(
        self, request: pb.UndoWhatsAppLinkRequest, context: grpc.aio.ServicerContext
    ) -> pb.UndoWhatsAppLinkResponse:
        if not request.desa_code or not request.link_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "desa_code and link_id are required"
            )
        try:
            undone = await undo_link(self._sessions, request.desa_code, request.link_id)
        except UnknownConversation:
            await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
            raise AssertionError("abort raises") from None
        if undone:
            log.info("a WhatsApp link was undone by %s", request.actor)
            if self.end_conversation is not None:
                try:
                    await self.end_conversation(request.link_id)
                except ChatUnavailable:
                    # The link is gone already; the conversation holds its identity until it
                    # next identifies (it ends when quiet).
                    log.warning("the undone number's conversation could not be ended")
        return pb.UndoWhatsAppLinkResponse(undone=undone)

    async def ListOfficeMessages(
        self, request: pb.ListOfficeMessagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOfficeMessagesResponse:
        if not request.desa_code:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desa_code is required")
        found = await office_messages(self._sessions, request.desa_code)
        return pb.ListOfficeMessagesResponse(messages=[_office_message(m) for m in found])

    async def AnswerOfficeMessage(
        self, request: pb.AnswerOfficeMessageRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnswerOfficeMessageResponse:
        text = " ".join(request.text.split())
        if not request.desa_code or request.message_id < 1 or not request.actor:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "desa_code, message_id and actor are required"
            )
        if not text or len(text) > MAX_ANSWER:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Balasan harus diisi, paling banyak {MAX_ANSWER} karakter.",
            )
        if request.actor_role not in OFFICE_ROLES:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "Hanya Operator Desa, Sekretaris Desa atau Kepala Desa yang menjawab pesan warga.",
            )
        if self.answer_conversation is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "Percakapan WhatsApp tidak aktif.")
            raise AssertionError("abort raises")
        try:
            row, sent = await answer_office_message(
                self._sessions,
                self.answer_conversation,
                desa_code=request.desa_code,
                message_id=request.message_id,
                text=text,
                actor=request.actor,
            )
        except OfficeMessageNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
            raise AssertionError("abort raises") from None
        except ChatUnavailable:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "Balasan belum dapat dikirim. Coba lagi sebentar lagi.",
            )
            raise AssertionError("abort raises") from None
        if sent:
            log.info("an office message was answered by %s", request.actor)
        return pb.AnswerOfficeMessageResponse(message=_office_message(row), sent=sent)


# As the staff API takes it (POST /api/v1/whatsapp/office-messages/{id}/answer).
MAX_ANSWER = 1000


def _office_message(row: OfficeMessage) -> pb.OfficeMessage:
    assert row.id is not None
    message = pb.OfficeMessage(
        id=row.id,
        received_at=_at(row.created_at),
        text=row.text,
        resident_id=row.resident_id,
        answered=row.answer is not None,
        answer=row.answer or "",
        answered_by=row.answered_by or "",
    )
    if row.answered_at is not None:
        message.answered_at.CopyFrom(_at(row.answered_at))
    return message


# A one-time code not yet final is still a secret: the record shows that it was sent, not it.
CODE_HIDDEN = "(kode masuk, tidak ditampilkan)"


def _at(value: datetime) -> Timestamp:
    at = Timestamp()
    at.FromDatetime(as_utc(value))
    return at


async def messages_of(session: AsyncSession, recipient: str) -> list[pb.SentMessage]:
    """Everything sent to one recipient, newest first: in-app entries and the deliveries on
    outside channels (a fallback never needed, still on standby, was not sent: left out)."""
    inbox = await session.exec(select(Notification).where(Notification.recipient == recipient))
    deliveries = await session.exec(
        select(Delivery).where(Delivery.recipient == recipient, Delivery.status != STANDBY)
    )
    found = [
        (
            n.created_at,
            pb.SentMessage(
                at=_at(n.created_at),
                channel="in_app",
                title=n.title,
                body=n.body,
                status="read" if n.read_at else "unread",
            ),
        )
        for n in inbox.all()
    ]
    for d in deliveries.all():
        hidden = d.redact_when_final and d.status in PENDING_STATUSES
        found.append(
            (
                d.created_at,
                pb.SentMessage(
                    at=_at(d.created_at),
                    channel=d.channel,
                    title=d.subject or "",
                    body=CODE_HIDDEN if hidden else d.body,
                    status=d.status,
                    to_address=d.to_address,
                ),
            )
        )
    found.sort(key=lambda pair: as_utc(pair[0]), reverse=True)
    return [message for _, message in found]


def register(servicer: NotificationServicer) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        notification_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, server)

    return add
