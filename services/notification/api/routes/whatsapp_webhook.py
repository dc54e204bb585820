"""WhatsApp Cloud API webhook: Meta's subscription check and delivery statuses.

- `GET` answers `hub.challenge` when `hub.mode` is "subscribe" and `hub.verify_token` is ours.
- `POST` carries `{"object": "whatsapp_business_account", "entry": [{"changes": [{"value":
  {"statuses": [{"id": "wamid…", "status": "sent|delivered|read|failed", "timestamp": "…",
  "recipient_id": "…", "errors": […]}]}}]}]}`, signed: `X-Hub-Signature-256: sha256=<hex>` is
  HMAC-SHA256 of the raw body with the app secret. Meta may repeat a status and deliver them out
  of order; statuses only move forward (the dispatcher checks), so both are harmless.

No personal data is logged: the recipient's number in a status is never read.
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
from services.notification.api.deps import RuntimeDep

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks/whatsapp", tags=["webhooks"])

NOT_CONFIGURED = "Webhook WhatsApp belum dikonfigurasi."


class WebhookAck(BaseModel):
    statuses: int  # statuses read from the body
    applied: int  # of which changed a delivery


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
    return WebhookAck(statuses=len(statuses), applied=applied)


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
