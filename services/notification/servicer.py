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
    ChatUnavailable,
    UnknownConversation,
    linked_numbers,
    undo_link,
)
from services.notification.models import PENDING_STATUSES, STANDBY, Delivery, Notification
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
