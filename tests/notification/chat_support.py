"""Driving a WhatsApp conversation as Meta does: signed webhook payloads in the Cloud API's
shape, and the replies as the local Cloud API stand-in received them."""

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from smartdesa.v1 import intake_pb2
from temporalio.testing import WorkflowEnvironment

from tests.notification.conftest import PAMANUKAN, Peers, Service
from tests.notification.providers import (
    API_VERSION,
    PHONE_NUMBER_ID,
    WHATSAPP_TOKEN,
    FakeWhatsAppCloud,
    serve_in_thread,
)
from tests.support.waiting import eventually

APP_SECRET = "test-app-secret"
NIK = "3213111203800001"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64
_clock = itertools.count(int(time.time()))


def clock_from(epoch_seconds: int) -> None:
    """Messages from now on carry times from here on. A test on the time-skipping server sets
    the server's time: the 24-hour window compares a message's time with the workflow's clock,
    which earlier tests in the same process may have skipped days ahead."""
    global _clock
    _clock = itertools.count(epoch_seconds)


def cloud_server() -> Iterator[tuple[FakeWhatsAppCloud, str]]:
    fake = FakeWhatsAppCloud()
    with serve_in_thread(fake.app()) as url:
        fake.base_url = url
        yield fake, url


def chat_overrides(url: str, env: WorkflowEnvironment) -> dict[str, object]:
    return {
        "notification_whatsapp_provider": "whatsapp-cloud",
        "notification_whatsapp_api_base": url,
        "notification_whatsapp_api_version": API_VERSION,
        "notification_whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "notification_whatsapp_access_token": WHATSAPP_TOKEN,
        "notification_whatsapp_app_secret": APP_SECRET,
        "notification_whatsapp_verify_token": "verify-me",
        "notification_whatsapp_chat": True,
        "temporal_address": env.client.service_client.config.target_host,
        # A queue of its own: another test's worker never runs this test's conversations.
        "temporal_task_queue": f"chat-{uuid.uuid4().hex[:12]}",
    }


def skd_catalogue() -> intake_pb2.LetterTypeCatalogue:
    return intake_pb2.LetterTypeCatalogue(
        letter_types=[
            intake_pb2.LetterTypeInfo(
                code="SKD",
                name="Surat Keterangan Domisili",
                requirements=[
                    intake_pb2.RequirementInfo(code="KTP", name="KTP"),
                    intake_pb2.RequirementInfo(code="KK", name="Kartu Keluarga"),
                ],
                fields=[
                    # The register fills it: confirmed with the data, never asked.
                    intake_pb2.FormFieldInfo(name="nama", label="Nama lengkap", required=True),
                    intake_pb2.FormFieldInfo(
                        name="lama_tinggal_digits",
                        label="Sudah berapa tahun tinggal di desa?",
                        required=True,
                        kind="digits",
                        max_length=3,
                    ),
                ],
            ),
            intake_pb2.LetterTypeInfo(code="SKU", name="Surat Keterangan Usaha"),
        ]
    )


def register_resident(peers: Peers, phone: str, name: str = "ASEP SAEPUDIN") -> None:
    peers.population.add(f"reg-{len(peers.population.residents) + 1}", NIK, name, phone, PAMANUKAN)
    peers.directory.offered[PAMANUKAN] = ["SKD"]
    peers.intake.catalogue = skd_catalogue()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def envelope(phone: str, message: dict[str, Any]) -> dict[str, Any]:
    """A webhook body exactly as the Cloud API sends one message."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6226000000",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Warga"}, "wa_id": phone}],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }


def message(phone: str, kind: str, content: dict[str, Any], wamid: str = "") -> dict[str, Any]:
    return {
        "from": phone,
        "id": wamid or f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(next(_clock)),
        "type": kind,
        kind: content,
    }


def text(phone: str, body: str, wamid: str = "") -> dict[str, Any]:
    return message(phone, "text", {"body": body}, wamid)


def button(phone: str, reply_id: str, title: str = "") -> dict[str, Any]:
    return message(
        phone,
        "interactive",
        {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    )


def row(phone: str, row_id: str, title: str = "") -> dict[str, Any]:
    return message(
        phone, "interactive", {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}
    )


def image(phone: str, media_id: str, mime: str = "image/jpeg") -> dict[str, Any]:
    return message(phone, "image", {"id": media_id, "mime_type": mime, "sha256": "x"})


def document(phone: str, media_id: str, mime: str = "application/pdf") -> dict[str, Any]:
    return message(phone, "document", {"id": media_id, "mime_type": mime, "filename": "kk.pdf"})


class Chat:
    """One phone writing; `say` posts a message and waits for the replies it causes."""

    def __init__(self, service: Service, cloud: FakeWhatsAppCloud, phone: str) -> None:
        self.service = service
        self.cloud = cloud
        self.phone = phone

    def replies(self) -> list[dict[str, Any]]:
        return [r for r in self.cloud.requests if r.get("to") == self.phone]

    async def post(self, msg: dict[str, Any]) -> httpx.Response:
        body = json.dumps(envelope(self.phone, msg)).encode()
        return await self.service.client.post(
            "/api/v1/webhooks/whatsapp", content=body, headers=signed(body)
        )

    async def say(self, msg: dict[str, Any], replies: int = 1) -> list[dict[str, Any]]:
        before = len(self.replies())
        response = await self.post(msg)
        assert response.status_code == 200, response.text
        await eventually(
            lambda: len(self.replies()) >= before + replies, f"{replies} replies", within=30
        )
        return self.replies()[before:]


def body_of(reply: dict[str, Any]) -> str:
    if reply["type"] == "text":
        return str(reply["text"]["body"])
    if reply["type"] == "interactive":
        return str(reply["interactive"]["body"]["text"])
    return ""


def choice_ids(reply: dict[str, Any]) -> dict[str, str]:
    """Title -> id of a reply's buttons or list rows."""
    interactive = reply["interactive"]
    if interactive["type"] == "button":
        return {b["reply"]["title"]: b["reply"]["id"] for b in interactive["action"]["buttons"]}
    rows = [r for s in interactive["action"]["sections"] for r in s["rows"]]
    return {r["title"]: r["id"] for r in rows}
