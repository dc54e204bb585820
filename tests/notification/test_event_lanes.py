"""The public consumer's lanes (common/messaging.py, keyed by services.notification.event_handler
.event_lane) through a real JetStream, on SQLite and PostgreSQL: one application waiting on a
slow call to intake does not hold the others; each event is stored once, each application's in
stream order."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from smartdesa.v1 import events_pb2
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.db import create_engine, create_tables, session_factory
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    COMPLAINT_RECEIVED,
)
from common.events import PUBLIC_STREAM, CloudEvent, event_type, proto_data, public_filter
from common.messaging import Consumer, publish
from common.rpc import INTAKE, NOTIFICATION, VERIFICATION, client_channel
from services.intake.applications import EVENT_SOURCE
from services.notification import recipients
from services.notification.event_handler import EventHandler, event_lane
from services.notification.models import TABLES, Delivery, Notification, ProcessedEvent
from services.notification.recipients import RecipientLookup
from tests.notification.conftest import (
    LINKS,
    Peers,
    application_event,
    make_settings,
)
from tests.support.postgres import engine_url
from tests.support.waiting import eventually


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_sessions(
    request: pytest.FixtureRequest, data_dir: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await engine_url(request, data_dir, "notification"))
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def test_the_lane_is_the_application_or_the_complaint() -> None:
    _, first = application_event(APPLICATION_SUBMITTED, "app-1")
    _, second = application_event(APPLICATION_DECIDED, "app-1", decision="approve")
    _, other = application_event(APPLICATION_SUBMITTED, "app-2")
    assert event_lane(first) == event_lane(second) == "app-1"
    assert event_lane(other) == "app-2"
    complaint = CloudEvent(
        id=str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(COMPLAINT_RECEIVED),
        subject="cmp-1",
        data=proto_data(events_pb2.ComplaintEvent(complaint_id="cmp-1", desa_code="32.13.11.2004")),
    )
    assert event_lane(complaint) == "cmp-1"


def _test_desa() -> str:
    """A desa of the test's own: every other test's service consumes every desa's events from
    the session's stream, and must not see ours as its own."""
    n = uuid.uuid4().int
    return f"9{n % 9}.{n // 10 % 90 + 10}.{n // 1000 % 90 + 10}.{n // 100000 % 9000 + 1000}"


async def test_lanes_handle_applications_side_by_side_each_in_order_once(
    any_sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    peers: Peers,
    data_dir: Path,
    nats_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sessions = any_sessions
    # The held call waits for the test, not for the call's deadline (which would fail the
    # event, and the lane would go on with the next) however loaded the machine is.
    monkeypatch.setattr(recipients, "CALL_TIMEOUT_SECONDS", 600.0)
    desa = _test_desa()
    peers.directory.holders[(desa, "kasi_pemerintahan")] = ["kasi.uji"]
    peers.directory.holders[(desa, "sekdes")] = ["sekdes.uji"]
    journeys: dict[str, list[tuple[str, CloudEvent]]] = {}
    for a in range(6):
        app_id = f"lane-{uuid.uuid4().hex[:8]}"
        peers.intake.add_resident(f"res-{app_id}", "6281234567890", app_id)
        journeys[app_id] = [
            application_event(APPLICATION_SUBMITTED, app_id, desa, application_number=f"N-{a}"),
            application_event(APPLICATION_STEP_ASSIGNED, app_id, desa, step_role="kasi_pemerintahan"),
            application_event(
                APPLICATION_DECIDED, app_id, desa, step_role="kasi_pemerintahan", decision="approve"
            ),
            application_event(
                APPLICATION_STEP_ASSIGNED, app_id, desa, step_index=1, step_role="sekdes"
            ),
        ]  # fmt: skip
    slow = next(iter(journeys))
    release = peers.intake.held[slow] = asyncio.Event()
    # Round robin over the applications, as their events meet in the stream; then one event
    # again under a new message id, as a producer re-publishing after the duplicate window.
    for i in range(4):
        for events in journeys.values():
            await publish(js, *events[i])
    again_subject, again = journeys[slow][2]
    headers = {**again.headers(), "Nats-Msg-Id": str(uuid.uuid4())}
    await js.publish(again_subject, again.body(), headers=headers)

    settings = make_settings(data_dir, nats_url, peers)
    auth = InternalAuth.from_settings(settings, NOTIFICATION)
    intake = client_channel(settings.intake_grpc_target, auth, INTAKE)
    verification = client_channel(settings.verification_grpc_target, auth, VERIFICATION)
    handler = EventHandler(
        sessions, RecipientLookup(intake, verification, sessions=sessions, letter_links=LINKS)
    )
    consumer = Consumer(
        js,
        stream=PUBLIC_STREAM,
        durable=f"t-{uuid.uuid4().hex[:8]}",
        filter_subjects=[public_filter(desa=desa)],
        handler=handler,
        lanes=4,
        lane_key=event_lane,
    )
    event_app = {e.id: app for app, events in journeys.items() for _, e in events}

    async def stored() -> dict[str, list[str]]:
        """Each application's stored events, in the order they were stored."""
        async with sessions() as session:
            notes = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
        order: dict[str, list[str]] = {}
        for note in notes:
            app = event_app[note.event_id]
            if note.event_id not in order.setdefault(app, []):
                order[app].append(note.event_id)
        return order

    await consumer.start()
    try:

        async def others_done() -> bool:
            order = await stored()
            return all(len(order.get(app, [])) == 4 for app in journeys if app != slow)

        # Every other application is handled to its end while the slow one's first event
        # still waits on intake.
        await eventually(others_done, what="the other applications' events stored")
        assert slow not in await stored()
        release.set()

        async def all_acked() -> bool:
            info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0)

        await eventually(all_acked, what="every event handled and acked")
        info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
        assert info.num_redelivered == 0  # nothing failed (a lock, say) and was tried again
    finally:
        await consumer.stop()
        await js.delete_consumer(PUBLIC_STREAM, consumer.durable)
        await intake.close()
        await verification.close()

    assert await stored() == {app: [e.id for _, e in events] for app, events in journeys.items()}
    async with sessions() as session:
        processed = (await session.exec(select(ProcessedEvent.event_id))).all()
        deliveries = (
            await session.exec(select(Delivery).where(col(Delivery.fallback_for).is_(None)))
        ).all()
    assert sorted(processed) == sorted(event_app)
    # Per application: the submission and the second step reach the applicant's phone (and
    # nothing twice); the approval is said in the app only.
    assert sorted(d.event_id for d in deliveries) == sorted(
        events[i][1].id for events in journeys.values() for i in (0, 3)
    )
