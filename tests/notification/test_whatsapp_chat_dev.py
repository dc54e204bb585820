"""The dev profile's sink keeps a chat reply as the Cloud API would get it (buttons, list
rows), which `make chat` shows; the chat's terminal renders it."""

import json
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from scripts.chat import render
from tests.notification.chat_support import (
    APP_SECRET,
    envelope,
    register_resident,
    signed,
    text,
)
from tests.notification.conftest import Service
from tests.support.waiting import eventually

PHONE = "6281344445555"


@pytest.fixture
def service_overrides(temporal_env: WorkflowEnvironment) -> dict[str, object]:
    import uuid

    return {
        "notification_whatsapp_provider": "dev",
        "notification_whatsapp_app_secret": APP_SECRET,
        "notification_whatsapp_chat": True,
        "temporal_address": temporal_env.client.service_client.config.target_host,
        "temporal_task_queue": f"chat-dev-{uuid.uuid4().hex[:12]}",
    }


async def test_the_dev_sink_keeps_the_interactive_structure(service: Service) -> None:
    register_resident(service.peers, PHONE)
    body = json.dumps(envelope(PHONE, text(PHONE, "Halo"))).encode()
    answer = await service.client.post(
        "/api/v1/webhooks/whatsapp", content=body, headers=signed(body)
    )
    assert answer.status_code == 200 and answer.json()["taken"] == 1

    async def sunk() -> list[dict[str, Any]]:
        listed = await service.client.get("/dev/messages", params={"to": PHONE})
        return list(listed.json())

    [kept] = await eventually(sunk, "the reply in the dev sink")
    sent = json.loads(kept["body"])
    assert sent["type"] == "interactive"
    titles = [b["reply"]["title"] for b in sent["interactive"]["action"]["buttons"]]
    assert titles == ["Ajukan surat", "Status permohonan", "Bantuan"]
    assert render(sent).startswith("Halo, Asep. Apa yang ingin Anda lakukan?")
