"""Complaint events end to end over real NATS: intake's own code stages them (filing, the
deadline's escalation, the answer), its outbox relay publishes them to JetStream, and the
notification handler turns what it consumes into messages: the desa's Sekdes, the kabupaten's
operator, and the complainant when they filed signed in."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from common.domain import Role
from common.events import PUBLIC_STREAM, CloudEvent, public_filter
from common.messaging import ensure_streams
from common.outbox import OutboxRelay
from services.intake import complaints
from services.intake.models import TABLES
from services.notification.models import Delivery, Notification
from tests.notification.conftest import (
    PAMANUKAN,
    RESIDENT_ID,
    RESIDENT_PHONE,
    HandlerEnv,
    Peers,
)

BODY = "Ani Suryani menunggu surat 3 minggu, petugas bilang berkasnya hilang, NIK 3213115708900001"
FILED_AT = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
KABUPATEN_OPERATOR = complaints.StaffActor("operator.subang", Role.KABUPATEN_OPERATOR, "", "32.13")
SEKDES = complaints.StaffActor("sekdes.pamanukan", Role.SEKDES, PAMANUKAN, "32.13")


@pytest.fixture
async def intake(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _published(
    nats_url: str, sessions: async_sessionmaker[AsyncSession], complaint_id: str
) -> list[CloudEvent]:
    """Publish intake's outbox with its relay; read back this complaint's events from NATS."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    durable = f"test-complaints-{uuid.uuid4().hex[:8]}"
    try:
        await ensure_streams(js)
        await js.add_consumer(
            PUBLIC_STREAM,
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                filter_subject=public_filter(desa=PAMANUKAN, name="complaint.*"),
            ),
        )
        sub = await js.pull_subscribe_bind(durable=durable, stream=PUBLIC_STREAM)
        published = await OutboxRelay(sessions, js).publish_pending()
        events = []
        for msg in await sub.fetch(published, timeout=5):
            await msg.ack()
            event = CloudEvent.from_message(msg.headers, msg.data)
            if event.subject == complaint_id:
                events.append(event)
        await js.delete_consumer(PUBLIC_STREAM, durable)
        return events
    finally:
        await nc.close()


async def _notes(env: HandlerEnv) -> list[Notification]:
    async with env.sessions() as session:
        rows = await session.exec(select(Notification).order_by(col(Notification.recipient)))
        return list(rows.all())


async def test_filed_escalated_answered_reach_sekdes_kabupaten_and_the_resident(
    intake: async_sessionmaker[AsyncSession],
    handler_env: HandlerEnv,
    peers: Peers,
    nats_url: str,
    tmp_path: Path,
) -> None:
    peers.directory.holders[(PAMANUKAN, Role.KABUPATEN_OPERATOR)] = ["operator.subang"]
    async with intake() as session:
        filed = await complaints.file_complaint(
            session,
            tmp_path,
            complaints.NewComplaint(PAMANUKAN, "layanan", BODY, resident_id=RESIDENT_ID),
            24,
            FILED_AT,
        )
        await session.commit()
        complaint_id = filed.complaint.id
        tracking = filed.complaint.tracking_number
    async with intake() as session:
        assert await complaints.escalate(session, complaint_id)
    async with intake() as session:
        # The kabupaten answers what reached it.
        await complaints.answer_complaint(
            session, KABUPATEN_OPERATOR, complaint_id, "Berkas sudah ditemukan, surat terbit."
        )
    peers.intake.add_resident(RESIDENT_ID, RESIDENT_PHONE)
    peers.intake.complainants[complaint_id] = RESIDENT_ID

    events = await _published(nats_url, intake, complaint_id)
    assert [e.name for e in events] == [
        "complaint.received",
        "complaint.escalated",
        "complaint.answered",
    ]
    for event in events:
        # Ids, area codes, status and deadline: nothing the complainant wrote, nor the number
        # that with its secret opens the complaint.
        assert set(event.data) <= {
            "complaint_id", "desa_code", "kecamatan_code", "kabupaten_code", "status",
            "deadline", "answered_by",
        }  # fmt: skip
        assert "Suryani" not in str(event.data) and tracking not in str(event.data)
        assert event.data["deadline"] == "2026-07-23T02:00:00Z"  # 24 working hours on
        await handler_env.handler(event)
    assert [e.data["status"] for e in events] == ["diterima", "diteruskan", "dijawab"]
    assert events[2].data["answered_by"] == "kabupaten"

    by_recipient = {n.recipient: n for n in await _notes(handler_env)}
    assert set(by_recipient) == {
        "staff:sekdes.pamanukan",
        "staff:sekdes2.pamanukan",
        "staff:operator.subang",
        f"resident:{RESIDENT_ID}",
    }
    received = by_recipient["staff:sekdes.pamanukan"]
    assert received.title == "Pengaduan baru untuk desa"
    assert "Desa Pamanukan" in received.body and "23 Juli 2026" in received.body
    assert received.link == f"/pengaduan/{complaint_id}"
    escalated = by_recipient["staff:operator.subang"]
    assert escalated.title == "Pengaduan diteruskan ke kabupaten"
    answered = by_recipient[f"resident:{RESIDENT_ID}"]
    assert answered.body == (
        "Pengaduan Anda tentang pelayanan Desa Pamanukan sudah dijawab oleh kabupaten. Baca "
        f"jawabannya di https://warga.example/pengaduan/saya/{complaint_id}"
    )
    async with handler_env.sessions() as session:
        outgoing = (await session.exec(select(Delivery))).all()
    # The resident hears on WhatsApp (SMS on standby); nobody's message quotes the complaint.
    assert {(d.recipient, d.channel) for d in outgoing} >= {(f"resident:{RESIDENT_ID}", "whatsapp")}
    assert all("Suryani" not in d.body for d in outgoing)


async def test_an_answer_to_a_public_form_complaint_tells_nobody(
    intake: async_sessionmaker[AsyncSession],
    handler_env: HandlerEnv,
    nats_url: str,
    tmp_path: Path,
) -> None:
    async with intake() as session:
        filed = await complaints.file_complaint(
            session, tmp_path, complaints.NewComplaint(PAMANUKAN, "layanan", BODY), 24, FILED_AT
        )
        await session.commit()
        complaint_id = filed.complaint.id
    async with intake() as session:
        await complaints.answer_complaint(
            session, SEKDES, complaint_id, "Terima kasih, sudah kami perbaiki."
        )
    events = await _published(nats_url, intake, complaint_id)
    assert [e.name for e in events] == ["complaint.received", "complaint.answered"]
    assert events[1].data["answered_by"] == "desa"
    await handler_env.handler(events[1])  # handled (not a dead letter): nobody to tell
    assert await _notes(handler_env) == []
