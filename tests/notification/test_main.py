"""The service as it runs: real CloudEvents published to real JetStream, consumed by the
service's durable consumers, effects visible over its HTTP API."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js.api import ConsumerInfo
from sqlmodel import col, select

from common.domain.events import APPLICATION_STEP_ASSIGNED, LETTER_ISSUED
from common.events import INTERNAL_STREAM, PUBLIC_STREAM, CloudEvent, event_type, public_subject
from common.messaging import publish
from common.rpc import READ_ATTEMPTS
from common.secrets import ensure_dev_secrets
from services.notification.channels import ChannelConfigError
from services.notification.config import Settings
from services.notification.dispatcher import REDACTED_BODY
from services.notification.event_handler import EVENTS_DURABLE, INTERNAL_DURABLE
from services.notification.main import create_app
from services.notification.models import DELIVERED, Delivery
from tests.notification.conftest import (
    PAMANUKAN,
    RANCASARI,
    RESIDENT_ID,
    RESIDENT_PHONE,
    RESIDENT_PHONE_LOCAL,
    Peers,
    Service,
    application_event,
    make_settings,
    otp_event,
)
from tests.support.waiting import eventually

LETTER_TITLE = "Surat Anda sudah terbit"


async def _two(messages: Any) -> Any:
    found = await messages
    return found if len(found) >= 2 else None


async def inbox_of(service: Service, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await service.client.get("/api/v1/inbox", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()
    return items


async def dev_messages(service: Service, to: str | None = None) -> list[dict[str, Any]]:
    response = await service.client.get("/dev/messages", params={"to": to} if to else None)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()
    return items


async def publish_seq(service: Service, subject: str, body: bytes, headers: dict[str, str]) -> int:
    ack = await service.js.publish(subject, body, headers=headers)
    return int(ack.seq)


async def consumer_settled(service: Service, stream: str, durable: str, seq: int) -> ConsumerInfo:
    """Waits until every message up to `seq` is acknowledged or terminated, none pending."""

    async def probe() -> ConsumerInfo | None:
        info = await service.js.consumer_info(stream, durable)
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        return info if floor >= seq and info.num_ack_pending == 0 else None

    return await eventually(probe, what=f"{durable} to settle at {seq}")


async def test_healthz(service: Service) -> None:
    response = await service.client.get("/healthz")
    assert response.status_code == 200


async def test_otp_reaches_the_dev_whatsapp_sink(service: Service) -> None:
    service.peers.intake.add_resident("res-0002", "6285700000002")
    subject, mine = otp_event(code="123456")
    await publish(service.js, subject, mine)
    _, theirs = otp_event(code="999888", resident_id="res-0002")
    await publish(service.js, subject, theirs)

    async def both_arrived() -> list[dict[str, Any]] | None:
        messages = await dev_messages(service)
        return messages if len(messages) == 2 else None

    everything = await eventually(both_arrived, what="two dev messages")
    assert {m["to"] for m in everything} == {RESIDENT_PHONE, "6285700000002"}

    [message] = await dev_messages(service, to=RESIDENT_PHONE_LOCAL)  # 08… is normalised
    assert message["channel"] == "whatsapp"
    assert message["to"] == RESIDENT_PHONE
    assert message["body"] == (
        "Kode masuk Smart Desa Anda: 123456. Berlaku 5 menit. "
        "Jangan berikan kode ini kepada siapa pun."
    )
    assert message["created_at"].endswith(("Z", "+00:00"))
    resident = service.resident_headers(RESIDENT_ID)
    assert await inbox_of(service, resident) == []  # a code is never kept in the inbox

    async def recorded() -> list[Delivery] | None:
        # The sink has them before the dispatcher records the outcome: wait for the record.
        async with service.runtime.sessions() as session:
            found = list((await session.exec(select(Delivery).order_by(col(Delivery.id)))).all())
        done = [d for d in found if d.fallback_for is None and d.status == DELIVERED]
        return found if len(done) == 2 else None

    rows = await eventually(recorded, what="deliveries recorded")
    sent = [d for d in rows if d.fallback_for is None]
    assert [(d.status, d.attempts, d.body) for d in sent] == [(DELIVERED, 1, REDACTED_BODY)] * 2
    # Each has its SMS twin waiting in case WhatsApp reports a failure; it expires with the code.
    twins = [d for d in rows if d.fallback_for is not None]
    assert sorted(d.fallback_for or 0 for d in twins) == sorted(d.id or 0 for d in sent)
    assert {(d.channel, d.status, d.expires_at is not None) for d in twins} == {
        ("sms", "standby", True)
    }


async def test_dev_messages_refuse_a_malformed_number(service: Service) -> None:
    response = await service.client.get("/dev/messages", params={"to": "12345"})
    assert response.status_code == 422
    assert "Nomor HP" in response.json()["detail"]


async def test_expired_otp_is_not_sent(service: Service) -> None:
    subject, expired = otp_event(code="111111", valid_for=timedelta(seconds=-5))
    seq = await publish_seq(service, subject, expired.body(), expired.headers())
    await consumer_settled(service, INTERNAL_STREAM, INTERNAL_DURABLE, seq)
    assert await dev_messages(service) == []
    assert service.peers.intake.calls == []


async def test_step_assigned_reaches_each_role_holder_only(service: Service) -> None:
    # The first step: the applicant already heard of the submission (test_rules.py).
    subject, event = application_event(APPLICATION_STEP_ASSIGNED, step_index=0, step_role="sekdes")
    await publish(service.js, subject, event)
    rancasari_subject, elsewhere = application_event(
        APPLICATION_STEP_ASSIGNED,
        application_id="app-rancasari",
        desa_code=RANCASARI,
        step_role="kasi_pemerintahan",
    )
    await publish(service.js, rancasari_subject, elsewhere)

    holders = [
        service.staff_headers(u, "sekdes") for u in ("sekdes.pamanukan", "sekdes2.pamanukan")
    ]
    for headers in holders:

        async def arrived(headers: dict[str, str] = headers) -> list[dict[str, Any]]:
            return await inbox_of(service, headers)

        [item] = await eventually(arrived, what="the sekdes inbox entry")
        assert item["title"] == "Surat menunggu pemeriksaan Anda"
        assert "Surat Keterangan Domisili" in item["body"] and "Sekretaris Desa" in item["body"]
        assert item["link"] == "/api/v1/tasks/app-0001"
        assert item["read"] is False

    rancasari = service.staff_headers("pemerintahan.rancasari")
    [item] = await eventually(lambda: inbox_of(service, rancasari), what="rancasari inbox")
    assert item["link"] == "/api/v1/tasks/app-rancasari"
    for bystander in ("pemerintahan.pamanukan", "kades.pamanukan"):
        assert await inbox_of(service, service.staff_headers(bystander)) == []
    assert await dev_messages(service) == []  # staff hear about tasks in the app only
    asked = {(c.desa_code, c.role) for c in service.peers.directory.calls}
    assert asked == {(PAMANUKAN, "sekdes"), (RANCASARI, "kasi_pemerintahan")}


async def test_letter_issued_reaches_the_resident_in_app_and_on_whatsapp(
    service: Service,
) -> None:
    subject, event = application_event(LETTER_ISSUED, letter_number="470/004/2004/VII/2026")
    await publish(service.js, subject, event)
    await publish(service.js, subject, event)  # a producer's retry: same id, same message

    resident = service.resident_headers(RESIDENT_ID)
    items = await eventually(lambda: inbox_of(service, resident), what="resident inbox")
    # The letter's news and, stored with it, the satisfaction survey's invitation.
    assert sorted(i["title"] for i in items) == ["Bagaimana pelayanan desa?", LETTER_TITLE]
    [item] = [i for i in items if i["title"] == LETTER_TITLE]
    assert "470/004/2004/VII/2026" in item["body"]
    assert item["link"] == "/api/v1/applications/app-0001"

    messages = await eventually(
        lambda: _two(dev_messages(service, to=RESIDENT_PHONE_LOCAL)), what="whatsapp messages"
    )
    [message] = [m for m in messages if "sudah terbit" in m["body"]]
    assert "sudah terbit dengan nomor 470/004/2004/VII/2026" in message["body"]
    assert len(await inbox_of(service, resident)) == 2


async def test_malformed_events_are_terminated_and_do_not_block(service: Service) -> None:
    subject = public_subject(PAMANUKAN, LETTER_ISSUED)
    # Not a CloudEvent at all, then a CloudEvent whose data breaks the schema.
    await publish_seq(service, subject, b"{not json", {"Nats-Msg-Id": "junk-1"})
    broken = CloudEvent(
        id="broken-1", source="/test", type=event_type(LETTER_ISSUED), data={"application_id": 7}
    )
    await publish_seq(service, subject, broken.body(), broken.headers())
    good_subject, good = application_event(LETTER_ISSUED, letter_number="470/005/2004/VII/2026")
    last = await publish_seq(service, good_subject, good.body(), good.headers())

    resident = service.resident_headers(RESIDENT_ID)
    await eventually(lambda: inbox_of(service, resident), what="the good event's notification")
    info = await consumer_settled(service, PUBLIC_STREAM, EVENTS_DURABLE, last)
    assert info.delivered is not None
    assert info.delivered.consumer_seq == 3  # each delivered once: terminated, not nak'ed
    # Only the good event asked for a contact, once for its message and its survey invitation.
    assert len(service.peers.intake.calls) == 1


async def test_contact_not_found_terminates_the_event(service: Service) -> None:
    subject, event = application_event(
        LETTER_ISSUED, application_id="app-nobody", letter_number="470/006/2004/VII/2026"
    )
    seq = await publish_seq(service, subject, event.body(), event.headers())
    info = await consumer_settled(service, PUBLIC_STREAM, EVENTS_DURABLE, seq)
    assert info.delivered is not None and info.delivered.consumer_seq == 1  # no redelivery
    assert [c.application_id for c in service.peers.intake.calls] == ["app-nobody"]
    assert await dev_messages(service) == []


async def test_a_blip_of_an_unavailable_peer_is_asked_again_in_the_same_delivery(
    service: Service,
) -> None:
    service.peers.intake.unavailable_next = READ_ATTEMPTS - 1  # a replica dying, say
    subject, event = application_event(LETTER_ISSUED, letter_number="470/006/2004/VII/2026")
    seq = await publish_seq(service, subject, event.body(), event.headers())

    resident = service.resident_headers(RESIDENT_ID)
    items = await eventually(lambda: inbox_of(service, resident), what="notification")
    assert any("470/006/2004/VII/2026" in i["body"] for i in items)
    info = await consumer_settled(service, PUBLIC_STREAM, EVENTS_DURABLE, seq)
    assert info.delivered is not None and info.delivered.consumer_seq == 1  # not redelivered


async def test_unavailable_peer_means_redelivery(service: Service) -> None:
    # Every attempt of the read's retry policy fails: the event comes back later.
    service.peers.intake.unavailable_next = READ_ATTEMPTS
    subject, event = application_event(LETTER_ISSUED, letter_number="470/007/2004/VII/2026")
    seq = await publish_seq(service, subject, event.body(), event.headers())

    resident = service.resident_headers(RESIDENT_ID)
    items = await eventually(lambda: inbox_of(service, resident), what="notification after retry")
    [item] = [i for i in items if i["title"] == LETTER_TITLE]
    assert "470/007/2004/VII/2026" in item["body"]
    info = await consumer_settled(service, PUBLIC_STREAM, EVENTS_DURABLE, seq)
    assert info.delivered is not None and info.delivered.consumer_seq == 2  # once more
    # The failed asks, then one for the letter and its survey.
    assert len(service.peers.intake.calls) == READ_ATTEMPTS + 1


async def test_dev_messages_do_not_exist_in_production(data_dir: Path) -> None:
    app = create_app(Settings(data_dir=data_dir, profile="production"))
    transport = httpx.ASGITransport(app=app)  # routing only: production cannot start here
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/dev/messages", params={"to": RESIDENT_PHONE_LOCAL})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_production_without_a_provider_fails_at_start(
    data_dir: Path, nats_url: str, peers: Peers
) -> None:
    ensure_dev_secrets(Settings(data_dir=data_dir))
    settings = make_settings(data_dir, nats_url, peers, profile="production")
    app = create_app(settings)
    with pytest.raises(ChannelConfigError, match="whatsapp"):
        async with app.router.lifespan_context(app):
            pass
