"""The notification service on a real HTTP socket (uvicorn): live inbox updates over
server-sent events, the WhatsApp status webhook, and each person's preferences."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from sqlmodel import col, select

from common.domain.events import APPLICATION_STEP_ASSIGNED, LETTER_ISSUED
from common.messaging import publish
from services.notification.channels import SMS, WHATSAPP
from services.notification.main import create_app
from services.notification.models import (
    DELIVERED,
    PERMANENT_FAILURE,
    STANDBY,
    Delivery,
)
from services.notification.runtime import Runtime
from tests.notification.conftest import (
    PAMANUKAN,
    RESIDENT_ID,
    RESIDENT_PHONE,
    Peers,
    Service,
    application_event,
    make_settings,
    reset_nats,
)
from tests.support.waiting import eventually

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@dataclass
class Live:
    service: Service
    url: str

    @property
    def client(self) -> httpx.AsyncClient:
        return self.service.client

    @property
    def runtime(self) -> Runtime:
        return self.service.runtime


@pytest.fixture
async def live(data_dir: Path, nats_url: str, peers: Peers) -> AsyncIterator[Live]:
    await reset_nats(nats_url)
    settings = make_settings(
        data_dir,
        nats_url,
        peers,
        notification_whatsapp_app_secret=APP_SECRET,
        notification_whatsapp_verify_token=VERIFY_TOKEN,
        notification_sse_poll_seconds=0.1,
        notification_sse_keepalive_seconds=0.3,
    )
    app = create_app(settings)
    nc = await nats.connect(nats_url)
    try:
        async with app.router.lifespan_context(app):
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host="127.0.0.1",
                    port=0,
                    lifespan="off",
                    log_level="warning",
                    timeout_graceful_shutdown=2,
                )
            )
            task = asyncio.create_task(server.serve())
            try:
                await eventually(lambda: _started(server), what="uvicorn start")
                port = server.servers[0].sockets[0].getsockname()[1]
                url = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    yield Live(
                        Service(
                            client=client,
                            runtime=app.state.runtime,
                            settings=settings,
                            peers=peers,
                            js=nc.jetstream(),
                        ),
                        url,
                    )
            finally:
                server.should_exit = True
                await task
    finally:
        await nc.close()


async def _started(server: uvicorn.Server) -> bool:
    return server.started


# --- server-sent events ----------------------------------------------------------------------


async def read_events(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    """The first `count` SSE events (comments and retry lines skipped)."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line.startswith(":") or line.startswith("retry:"):
            current = {}
            continue
        if not line:
            if current:
                found.append(current)
                current = {}
                if len(found) == count:
                    return found
            continue
        field, _, value = line.partition(": ")
        current[field] = json.loads(value) if field == "data" else value
    raise AssertionError("stream ended early")


async def test_new_inbox_items_are_pushed_to_their_owner_only(live: Live) -> None:
    sekdes = live.service.staff_headers("sekdes.pamanukan", role="sekdes")
    live.service.peers.directory.holders[(PAMANUKAN, "kasi_kesra")] = ["kesra.pamanukan"]
    async with live.client.stream("GET", "/api/v1/inbox/stream", headers=sekdes) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        # Someone else's item first: it must never reach this stream.
        subject, other = application_event(APPLICATION_STEP_ASSIGNED, step_role="kasi_kesra")
        await publish(live.service.js, subject, other)
        subject, mine = application_event(
            APPLICATION_STEP_ASSIGNED, application_id="app-0002", step_role="sekdes"
        )
        await publish(live.service.js, subject, mine)
        [event] = await asyncio.wait_for(read_events(response, 1), timeout=30)
    assert event["event"] == "notification"
    assert event["data"]["title"] == "Surat menunggu pemeriksaan Anda"
    assert event["data"]["link"] == "/api/v1/tasks/app-0002"
    assert event["data"]["read"] is False
    assert event["id"] == str(event["data"]["id"])

    # Reconnecting with Last-Event-ID: only what came after it.
    subject, later = application_event(
        APPLICATION_STEP_ASSIGNED, application_id="app-0003", step_role="sekdes"
    )
    await publish(live.service.js, subject, later)
    resume = {**sekdes, "Last-Event-ID": event["id"]}
    async with live.client.stream("GET", "/api/v1/inbox/stream", headers=resume) as response:
        [missed] = await asyncio.wait_for(read_events(response, 1), timeout=30)
    assert missed["data"]["link"] == "/api/v1/tasks/app-0003"


async def test_the_stream_needs_a_token(live: Live) -> None:
    response = await live.client.get("/api/v1/inbox/stream")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    bad = await live.client.get(
        "/api/v1/inbox/stream",
        headers={**live.service.resident_headers(RESIDENT_ID), "Last-Event-ID": "abc"},
    )
    assert bad.status_code == 422


# --- WhatsApp webhook ------------------------------------------------------------------------


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def status_body(message_id: str, *statuses: str) -> bytes:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA-1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "statuses": [
                                {
                                    "id": message_id,
                                    "status": status,
                                    "timestamp": str(1784600000 + i),
                                    "recipient_id": RESIDENT_PHONE,
                                }
                                for i, status in enumerate(statuses)
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(payload).encode()


async def test_webhook_subscription_check(live: Live) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    ok = await live.client.get("/api/v1/webhooks/whatsapp", params=params)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await live.client.get(
        "/api/v1/webhooks/whatsapp", params={**params, "hub.verify_token": "tebakan"}
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "Token verifikasi tidak cocok."


def _letters(rows: Iterable[Delivery]) -> list[Delivery]:
    """The letter's own deliveries: letter.issued also invites to the survey (its own
    message, tested in test_event_handler.py), which these tests do not follow."""
    return [d for d in rows if d.template.startswith("letter_issued.")]


async def delivered_letter(live: Live) -> tuple[Delivery, Delivery]:
    """letter.issued through NATS until the dev sink has the WhatsApp message."""
    subject, event = application_event(LETTER_ISSUED, letter_number="470/021/2004/VII/2026")
    await publish(live.service.js, subject, event)

    async def rows() -> list[Delivery] | None:
        async with live.runtime.sessions() as session:
            found = _letters(await session.exec(select(Delivery).order_by(col(Delivery.id))))
        return found if found and found[0].status == DELIVERED else None

    primary, twin = await eventually(rows, what="whatsapp delivered")
    assert (primary.channel, twin.channel, twin.status) == (WHATSAPP, SMS, STANDBY)
    return primary, twin


async def delivery(live: Live, delivery_id: int | None) -> Delivery:
    async with live.runtime.sessions() as session:
        row = await session.get(Delivery, delivery_id)
        assert row is not None
        return row


async def test_webhook_statuses_only_move_forward(live: Live) -> None:
    primary, twin = await delivered_letter(live)
    wamid = primary.provider_message_id
    assert wamid

    # Out of order and repeated: read arrives before delivered, sent comes last, twice.
    body = status_body(wamid, "read", "delivered", "sent", "sent")
    answer = await live.client.post("/api/v1/webhooks/whatsapp", content=body, headers=signed(body))
    assert answer.status_code == 200
    assert answer.json() == {"statuses": 4, "applied": 1, "messages": 0, "taken": 0}
    assert (await delivery(live, primary.id)).provider_status == "read"

    # A late "failed" after "read" changes nothing: no SMS.
    body = status_body(wamid, "failed")
    answer = await live.client.post("/api/v1/webhooks/whatsapp", content=body, headers=signed(body))
    assert answer.json() == {"statuses": 1, "applied": 0, "messages": 0, "taken": 0}
    assert (await delivery(live, twin.id)).status == STANDBY


async def test_webhook_failure_releases_the_sms_fallback(live: Live) -> None:
    primary, twin = await delivered_letter(live)
    assert primary.provider_message_id
    body = status_body(primary.provider_message_id, "sent", "failed")
    answer = await live.client.post("/api/v1/webhooks/whatsapp", content=body, headers=signed(body))
    assert answer.json() == {"statuses": 2, "applied": 2, "messages": 0, "taken": 0}

    async def sms_delivered() -> bool:
        return (await delivery(live, twin.id)).status == DELIVERED

    await eventually(sms_delivered, what="sms fallback delivered")
    failed = await delivery(live, primary.id)
    assert (failed.status, failed.provider_status) == (PERMANENT_FAILURE, "failed")
    messages = (await live.client.get("/dev/messages", params={"to": RESIDENT_PHONE})).json()
    letter = [m for m in messages if "/survei/" not in json.dumps(m)]  # not the invitation
    assert sorted(m["channel"] for m in letter) == [SMS, WHATSAPP]

    # Meta repeats the failure: the SMS is not sent again.
    again = await live.client.post("/api/v1/webhooks/whatsapp", content=body, headers=signed(body))
    assert again.json()["applied"] == 0
    assert (await delivery(live, twin.id)).attempts == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=00"},
        signed(b"another body"),
        signed(status_body("wamid.x", "read"), secret="not-ours"),
    ],
)
async def test_webhook_refuses_unsigned_or_forged_bodies(
    live: Live, headers: dict[str, str]
) -> None:
    body = status_body("wamid.x", "read")
    answer = await live.client.post("/api/v1/webhooks/whatsapp", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


# --- preferences -----------------------------------------------------------------------------


async def test_preferences_default_then_changed_by_their_owner(live: Live) -> None:
    sekdes = live.service.staff_headers("sekdes.pamanukan", role="sekdes")
    first = await live.client.get("/api/v1/preferences", headers=sekdes)
    assert first.json() == {
        "channels": ["whatsapp", "sms", "email"],
        "email": None,
        "phone": None,
        "quiet_hours": None,
        "step_updates": True,
    }
    changed = await live.client.put(
        "/api/v1/preferences",
        headers=sekdes,
        json={
            "channels": ["email", "whatsapp"],
            "email": "sekdes@pamanukan.desa.id",
            "phone": "0857-0000-0002",
            "quiet_hours": {"start": "21:00", "end": "06:00"},
            "step_updates": False,
        },
    )
    assert changed.status_code == 200
    expected = {
        "channels": ["whatsapp", "email"],
        "email": "sekdes@pamanukan.desa.id",
        "phone": "6285700000002",
        "quiet_hours": {"start": "21:00", "end": "06:00"},
        "step_updates": False,
    }
    assert changed.json() == expected
    assert (await live.client.get("/api/v1/preferences", headers=sekdes)).json() == expected
    # Someone else still has the defaults.
    other = live.service.staff_headers("sekdes2.pamanukan", role="sekdes")
    assert (await live.client.get("/api/v1/preferences", headers=other)).json()["email"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"channels": ["telegram"]}, "unknown-channel"),
        ({"channels": ["email"], "email": "bukan-email"}, "invalid-email"),
        ({"channels": ["sms"], "phone": "12345"}, "invalid-phone"),
        (
            {"channels": [], "quiet_hours": {"start": "25:00", "end": "06:00"}},
            "invalid-quiet-hours",
        ),
        (
            {"channels": [], "quiet_hours": {"start": "06:00", "end": "06:00"}},
            "invalid-quiet-hours",
        ),
    ],
)
async def test_bad_preferences_are_refused_and_nothing_is_stored(
    live: Live, body: dict[str, Any], code: str
) -> None:
    sekdes = live.service.staff_headers("sekdes.pamanukan", role="sekdes")
    answer = await live.client.put("/api/v1/preferences", headers=sekdes, json=body)
    assert answer.status_code == 422
    assert answer.json()["type"].endswith(f"/problems/{code}")
    stored = await live.client.get("/api/v1/preferences", headers=sekdes)
    assert stored.json()["channels"] == ["whatsapp", "sms", "email"]


async def test_a_resident_cannot_set_another_phone(live: Live) -> None:
    resident = live.service.resident_headers(RESIDENT_ID)
    answer = await live.client.put(
        "/api/v1/preferences", headers=resident, json={"channels": ["sms"], "phone": "085700000009"}
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/problems/phone-not-editable")
    assert (await live.client.get("/api/v1/preferences")).status_code == 401


async def test_a_resident_who_turns_whatsapp_off_gets_sms(live: Live) -> None:
    resident = live.service.resident_headers(RESIDENT_ID)
    answer = await live.client.put(
        "/api/v1/preferences", headers=resident, json={"channels": ["sms"]}
    )
    assert answer.status_code == 200
    subject, event = application_event(LETTER_ISSUED, letter_number="470/031/2004/VII/2026")
    await publish(live.service.js, subject, event)

    async def sent() -> list[dict[str, Any]] | None:
        found = (await live.client.get("/dev/messages", params={"to": RESIDENT_PHONE})).json()
        return found if len(found) == 2 else None  # the letter and the survey invitation

    messages = await eventually(sent, what="sms")
    assert [m["channel"] for m in messages] == [SMS, SMS]

    async def recorded() -> list[Delivery] | None:
        # The sink has it before the dispatcher records the outcome: wait for the record.
        async with live.runtime.sessions() as session:
            rows = _letters(await session.exec(select(Delivery)))
        return rows if rows and all(d.status == DELIVERED for d in rows) else None

    rows = await eventually(recorded, what="delivery recorded")
    assert [(d.channel, d.status) for d in rows] == [(SMS, DELIVERED)]


async def test_mark_everything_read(live: Live) -> None:
    sekdes = live.service.staff_headers("sekdes.pamanukan", role="sekdes")
    other = live.service.staff_headers("sekdes2.pamanukan", role="sekdes")
    for application_id in ("app-0011", "app-0012"):
        subject, event = application_event(
            APPLICATION_STEP_ASSIGNED, application_id=application_id, step_role="sekdes"
        )
        await publish(live.service.js, subject, event)

    async def unread(headers: dict[str, str]) -> int:
        answer = await live.client.get("/api/v1/inbox/unread-count", headers=headers)
        return int(answer.json()["unread"])

    async def both_arrived() -> bool:
        return await unread(sekdes) == 2 and await unread(other) == 2

    await eventually(both_arrived, what="two unread items each")
    marked = await live.client.post("/api/v1/inbox/read-all", headers=sekdes)
    assert marked.json() == {"marked": 2}
    assert await unread(sekdes) == 0
    assert await unread(other) == 2  # someone else's inbox is untouched
    again = await live.client.post("/api/v1/inbox/read-all", headers=sekdes)
    assert again.json() == {"marked": 0}


async def test_staff_email_reaches_the_dev_sink(live: Live) -> None:
    sekdes = live.service.staff_headers("sekdes.pamanukan", role="sekdes")
    answer = await live.client.put(
        "/api/v1/preferences",
        headers=sekdes,
        json={"channels": ["email"], "email": "sekdes@pamanukan.desa.id"},
    )
    assert answer.status_code == 200
    subject, event = application_event(APPLICATION_STEP_ASSIGNED, step_role="sekdes")
    await publish(live.service.js, subject, event)

    async def emails() -> list[dict[str, Any]] | None:
        answer = await live.client.get("/dev/messages", params={"to": "sekdes@pamanukan.desa.id"})
        return answer.json() or None

    [email] = await eventually(emails, what="email in the dev sink")
    assert email["channel"] == "email"
    assert email["subject"] == "Smart Desa: Surat menunggu pemeriksaan Anda"
    assert email["body"].startswith("Yth. Bapak/Ibu,\n\nPermohonan Surat Keterangan Domisili")
