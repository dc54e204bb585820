"""The handler called directly (and through a real JetStream redelivery), with real gRPC peers."""

import asyncio
import re
import uuid
from datetime import timedelta

import grpc
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlmodel import col, select

from common.auth import InternalAuth
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_REJECTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
)
from common.events import PUBLIC_STREAM, CloudEvent, event_type
from common.messaging import PermanentEventError, ensure_streams, publish
from common.rpc import INTAKE, NOTIFICATION, VERIFICATION, client_channel
from common.signed_links import verify_signed_path
from services.notification.channels import WHATSAPP
from services.notification.event_handler import EventHandler
from services.notification.models import CREATED, Delivery, Notification, ProcessedEvent
from services.notification.recipients import RecipientLookup
from services.notification.rules import SURVEY_EVENT_KEY
from tests.notification.conftest import (
    APPLICATION_ID,
    LINK_KEY,
    PAMANUKAN,
    RESIDENT_ID,
    RESIDENT_PHONE,
    HandlerEnv,
    Peers,
    application_event,
    otp_event,
)
from tests.support.processes import free_port


async def notifications(env: HandlerEnv, survey: bool = False) -> list[Notification]:
    """The event's notes; the survey invitation (its own note) only with `survey`."""
    async with env.sessions() as session:
        rows = await session.exec(select(Notification).order_by(col(Notification.recipient)))
        return [n for n in rows.all() if survey == n.event_id.endswith(SURVEY_EVENT_KEY)]


async def deliveries(env: HandlerEnv, survey: bool = False) -> list[Delivery]:
    """The messages to send; their SMS twins on standby are left out (see test_rules), and
    the survey invitation unless `survey`."""
    async with env.sessions() as session:
        rows = await session.exec(select(Delivery).where(col(Delivery.fallback_for).is_(None)))
        return [d for d in rows.all() if survey == d.event_id.endswith(SURVEY_EVENT_KEY)]


async def processed(env: HandlerEnv) -> list[str]:
    async with env.sessions() as session:
        return list((await session.exec(select(ProcessedEvent.event_id))).all())


async def test_step_assigned_tells_every_holder_of_the_role(handler_env: HandlerEnv) -> None:
    _, event = application_event(APPLICATION_STEP_ASSIGNED, step_index=1, step_role="sekdes")
    await handler_env.handler(event)
    notes = [n for n in await notifications(handler_env) if n.recipient.startswith("staff:")]
    assert [n.recipient for n in notes] == ["staff:sekdes.pamanukan", "staff:sekdes2.pamanukan"]
    for note in notes:
        assert note.title == "Surat menunggu pemeriksaan Anda"
        assert note.body == (
            "Permohonan Surat Keterangan Domisili menunggu pemeriksaan Anda sebagai "
            "Sekretaris Desa."
        )
        assert note.link == f"/api/v1/tasks/{APPLICATION_ID}"
        assert (note.template, note.template_version) == ("step_assigned.inapp", "1")
        assert note.event_id == event.id
    # Staff: in-app only; the applicant hears of the second step (test_rules.py).
    assert {d.recipient for d in await deliveries(handler_env)} == {"resident:res-0001"}
    assert await processed(handler_env) == [event.id]


async def test_the_same_event_twice_notifies_once(handler_env: HandlerEnv, peers: Peers) -> None:
    _, event = application_event(LETTER_ISSUED, letter_number="470/001/2004/VII/2026")
    await handler_env.handler(event)
    await handler_env.handler(event)
    assert len(await notifications(handler_env)) == 1
    assert len(await deliveries(handler_env)) == 1
    assert len(await notifications(handler_env, survey=True)) == 1
    assert len(await deliveries(handler_env, survey=True)) == 1
    assert len(handler_env.wakes) == 1
    # The letter's message and the survey invitation share one answer of intake's (one event,
    # one look-up); the second time stops before asking anyone.
    assert len(peers.intake.calls) == 1


async def test_the_same_event_at_once_on_two_consumers_is_stored_once(
    handler_env: HandlerEnv,
) -> None:
    """Both pass the first check (neither has stored yet); the second one's commit meets the
    processed event's key and it skips, without an error and without waking the dispatcher."""
    _, event = application_event(LETTER_ISSUED, letter_number="470/001/2004/VII/2026")
    await asyncio.gather(handler_env.handler(event), handler_env.handler(event))
    assert len(await notifications(handler_env)) == 1
    assert len(await deliveries(handler_env)) == 1
    assert len(await deliveries(handler_env, survey=True)) == 1
    assert await processed(handler_env) == [event.id]
    assert len(handler_env.wakes) == 1


async def test_a_redelivered_event_notifies_once(handler_env: HandlerEnv, nats_url: str) -> None:
    """The handler commits, the ack never happens (nak), JetStream delivers it again."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    durable = f"test-redelivery-{uuid.uuid4().hex[:8]}"
    subject, event = application_event(
        APPLICATION_STEP_ASSIGNED,
        application_id=f"app-{uuid.uuid4().hex[:8]}",
        step_index=0,
        step_role="kasi_pemerintahan",
    )
    try:
        await ensure_streams(js)
        await js.add_consumer(
            PUBLIC_STREAM,
            # Only what this test publishes: the session's stream holds other tests' events.
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                filter_subject=subject,
            ),
        )
        sub = await js.pull_subscribe_bind(durable=durable, stream=PUBLIC_STREAM)
        await publish(js, subject, event)

        first = (await sub.fetch(1, timeout=5))[0]
        await handler_env.handler(CloudEvent.from_message(first.headers, first.data))
        await first.nak()
        again = (await sub.fetch(1, timeout=5))[0]
        assert again.metadata.num_delivered == 2
        await handler_env.handler(CloudEvent.from_message(again.headers, again.data))
        await again.ack()
    finally:
        await js.delete_consumer(PUBLIC_STREAM, durable)
        await nc.close()

    notes = await notifications(handler_env)
    assert [n.recipient for n in notes] == ["staff:pemerintahan.pamanukan"]


async def test_letter_issued_tells_the_resident_in_app_and_on_whatsapp(
    handler_env: HandlerEnv,
) -> None:
    _, event = application_event(LETTER_ISSUED, letter_number="470/001/2004/VII/2026")
    await handler_env.handler(event)
    [note] = await notifications(handler_env)
    assert note.recipient == f"resident:{RESIDENT_ID}"
    assert note.title == "Surat Anda sudah terbit"
    assert "470/001/2004/VII/2026" in note.body
    assert note.link == f"/api/v1/applications/{APPLICATION_ID}"
    [delivery] = await deliveries(handler_env)
    assert (delivery.channel, delivery.to_address, delivery.status, delivery.attempts) == (
        WHATSAPP,
        RESIDENT_PHONE,
        CREATED,
        0,
    )
    assert "/api/v1/letter-links/app-0001/letter.pdf?expires=" in delivery.body
    assert (delivery.template, delivery.template_version) == ("letter_issued.whatsapp", "3")
    assert handler_env.wakes  # the dispatcher is told after the commit


@pytest.mark.parametrize(
    ("name", "status", "title", "phrase"),
    [
        (
            APPLICATION_REVISION_REQUESTED,
            "revision_requested",
            "Permohonan Anda perlu diperbaiki",
            "Yang perlu diperbaiki: ",
        ),
        (APPLICATION_REJECTED, "rejected", "Permohonan Anda ditolak", "Ditolak. Alasan: "),
    ],
)
async def test_sent_back_or_rejected_tells_the_resident(
    handler_env: HandlerEnv, peers: Peers, name: str, status: str, title: str, phrase: str
) -> None:
    _, event = application_event(name, step_role="sekdes", status=status)
    peers.intake.states[APPLICATION_ID] = (status, "Foto KTP buram.")
    await handler_env.handler(event)
    [note] = await notifications(handler_env)
    [delivery] = await deliveries(handler_env)
    assert note.title == title
    # The reason staff gave (asked of intake: not in the event) and the application's page.
    for text in (note.body, delivery.body):
        assert phrase + "Foto KTP buram." in text
        assert text.startswith(("SKD-2026-000001: ", "Smart Desa: SKD-2026-000001: "))
        assert text.endswith(f"https://warga.example/permohonan/{APPLICATION_ID}")
    if name == APPLICATION_REVISION_REQUESTED:  # the page's button, by its name
        assert 'lalu tekan "Kirim perbaikan"' in delivery.body


async def test_a_reason_is_quoted_only_while_its_status_holds(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    """Resubmitted before the message was made: the old reason is not quoted as current."""
    _, event = application_event(
        APPLICATION_REVISION_REQUESTED, step_role="sekdes", status="revision_requested"
    )
    peers.intake.states[APPLICATION_ID] = ("in_review", "")
    await handler_env.handler(event)
    [delivery] = await deliveries(handler_env)
    assert "Yang perlu diperbaiki: lihat halaman permohonan." in delivery.body


async def test_otp_goes_to_whatsapp_only(handler_env: HandlerEnv) -> None:
    _, event = otp_event(code="654321")
    await handler_env.handler(event)
    assert await notifications(handler_env) == []
    [delivery] = await deliveries(handler_env)
    assert delivery.body == (
        "Kode masuk Smart Desa Anda: 654321. Berlaku 5 menit. "
        "Jangan berikan kode ini kepada siapa pun."
    )
    assert delivery.to_address == RESIDENT_PHONE
    assert delivery.expires_at is not None and delivery.redact_when_final


async def test_expired_otp_is_dropped(handler_env: HandlerEnv) -> None:
    _, event = otp_event(valid_for=timedelta(seconds=-1))
    await handler_env.handler(event)
    assert await deliveries(handler_env) == []
    assert await processed(handler_env) == [event.id]


async def test_contact_not_found_is_permanent(handler_env: HandlerEnv) -> None:
    _, event = application_event(
        LETTER_ISSUED, application_id="app-unknown", letter_number="470/002/2004/VII/2026"
    )
    with pytest.raises(PermanentEventError):
        await handler_env.handler(event)
    assert await processed(handler_env) == []


@pytest.mark.parametrize(
    "data",
    [
        {"desa_code": PAMANUKAN, "letter_type": "SKD", "step_role": "sekdes"},  # no application
        {"application_id": 7, "desa_code": PAMANUKAN, "letter_type": "SKD"},  # wrong type
        {"application_id": "a", "letter_type": "SKD"},  # step_assigned needs desa and role
    ],
)
async def test_malformed_data_is_permanent(
    handler_env: HandlerEnv, data: dict[str, object]
) -> None:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/test",
        type=event_type(APPLICATION_STEP_ASSIGNED),
        data=data,
    )
    with pytest.raises(PermanentEventError):
        await handler_env.handler(event)
    assert await processed(handler_env) == []


async def test_unknown_event_type_is_permanent(handler_env: HandlerEnv) -> None:
    event = CloudEvent(
        id=str(uuid.uuid4()), source="/test", type=event_type("application.submitted"), data={}
    )
    with pytest.raises(PermanentEventError):
        await handler_env.handler(event)


async def test_unreachable_peer_is_retried_not_dropped(handler_env: HandlerEnv) -> None:
    auth = InternalAuth.from_settings(handler_env.settings, NOTIFICATION)
    nowhere = f"127.0.0.1:{free_port()}"
    intake = client_channel(nowhere, auth, INTAKE)
    verification = client_channel(nowhere, auth, VERIFICATION)
    handler = EventHandler(handler_env.sessions, RecipientLookup(intake, verification))
    _, event = application_event(APPLICATION_STEP_ASSIGNED, step_role="sekdes")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await handler(event)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await intake.close()
        await verification.close()
    assert await processed(handler_env) == []


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        (LETTER_ISSUED, {"letter_number": "470/001/2004/VII/2026"}),
        (APPLICATION_REJECTED, {"status": "rejected"}),
    ],
)
async def test_the_resident_is_asked_once_how_it_went(
    handler_env: HandlerEnv, peers: Peers, name: str, fields: dict[str, str]
) -> None:
    """Permenpan-RB 14/2017's survey: a signed, single-use link intake checks."""
    if name == APPLICATION_REJECTED:
        peers.intake.states[APPLICATION_ID] = ("rejected", "Bukan warga desa ini.")
    _, event = application_event(name, **fields)
    await handler_env.handler(event)
    await handler_env.handler(event)
    [note] = await notifications(handler_env, survey=True)
    assert note.title == "Bagaimana pelayanan desa?"
    assert note.template == "survey_invitation.inapp"
    [delivery] = await deliveries(handler_env, survey=True)
    assert delivery.channel == "whatsapp"
    found = re.search(r"(/survei/[^?\s]+)\?expires=(\d+)&sig=([0-9a-f]+)", delivery.body)
    assert found, delivery.body
    path, expires, sig = found.groups()
    assert path == f"/survei/{APPLICATION_ID}"
    verify_signed_path(LINK_KEY, path, expires, sig)


async def test_a_letters_events_ask_each_peer_once_per_person_and_role(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    """A letter's eight public events, as a journey brings them: intake is asked for the
    applicant's contact only where a message leaves the app or quotes intake's answer (the
    submission, the second and third steps, the letter), once per event; the approvals, said
    in the app only, go to the resident the submission's message went to. The directory is
    asked once per step."""
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    peers.intake.add_resident("res-journey", "6281234500001", app_id)
    peers.directory.holders[(PAMANUKAN, "kades")] = ["kades.pamanukan"]
    roles = ("kasi_pemerintahan", "sekdes", "kades")
    journey = [application_event(APPLICATION_SUBMITTED, app_id, application_number="SKD-1")[1]]
    for step, role in enumerate(roles):
        journey.append(
            application_event(APPLICATION_STEP_ASSIGNED, app_id, step_index=step, step_role=role)[1]
        )
        journey.append(
            application_event(
                APPLICATION_DECIDED, app_id, step_index=step, step_role=role, decision="approve"
            )[1]
        )
    journey.append(application_event(LETTER_ISSUED, app_id, letter_number="470/9/2004")[1])
    asked: list[tuple[str, int, int]] = []
    for event in journey:
        before = (len(peers.intake.calls), len(peers.directory.calls))
        await handler_env.handler(event)
        asked.append(
            (
                event.name,
                len(peers.intake.calls) - before[0],
                len(peers.directory.calls) - before[1],
            )
        )
    assert asked == [
        ("application.submitted", 1, 0),
        ("application.step_assigned", 0, 1),
        ("application.decided", 0, 0),
        ("application.step_assigned", 1, 1),
        ("application.decided", 0, 0),
        ("application.step_assigned", 1, 1),
        ("application.decided", 0, 0),
        ("letter.issued", 1, 0),
    ]
    async with handler_env.sessions() as session:
        notes = (
            await session.exec(
                select(Notification)
                .where(col(Notification.recipient) == "resident:res-journey")
                .order_by(col(Notification.id))
            )
        ).all()
    # What the resident reads is what intake's answer gave before: the approvals in the app.
    assert [n.template for n in notes] == [
        "submitted.inapp",
        "decided.inapp",
        "step_reached.inapp",
        "decided.inapp",
        "step_reached.inapp",
        "decided.inapp",
        "letter_issued.inapp",
        "survey_invitation.inapp",
    ]
    assert {n.link for n in notes if n.template == "decided.inapp"} == {
        f"/api/v1/applications/{app_id}"
    }


async def test_an_approval_before_any_message_went_out_asks_intake(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    """Nothing went out about the application yet (an event from before this service kept
    deliveries, or a resident with no outside channel): intake is asked, as before."""
    _, event = application_event(APPLICATION_DECIDED, step_role="sekdes", decision="approve")
    await handler_env.handler(event)
    assert [c.application_id for c in peers.intake.calls] == [APPLICATION_ID]
    notes = await notifications(handler_env)
    assert [(n.recipient, n.template) for n in notes] == [
        (f"resident:{RESIDENT_ID}", "decided.inapp")
    ]
