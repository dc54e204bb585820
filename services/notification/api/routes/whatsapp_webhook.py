"""WhatsApp Cloud API webhook: Meta's subscription check, delivery statuses and residents'
messages (passed to their conversation, services/notification/chat.py, once per message id).

- `GET` answers `hub.challenge` when `hub.mode` is "subscribe" and `hub.verify_token` is ours.
- `POST` carries `{"object": "whatsapp_business_account", "entry": [{"changes": [{"value":
  {"statuses": [{"id": "wamid…", "status": "sent|delivered|read|failed", "timestamp": "…",
  "recipient_id": "…", "errors": […]}]}}]}]}`, signed: `X-Hub-Signature-256: sha256=<hex>` is
  HMAC-SHA256 of the raw body with the app secret. Meta may repeat a status and deliver them out
  of order; statuses only move forward (the dispatcher checks), so both are harmless.

No personal data is logged: the recipient's number in a status is never read, and a message's
sender and text go only to the conversation.
"""

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from common.http import Problem
from common.phone import InvalidPhone, normalize_phone
from services.notification.api.deps import RuntimeDep
from services.notification.chat import ChatUnavailable
from workflows.conversation.models import CHOICE, MEDIA, TEXT, UNSUPPORTED, Inbound

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks/whatsapp", tags=["webhooks"])

NOT_CONFIGURED = "Webhook WhatsApp belum dikonfigurasi."


class WebhookAck(BaseModel):
    statuses: int  # statuses read from the body
    applied: int  # of which changed a delivery
    messages: int = 0  # residents' messages read from the body
    taken: int = 0  # of which were new (not a redelivery) and passed to their conversation


@router.get("", response_class=PlainTextResponse)
async def verify_subscription(
    runtime: RuntimeDep,
    mode: Annotated[str, Query(alias="hub.mode")] = "",
    token: Annotated[str, Query(alias="hub.verify_token")] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> str:
    expected = runtime.settings.notification_whatsapp_verify_token
    if expected is None:
        raise Problem(503, NOT_CONFIGURED, code="webhook-not-configured")
    if mode != "subscribe" or not hmac.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        raise Problem(403, "Token verifikasi tidak cocok.", code="webhook-verify-failed")
    return challenge


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


@router.post("")
async def receive_statuses(request: Request, runtime: RuntimeDep) -> WebhookAck:
    secret = runtime.settings.notification_whatsapp_app_secret
    if secret is None:
        raise Problem(503, NOT_CONFIGURED, code="webhook-not-configured")
    body = await request.body()
    if not signature_matches(
        secret.get_secret_value().encode(), body, request.headers.get("x-hub-signature-256")
    ):
        raise Problem(401, "Tanda tangan webhook tidak sah.", code="webhook-signature-invalid")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise Problem(400, "Isi webhook bukan JSON.", code="webhook-not-json") from exc
    statuses = list(_statuses(payload))
    applied = 0
    for message_id, status, at in statuses:
        if await runtime.dispatcher.provider_status(message_id, status, at):
            applied += 1
    if statuses:
        log.info("whatsapp webhook: %d statuses, %d applied", len(statuses), applied)
    messages = _messages(payload)
    taken = 0
    if messages and runtime.chat is None:
        # Conversations are off: the messages are not read (Meta may redeliver; harmless).
        log.info("whatsapp webhook: %d messages, chat is off", len(messages))
    elif messages and runtime.chat is not None:
        for phone, message in messages:
            try:
                if await runtime.chat.take(phone, message):
                    taken += 1
            except ChatUnavailable as exc:
                # Nothing of this message is stored: Meta redelivers on an error answer.
                raise Problem(
                    503,
                    "Percakapan sedang tidak dapat diterima. Coba lagi.",
                    code="chat-unavailable",
                    headers={"Retry-After": "5"},
                ) from exc
        log.info("whatsapp webhook: %d messages, %d new", len(messages), taken)
    return WebhookAck(statuses=len(statuses), applied=applied, messages=len(messages), taken=taken)


def _messages(payload: Any) -> list[tuple[str, Inbound]]:
    """(sender's number, message) of every resident's message, as the Cloud API sends them:
    `value.messages[]` with `from`, `id`, `timestamp` and `type` text, interactive
    (button_reply, list_reply), button (a template's quick reply), image or document; other
    types (audio, sticker, location, "unsupported") are passed on as unsupported, so the
    resident hears what to send instead."""
    found: list[tuple[str, Inbound]] = []
    if not isinstance(payload, dict):
        return found
    for entry in _list(payload.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, dict) else None):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            for message in _list(value.get("messages")):
                read = _message(message)
                if read is not None:
                    found.append(read)
    return found


def _message(message: Any) -> tuple[str, Inbound] | None:
    if not isinstance(message, dict):
        return None
    sender, message_id, kind = message.get("from"), message.get("id"), message.get("type")
    if not isinstance(sender, str) or not isinstance(message_id, str) or not message_id:
        return None
    try:
        phone = normalize_phone(sender)
    except InvalidPhone:
        return None  # not a number we can answer (outside Indonesia)
    try:
        at = datetime.fromtimestamp(int(message.get("timestamp", "")), UTC)
    except (TypeError, ValueError, OverflowError):
        at = datetime.now(UTC)
    inbound = Inbound(message_id=message_id[:200], kind=UNSUPPORTED, sent_at=at.isoformat())
    body = message.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    if kind == "text" and isinstance(body.get("body"), str):
        inbound.kind, inbound.text = TEXT, body["body"][:4096]
    elif kind == "button" and isinstance(body.get("text"), str):
        inbound.kind, inbound.text = TEXT, body["text"][:256]
    elif kind == "interactive":
        reply = body.get(str(body.get("type")))
        if isinstance(reply, dict) and isinstance(reply.get("id"), str):
            inbound.kind, inbound.choice = CHOICE, reply["id"][:256]
            inbound.text = str(reply.get("title", ""))[:256]
    elif kind in ("image", "document") and isinstance(body.get("id"), str):
        inbound.kind, inbound.media_id = MEDIA, body["id"][:256]
        inbound.mime_type = str(body.get("mime_type", "")).split(";")[0].strip()[:100]
    return phone, inbound


def _statuses(payload: Any) -> list[tuple[str, str, datetime]]:
    """(message id, status, time) of every well-formed status; anything else is skipped (a
    webhook that answers an error is only sent again by Meta, which does not help)."""
    found: list[tuple[str, str, datetime]] = []
    if not isinstance(payload, dict):
        return found
    for entry in _list(payload.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, dict) else None):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            for status in _list(value.get("statuses")):
                if not isinstance(status, dict):
                    continue
                message_id, name = status.get("id"), status.get("status")
                if not isinstance(message_id, str) or not isinstance(name, str):
                    continue
                try:
                    at = datetime.fromtimestamp(int(status.get("timestamp", "")), UTC)
                except (TypeError, ValueError, OverflowError):
                    at = datetime.now(UTC)
                found.append((message_id, name, at))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
