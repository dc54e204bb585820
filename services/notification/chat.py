"""WhatsApp chat: what the conversation workflow's activities need from notification (the number
behind a conversation key, the 24-hour window, sending, fetching media, the office's inbox),
and taking inbound messages from the webhook into the workflow.

A number is never in Temporal: the workflow knows its conversation only by `conversation_key`,
a keyed hash of the number, and asks here for the number when it sends.
"""

import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain.roles import Role
from services.notification.channels import (
    MediaTooLarge,
    MediaUnreadable,
    PermanentDeliveryError,
)
from services.notification.models import (
    Notification,
    WhatsAppChat,
    WhatsAppInbound,
    WhatsAppMedia,
    WhatsAppSecretAnswer,
)
from services.notification.models import OfficeMessage as OfficeRow
from workflows.conversation import SIGNAL_INBOUND, SIGNAL_OFFICE_ANSWER, WORKFLOW_NAME, workflow_id
from workflows.conversation.models import (
    MEDIA_TOO_LARGE,
    MEDIA_UNREADABLE,
    MEDIA_UNSUPPORTED,
    REPLY_BUTTONS,
    REPLY_LIST,
    TEXT,
    ConversationInput,
    Inbound,
    MediaRequest,
    MediaResult,
    OfficeMessage,
    Reply,
)

if TYPE_CHECKING:  # temporalio is imported once the chat starts its worker (runtime.py)
    from temporalio.client import Client

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
# Attachments intake takes (services/intake/file_safety.py checks them again, fully).
MAX_MEDIA_BYTES = 10 * 1024 * 1024
_MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"%PDF-": "application/pdf",
}
ACCEPTED_MEDIA = frozenset(_MAGIC.values())
# Templates approved at Meta for messages outside the window (docs/whatsapp.md, exact text).
TEMPLATE_VERSION = "1"
OFFICE_ROLE = "operator"
# Who reads and answers residents' messages for the desa office (also as Plt).
OFFICE_ROLES = frozenset({Role.OPERATOR, Role.SEKDES, Role.KADES})
# Where the desa's staff read and answer them (verification's staff client).
OFFICE_PAGE = "/pesan-warga"
LINK_ATTEMPTS = 3
LINK_LOCK = timedelta(days=1)
# Words that stay commands while the conversation asks for personal data.
PLAIN_WORDS = frozenset({"batal", "bantuan", "menu"})


def conversation_key(secret: bytes, phone: str) -> str:
    """The conversation's name: the same number always gives the same key; the key gives
    nothing back about the number."""
    return hmac.new(secret, f"whatsapp-chat:{phone}".encode(), hashlib.sha256).hexdigest()[:40]


class ChatProvider(Protocol):
    async def send_payload(self, payload: dict[str, Any]) -> str: ...

    async def download_media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]: ...


class UnknownConversation(LookupError):
    pass


def content_type_of(content: bytes) -> str | None:
    for magic, content_type in _MAGIC.items():
        if content.startswith(magic):
            return content_type
    return None


@dataclass
class ChatLine:
    """The conversation activities' way out (workflows/conversation/activities.ChatLine)."""

    sessions: async_sessionmaker[AsyncSession]
    provider: ChatProvider
    language: str = "id"
    office_recipients: Any = None  # async (desa_code) -> list[str] staff usernames

    async def phone_of(self, key: str) -> str:
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, key)
        if chat is None:
            raise UnknownConversation(key)
        return chat.phone

    async def send(self, reply: Reply, now: datetime | None = None) -> None:
        """Free-form within 24 hours of the resident's last message, the reply's approved
        template after. `now`: when the workflow asked (its clock), else the wall clock."""
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, reply.key)
        if chat is None:
            raise UnknownConversation(reply.key)
        at = (now or datetime.now(UTC)).astimezone(UTC)
        open_window = at - as_utc(chat.last_inbound_at) < WINDOW
        payload = (
            free_form(chat.phone, reply)
            if open_window
            else template(chat.phone, reply, self.language)
        )
        try:
            await self.provider.send_payload(payload)
        except PermanentDeliveryError:
            # Refused for good (a number that left WhatsApp): retrying would not help.
            log.warning("a chat reply was refused by the provider")

    async def fetch_media(self, request: MediaRequest) -> MediaResult:
        if request.mime_type and request.mime_type not in ACCEPTED_MEDIA:
            return MediaResult(problem=MEDIA_UNSUPPORTED)
        try:
            content, _declared = await self.provider.download_media(
                request.media_id, MAX_MEDIA_BYTES
            )
        except MediaTooLarge:
            return MediaResult(problem=MEDIA_TOO_LARGE)
        except MediaUnreadable:
            return MediaResult(problem=MEDIA_UNREADABLE)
        content_type = content_type_of(content)
        if content_type is None:
            return MediaResult(problem=MEDIA_UNSUPPORTED)
        ref = uuid.uuid4().hex
        async with self.sessions() as session:
            session.add(
                WhatsAppMedia(ref=ref, key=request.key, content=content, content_type=content_type)
            )
            await session.commit()
        return MediaResult(ref=ref)

    async def staged(self, key: str, ref: str) -> tuple[bytes, str] | None:
        async with self.sessions() as session:
            media = await session.get(WhatsAppMedia, ref)
        if media is None or media.key != key:
            return None
        return media.content, media.content_type

    async def drop_staged(self, key: str, refs: list[str]) -> None:
        async with self.sessions() as session:
            for ref in refs:
                media = await session.get(WhatsAppMedia, ref)
                if media is not None and media.key == key:
                    await session.delete(media)
            await session.commit()

    async def to_office(self, message: OfficeMessage) -> None:
        """Kept for the desa's staff (GET /api/v1/whatsapp/office-messages) and put in the
        inbox of the desa's operators. Once per request id: a retry (the activity timed out
        after the commit) finds the row and stores nothing again."""
        async with self.sessions() as session:
            if message.request_id:
                done = await session.exec(
                    select(OfficeRow.id).where(col(OfficeRow.request_id) == message.request_id)
                )
                if done.first() is not None:
                    return
            row = OfficeRow(
                key=message.key,
                request_id=message.request_id or None,
                desa_code=message.desa_code,
                resident_id=message.resident_id,
                resident_name=message.resident_name,
                text=message.text[:1000],
            )
            session.add(row)
            await session.flush()
            usernames: list[str] = (
                await self.office_recipients(message.desa_code) if self.office_recipients else []
            )
            for username in usernames:
                session.add(
                    Notification(
                        recipient=f"staff:{username}",
                        title="Pesan WhatsApp dari warga",
                        body=message.text[:200],
                        link=OFFICE_PAGE,
                        template="whatsapp.office_message",
                        template_version="1",
                        event_id=f"whatsapp-office-{row.id}",
                    )
                )
            try:
                await session.commit()
            except IntegrityError:
                # The same request stored concurrently by another attempt: that one counts.
                await session.rollback()

    async def expect_secret(self, key: str, on: bool) -> None:
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, key)
            if chat is None:
                raise UnknownConversation(key)
            chat.expects_secret = on
            session.add(chat)
            if not on:
                # Answers nobody asked for any more are not kept.
                stale = await session.exec(
                    select(WhatsAppSecretAnswer).where(col(WhatsAppSecretAnswer.key) == key)
                )
                for answer in stale.all():
                    await session.delete(answer)
            await session.commit()

    async def take_secrets(self, key: str, refs: list[str]) -> list[str]:
        """The answers behind `refs` (read once: deleted as they are read)."""
        texts: list[str] = []
        async with self.sessions() as session:
            for ref in refs:
                answer = await session.get(WhatsAppSecretAnswer, ref)
                if answer is not None and answer.key == key:
                    texts.append(answer.text)
                    await session.delete(answer)
            await session.commit()
        return texts

    async def link_locked(self, key: str) -> bool:
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, key)
        until = chat.link_locked_until if chat is not None else None
        return until is not None and as_utc(until) > utcnow()

    async def record_link(self, key: str, resident_id: str | None, desa_code: str = "") -> bool:
        """A success links the number (once); a failure counts, and the third in a row locks
        linking for a day. Answers whether it is locked now."""
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, key)
            if chat is None:
                raise UnknownConversation(key)
            if resident_id is not None:
                chat.linked_resident_id, chat.link_failures = resident_id, 0
                chat.linked_desa_code, chat.linked_at = desa_code or None, utcnow()
            else:
                chat.link_failures += 1
                if chat.link_failures >= LINK_ATTEMPTS:
                    chat.link_failures, chat.link_locked_until = 0, utcnow() + LINK_LOCK
            locked = (
                chat.link_locked_until is not None and as_utc(chat.link_locked_until) > utcnow()
            )
            session.add(chat)
            await session.commit()
        return locked

    async def linked_resident(self, key: str) -> str | None:
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, key)
        return chat.linked_resident_id if chat is not None else None

    async def linked_elsewhere(self, key: str, resident_id: str) -> bool:
        """Whether another number linked itself to this resident already (a NIK links once)."""
        async with self.sessions() as session:
            other = (
                await session.exec(
                    select(WhatsAppChat)
                    .where(col(WhatsAppChat.linked_resident_id) == resident_id)
                    .where(col(WhatsAppChat.key) != key)
                )
            ).first()
        return other is not None


def free_form(phone: str, reply: Reply) -> dict[str, Any]:
    """Text, reply buttons (≤ 3) or a list (≤ 10 rows), as the Cloud API takes them."""
    base: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone,
    }
    body = reply.body[:1024] if reply.options else reply.body[:4096]
    if reply.kind == REPLY_BUTTONS and reply.options:
        return base | {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": body},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": o.id, "title": o.title[:20]}}
                        for o in reply.options[:3]
                    ]
                },
            },
        }
    if reply.kind == REPLY_LIST and reply.options:
        rows = [
            {
                "id": o.id,
                "title": o.title[:24],
                **({"description": o.description[:72]} if o.description else {}),
            }
            for o in reply.options[:10]
        ]
        return base | {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": body},
                "action": {
                    "button": (reply.button or "Pilih")[:20],
                    "sections": [{"title": "Pilihan", "rows": rows}],
                },
            },
        }
    return base | {"type": "text", "text": {"preview_url": False, "body": body}}


def template(phone: str, reply: Reply, language: str) -> dict[str, Any]:
    """Outside the 24-hour window: the reply's approved template (docs/whatsapp.md)."""
    components: list[dict[str, Any]] = []
    if reply.params:
        components.append(
            {
                "type": "body",
                "parameters": [{"type": "text", "text": p[:1000]} for p in reply.params],
            }
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone,
        "type": "template",
        "template": {
            "name": f"smartdesa_{reply.template}_v{TEMPLATE_VERSION}",
            "language": {"code": language},
            "components": components,
        },
    }


class ChatUnavailable(Exception):
    """Temporal did not take the message: the webhook answers 503 and Meta redelivers."""


async def linked_numbers(
    sessions: async_sessionmaker[AsyncSession], desa_code: str
) -> list[WhatsAppChat]:
    """The numbers that linked themselves to a resident of this desa, newest first."""
    async with sessions() as session:
        found = await session.exec(
            select(WhatsAppChat)
            .where(col(WhatsAppChat.linked_desa_code) == desa_code)
            .where(col(WhatsAppChat.linked_resident_id).is_not(None))
            .order_by(col(WhatsAppChat.linked_at).desc())
        )
        return list(found.all())


async def undo_link(sessions: async_sessionmaker[AsyncSession], desa_code: str, key: str) -> bool:
    """The number is no longer that resident: its next message is an unknown number's again.
    False when it was not linked (undone already); LookupError for a number of another desa
    (nobody learns it exists)."""
    async with sessions() as session:
        chat = await session.get(WhatsAppChat, key)
        if chat is None or chat.linked_desa_code != desa_code:
            raise UnknownConversation(key)
        if chat.linked_resident_id is None:
            return False
        # The desa stays: undoing again answers "undone already" to that desa only.
        chat.linked_resident_id = chat.linked_at = None
        session.add(chat)
        await session.commit()
    return True


def _rpc_error() -> type[Exception]:
    """temporalio's RPCError, imported where the chat already runs on Temporal."""
    from temporalio.service import RPCError

    return RPCError


@dataclass
class ChatInbox:
    """Takes inbound messages from the webhook into their conversations."""

    sessions: async_sessionmaker[AsyncSession]
    # The Temporal client, with this process's conversation worker running (started on the
    # first call when it was not at start: services/notification/runtime.ChatWorker).
    temporal: Callable[[], Awaitable["Client"]]
    task_queue: str
    secret: bytes
    expire_after_seconds: int

    async def take(self, phone: str, message: Inbound) -> bool:
        """False for a message id taken before (a redelivery). The id is stored in the same
        transaction that is committed only once the workflow has the signal: a failure leaves
        nothing stored, and Meta's redelivery tries again."""
        key = conversation_key(self.secret, phone)
        sent_at = datetime.fromisoformat(message.sent_at).astimezone(UTC)
        async with self.sessions() as session:
            if await session.get(WhatsAppInbound, message.message_id) is not None:
                return False
            # The number and its window first, committed on their own: the workflow's first
            # activity looks the number up, and a later failure here leaves nothing wrong.
            chat = await session.get(WhatsAppChat, key)
            if chat is None:
                session.add(WhatsAppChat(key=key, phone=phone, last_inbound_at=sent_at))
            elif sent_at > as_utc(chat.last_inbound_at):
                chat.last_inbound_at = sent_at  # out of order: the window follows the latest
                session.add(chat)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # the number's first two messages at once: it exists
        if message.kind == TEXT and message.text.strip().lower() not in PLAIN_WORDS:
            message = await self._keep_secret(key, message)
        async with self.sessions() as session:
            session.add(WhatsAppInbound(message_id=message.message_id, key=key))
            try:
                await session.flush()
            except IntegrityError:
                return False  # the same id, taken at this moment by another request
            try:
                temporal = await self.temporal()
                await temporal.start_workflow(
                    WORKFLOW_NAME,
                    ConversationInput(key=key, expire_after_seconds=self.expire_after_seconds),
                    id=workflow_id(key),
                    task_queue=self.task_queue,
                    start_signal=SIGNAL_INBOUND,
                    start_signal_args=[message],
                )
            except (_rpc_error(), RuntimeError) as exc:
                log.warning("chat message not passed on: %s", type(exc).__name__)
                raise ChatUnavailable() from exc
            await session.commit()
        return True

    async def _keep_secret(self, key: str, message: Inbound) -> Inbound:
        """While the conversation asks for a NIK, KK number or mother's name, the answer is
        kept here and only a reference goes to Temporal. Committed before the signal (the
        workflow may read it at once); should the signal fail, it is dropped when the
        conversation stops asking."""
        async with self.sessions() as session:
            chat = await session.get(WhatsAppChat, key)
            if chat is None or not chat.expects_secret:
                return message
            ref = uuid.uuid4().hex
            session.add(WhatsAppSecretAnswer(ref=ref, key=key, text=message.text[:200]))
            await session.commit()
        return replace(message, text="", secret_ref=ref)

    async def answer_office(self, key: str, text: str) -> None:
        try:
            temporal = await self.temporal()
            await temporal.start_workflow(
                WORKFLOW_NAME,
                ConversationInput(key=key, expire_after_seconds=self.expire_after_seconds),
                id=workflow_id(key),
                task_queue=self.task_queue,
                start_signal=SIGNAL_OFFICE_ANSWER,
                start_signal_args=[text],
            )
        except (_rpc_error(), RuntimeError) as exc:
            raise ChatUnavailable() from exc

    async def end(self, key: str) -> None:
        """Ends the number's conversation (its link was undone: the identity it holds goes);
        the next message starts a new one, which looks the number up again."""
        try:
            temporal = await self.temporal()
        except RuntimeError as exc:  # Temporal unreachable: the worker could not start
            raise ChatUnavailable() from exc
        from temporalio.service import RPCError, RPCStatusCode

        try:
            await temporal.get_workflow_handle(workflow_id(key)).terminate(
                reason="WhatsApp link undone by the desa's operator"
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise ChatUnavailable() from exc


async def office_messages(
    sessions: async_sessionmaker[AsyncSession], desa_code: str, limit: int = 100
) -> list[OfficeRow]:
    async with sessions() as session:
        return list(
            (
                await session.exec(
                    select(OfficeRow)
                    .where(col(OfficeRow.desa_code) == desa_code)
                    .order_by(col(OfficeRow.created_at).desc(), col(OfficeRow.id).desc())
                    .limit(limit)
                )
            ).all()
        )


class OfficeMessageNotFound(LookupError):
    """No such message in this desa (another desa's is answered the same: nothing is learnt)."""


async def answer_office_message(
    sessions: async_sessionmaker[AsyncSession],
    send: Callable[[str, str], Awaitable[None]],
    *,
    desa_code: str,
    message_id: int,
    text: str,
    actor: str,
) -> tuple[OfficeRow, bool]:
    """Records the staff answer and sends it into the resident's chat (`send`: ChatInbox.
    answer_office, which keeps the 24-hour window's rules). A message is answered once: the
    answer is claimed by a conditional update before it is sent, so a form posted twice (or two
    staff at once) sends one answer; the second post gets the row and False. Should the chat
    not take it (ChatUnavailable), the claim is undone and the message stays unanswered."""
    at = utcnow()
    async with sessions() as session:
        claimed = await session.exec(
            update(OfficeRow)
            .where(col(OfficeRow.id) == message_id)
            .where(col(OfficeRow.desa_code) == desa_code)
            .where(col(OfficeRow.answer).is_(None))
            .values(answer=text, answered_by=actor, answered_at=at)
        )
        await session.commit()
        row = await session.get(OfficeRow, message_id)
        if row is None or row.desa_code != desa_code:
            raise OfficeMessageNotFound(message_id)
        if int(claimed.rowcount) != 1:
            return row, False
        try:
            await send(row.key, text)
        except Exception:
            # Not taken (ChatUnavailable): only this post set it (the claim needs an
            # unanswered row), so it is undone and can be answered again. A cancelled call
            # (the caller's deadline) keeps the claim: the signal may have gone, and an
            # answer sent twice is worse than one to read again in the record.
            await session.exec(
                update(OfficeRow)
                .where(col(OfficeRow.id) == message_id)
                .values(answer=None, answered_by=None, answered_at=None)
            )
            await session.commit()
            raise
        return row, True
