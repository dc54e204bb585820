"""Local stand-ins for the outside providers, on real sockets: an SMTP server (aiosmtpd) and
HTTP servers (uvicorn in a thread) that speak the WhatsApp Cloud API's and Zenziva's shapes."""

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.processes import free_port

WHATSAPP_TOKEN = "test-whatsapp-token"
PHONE_NUMBER_ID = "109876543210"
API_VERSION = "v21.0"


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a free loopback port in its own thread; yields its
    base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("provider stand-in did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class FakeWhatsAppCloud:
    """`POST /{version}/{phone_number_id}/messages` as Meta's Graph API answers it, and its
    media endpoint: `GET /{version}/{media_id}` answers the file's short-lived URL, which
    answers the bytes (both with the bearer token)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    # (HTTP status, body) answered before the normal 200s, one per request.
    script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # media id -> (content, mime type) residents "sent"; base_url is set once it serves.
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    base_url: str = ""
    media_downloads: list[str] = field(default_factory=list)

    async def _media(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {WHATSAPP_TOKEN}":
            return JSONResponse({"error": {"code": 190, "message": "Invalid OAuth token"}}, 401)
        media_id = request.path_params["media_id"]
        if media_id not in self.media:
            error = {"code": 100, "message": "Unsupported get request", "error_subcode": 33}
            return JSONResponse({"error": error}, 400)
        content, mime = self.media[media_id]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}",
                "mime_type": mime,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            }
        )

    async def _download(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {WHATSAPP_TOKEN}":
            return Response(status_code=401)
        media_id = request.query_params.get("mid", "")
        if media_id not in self.media:
            return Response(status_code=404)
        self.media_downloads.append(media_id)
        content, mime = self.media[media_id]
        return Response(content, media_type=mime)

    def fail_next(self, status: int, code: int, message: str = "error") -> None:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
        self.script.append((status, {"error": error}))

    async def _messages(self, request: Request) -> JSONResponse:
        if request.path_params != {"version": API_VERSION, "phone_id": PHONE_NUMBER_ID}:
            return JSONResponse({"error": {"code": 100, "message": "Unknown path"}}, 400)
        if request.headers.get("authorization") != f"Bearer {WHATSAPP_TOKEN}":
            return JSONResponse({"error": {"code": 190, "message": "Invalid OAuth token"}}, 401)
        payload = await request.json()
        self.requests.append(payload)
        if self.script:
            status, body = self.script.pop(0)
            return JSONResponse(body, status)
        to = payload["to"]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}],
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{version}/{phone_id}/messages", self._messages, methods=["POST"]),
                Route("/whatsapp_business/attachments/", self._download, methods=["GET"]),
                Route("/{version}/{media_id}", self._media, methods=["GET"]),
            ]
        )


@dataclass
class FakeZenziva:
    """Zenziva's console API: form post, JSON answer with status "1" or "0"."""

    userkey: str = "zz-user"
    passkey: str = "zz-pass"
    requests: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    async def _send(self, request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if (form.get("userkey"), form.get("passkey")) != (self.userkey, self.passkey):
            return JSONResponse({"status": "0", "text": "Userkey / Passkey salah"})
        self.requests.append(form)
        if self.script:
            status, body = self.script.pop(0)
            return JSONResponse(body, status)
        return JSONResponse(
            {
                "messageId": str(uuid.uuid4().int)[:8],
                "to": form["to"],
                "status": "1",
                "text": "Success",
            }
        )

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/reguler/api/sendsms/", self._send, methods=["POST"])])


class RecordingSmtp:
    """aiosmtpd handler: keeps every accepted message; answers scripted replies first
    (e.g. "451 4.3.0 Try again later") at DATA."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.data_replies: list[str] = []
        self.refused_recipients: dict[str, str] = {}
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.refused_recipients.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            content = envelope.original_content or b""
            self.messages.append(message_from_bytes(content))
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(handler: RecordingSmtp) -> Iterator[int]:
    """A real SMTP server (aiosmtpd, its own thread and loop) on a free loopback port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
