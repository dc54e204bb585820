"""Who gets what, for every event: the handler called directly against real gRPC peers
(DirectoryService and IntakeService servers), with preferences stored in the real database."""

import uuid
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from smartdesa.v1 import events_pb2, intake_pb2
from sqlmodel import col, select

from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REMINDED,
    APPLICATION_RESUBMITTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
    LETTER_REVOKED,
    OTP_REQUESTED,
    SIGN_IN_NOTICE,
)
from common.events import (
    COMPLAINT_EVENT_NAMES,
    PUBLIC_EVENT_NAMES,
    CloudEvent,
    event_type,
    proto_data,
)
from common.messaging import PermanentEventError
from common.signed_links import ExpiredLink, InvalidLink, verify_signed_path
from services.intake.applications import EVENT_SOURCE
from services.notification.channels import EMAIL, SMS, WHATSAPP
from services.notification.event_handler import EventHandler
from services.notification.models import (
    CANCELLED,
    CREATED,
    DELIVERED,
    STANDBY,
    Delivery,
    Notification,
    Preference,
)
from services.notification.preferences import Preferences
from services.notification.templates import BY_EVENT, ESCALATED_RESIDENT, SURVEY_INVITATION
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

SEKDES = "staff:sekdes.pamanukan"


async def notes(env: HandlerEnv) -> list[Notification]:
    async with env.sessions() as session:
        rows = await session.exec(
            select(Notification).order_by(col(Notification.recipient), col(Notification.id))
        )
        return list(rows.all())


async def deliveries(env: HandlerEnv) -> list[Delivery]:
    async with env.sessions() as session:
        return list((await session.exec(select(Delivery).order_by(col(Delivery.id)))).all())


async def prefer(env: HandlerEnv, recipient: str, **values: object) -> None:
    async with env.sessions() as session:
        session.add(Preference.model_validate({"recipient": recipient, **values}))
        await session.commit()


async def test_every_public_event_has_a_rule_and_records_template_versions(
    handler_env: HandlerEnv,
) -> None:
    fields: dict[str, dict[str, object]] = {
        APPLICATION_STEP_ASSIGNED: {"step_role": "sekdes"},
        APPLICATION_REMINDED: {"step_role": "sekdes", "deadline": "2026-07-21T09:00:00+00:00"},
        APPLICATION_ESCALATED: {"step_role": "kasi_pemerintahan", "escalated_to_role": "sekdes"},
        APPLICATION_DECIDED: {"step_role": "kasi_pemerintahan", "decision": "approve"},
        APPLICATION_SIGNING_BLOCKED: {"step_role": "sekdes", "status": "signing_blocked"},
        LETTER_ISSUED: {"letter_number": "470/1/2004/VII/2026"},
        LETTER_REVOKED: {"letter_number": "470/1/2004/VII/2026"},
    }
    for name in PUBLIC_EVENT_NAMES:
        if name in COMPLAINT_EVENT_NAMES:  # tests/notification/test_complaint_events.py
            continue
        _, event = application_event(name, **fields.get(name, {}))  # type: ignore[arg-type]
        await handler_env.handler(event)
    found = await notes(handler_env)
    assert {(n.template, n.template_version) for n in found} == {
        (g.inapp.name, g.inapp.version)
        for g in (*BY_EVENT.values(), ESCALATED_RESIDENT, SURVEY_INVITATION)
    }
    for row in await deliveries(handler_env):
        assert row.template.endswith(f".{row.channel}") and row.template_version


async def test_a_plt_is_told_as_plt(handler_env: HandlerEnv, peers: Peers) -> None:
    peers.directory.acting.add("sekdes2.pamanukan")
    _, event = application_event(APPLICATION_STEP_ASSIGNED, step_role="sekdes")
    await handler_env.handler(event)
    bodies = {n.recipient: n.body for n in await notes(handler_env)}
    assert bodies == {
        SEKDES: "Permohonan Surat Keterangan Domisili menunggu pemeriksaan Anda sebagai "
        "Sekretaris Desa.",
        "staff:sekdes2.pamanukan": "Permohonan Surat Keterangan Domisili menunggu pemeriksaan "
        "Anda sebagai Plt. Sekretaris Desa.",
    }


async def test_reminder_goes_to_the_assignee_on_the_channels_they_chose(
    handler_env: HandlerEnv,
) -> None:
    await prefer(
        handler_env,
        SEKDES,
        channels="email,whatsapp,sms",
        email="sekdes@pamanukan.desa.id",
        phone="6285700000002",
    )
    _, event = application_event(
        APPLICATION_REMINDED, step_role="sekdes", deadline="2026-07-21T09:00:00+00:00"
    )
    await handler_env.handler(event)
    [mine, _other] = await notes(handler_env)
    assert mine.recipient == SEKDES
    assert "Batas waktunya 21 Juli 2026 pukul 16.00 WIB." in mine.body
    rows = await deliveries(handler_env)
    assert [(d.recipient, d.channel, d.to_address, d.status) for d in rows] == [
        (SEKDES, EMAIL, "sekdes@pamanukan.desa.id", CREATED),
        (SEKDES, WHATSAPP, "6285700000002", CREATED),
        (SEKDES, SMS, "6285700000002", STANDBY),
    ]
    email = rows[0]
    assert email.subject == "Smart Desa: Pengingat: surat menunggu pemeriksaan Anda"
    assert email.body.startswith("Yth. Bapak/Ibu,")
    assert rows[2].fallback_for == rows[1].id
    assert all(d.application_id == APPLICATION_ID for d in rows)


async def test_escalation_goes_to_the_supervisor_then_the_kabupaten_operator(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    peers.directory.holders[(PAMANUKAN, "kabupaten_operator")] = ["operator.subang"]
    _, first = application_event(
        APPLICATION_ESCALATED,
        step_role="kasi_pemerintahan",
        escalated_to_role="sekdes",
        escalation_level=1,
    )
    await handler_env.handler(first)
    _, second = application_event(
        APPLICATION_ESCALATED, step_role="kasi_pemerintahan", escalation_level=2
    )
    await handler_env.handler(second)
    asked = [(c.desa_code, c.role) for c in peers.directory.calls]
    assert asked == [(PAMANUKAN, "sekdes"), (PAMANUKAN, "kabupaten_operator")]
    by_recipient = {n.recipient: n.body for n in await notes(handler_env)}
    applicant = f"resident:{RESIDENT_ID}"
    assert set(by_recipient) == {
        SEKDES,
        "staff:sekdes2.pamanukan",
        "staff:operator.subang",
        applicant,
    }
    # The applicant hears it once, at the first escalation, with the application's number.
    assert [n.body for n in await notes(handler_env) if n.recipient == applicant] == [
        "SKD-2026-000001: Melewati batas waktu di tahap Kasi Pemerintahan; permohonan Anda "
        "sedang kami percepat."
    ]
    assert by_recipient["staff:operator.subang"] == (
        "Permohonan Surat Keterangan Domisili melewati batas waktu di tahap Kasi Pemerintahan "
        "dan dialihkan kepada Anda sebagai Operator Kabupaten. Silakan putuskan atau tunjuk Plt."
    )


async def test_a_blocked_signature_tells_the_signer_role_and_the_kabupaten_operator(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    peers.directory.holders[(PAMANUKAN, "kades")] = ["kades.pamanukan"]
    peers.directory.holders[(PAMANUKAN, "kabupaten_operator")] = ["operator.subang"]
    await prefer(handler_env, "staff:kades.pamanukan", channels="whatsapp", phone="6285700000009")
    _, event = application_event(
        APPLICATION_SIGNING_BLOCKED, step_role="kades", step_index=3, status="signing_blocked"
    )
    await handler_env.handler(event)
    asked = [(c.desa_code, c.role) for c in peers.directory.calls]
    assert asked == [(PAMANUKAN, "kades"), (PAMANUKAN, "kabupaten_operator")]
    by_recipient = {n.recipient: n for n in await notes(handler_env)}
    assert set(by_recipient) == {"staff:kades.pamanukan", "staff:operator.subang"}
    kades = by_recipient["staff:kades.pamanukan"]
    assert kades.title == "Surat tertahan di tanda tangan elektronik"
    assert "sebagai Kepala Desa" in kades.body and "minta terbitkan ulang" in kades.body
    assert kades.link == f"/api/v1/tasks/{APPLICATION_ID}"
    operator = by_recipient["staff:operator.subang"]
    assert operator.body == (
        "Permohonan Surat Keterangan Domisili di desa 32.13.11.2004 sudah disetujui, tetapi "
        "suratnya belum dapat ditandatangani secara elektronik oleh Kepala Desa. Mohon bantu "
        "desa memperbaikinya."
    )
    # Told on the channel they chose, too.
    (whatsapp,) = [d for d in await deliveries(handler_env) if d.channel == WHATSAPP]
    assert (whatsapp.to_address, whatsapp.template) == ("6285700000009", "signing_blocked.whatsapp")


async def test_a_blocked_signature_without_its_role_is_refused(handler_env: HandlerEnv) -> None:
    _, event = application_event(APPLICATION_SIGNING_BLOCKED, status="signing_blocked")
    with pytest.raises(PermanentEventError):
        await handler_env.handler(event)
    assert await notes(handler_env) == []


async def test_escalation_without_a_target_is_refused(handler_env: HandlerEnv) -> None:
    _, event = application_event(APPLICATION_ESCALATED, step_role="sekdes", escalation_level=1)
    with pytest.raises(PermanentEventError):
        await handler_env.handler(event)
    assert await notes(handler_env) == []


async def test_progress_events_stay_in_the_app(handler_env: HandlerEnv) -> None:
    for name, extra in (
        (APPLICATION_DECIDED, {"step_role": "sekdes", "decision": "approve"}),
        (APPLICATION_RESUBMITTED, {}),
        # The first step comes with the submission, whose own message says it.
        (APPLICATION_STEP_ASSIGNED, {"step_role": "kasi_pemerintahan", "step_index": 0}),
    ):
        _, event = application_event(name, **extra)
        await handler_env.handler(event)
    _, revise = application_event(APPLICATION_DECIDED, step_role="sekdes", decision="revise")
    await handler_env.handler(revise)  # its own event says it: nothing here
    resident = [n for n in await notes(handler_env) if n.recipient.startswith("resident:")]
    assert [n.template for n in resident] == ["decided.inapp", "resubmitted.inapp"]
    assert "Disetujui oleh Sekretaris Desa." in resident[0].body
    assert await deliveries(handler_env) == []


async def test_a_submission_tells_the_resident_its_number(handler_env: HandlerEnv) -> None:
    _, event = application_event(APPLICATION_SUBMITTED, status="in_review", channel="portal")
    await handler_env.handler(event)
    [note] = await notes(handler_env)
    whatsapp, sms = await deliveries(handler_env)
    assert (whatsapp.channel, sms.channel, sms.status) == (WHATSAPP, SMS, STANDBY)
    assert whatsapp.body == (
        "Smart Desa: Surat Keterangan Domisili. Permohonan diterima dengan nomor "
        "SKD-2026-000001. Ikuti perkembangannya di https://warga.example/permohonan/app-0001"
    )
    assert note.body == whatsapp.body.removeprefix("Smart Desa: ")


async def test_each_further_step_is_one_line_unless_switched_off(
    handler_env: HandlerEnv,
) -> None:
    _, second = application_event(
        APPLICATION_STEP_ASSIGNED,
        step_role="sekdes",
        step_index=1,
        deadline="2026-07-21T09:00:00+00:00",
    )
    await handler_env.handler(second)
    [whatsapp] = [d for d in await deliveries(handler_env) if d.channel == WHATSAPP]
    assert whatsapp.recipient == f"resident:{RESIDENT_ID}"
    assert whatsapp.body == (
        "Smart Desa: SKD-2026-000001: Sekarang diperiksa oleh Sekretaris Desa. "
        "Batas waktu: 21 Juli 2026 pukul 16.00 WIB."
    )
    # Switched off: the resident still reads it in the app, nothing goes out.
    await prefer(
        handler_env, f"resident:{RESIDENT_ID}", channels="whatsapp,sms", step_updates=False
    )
    _, third = application_event(APPLICATION_STEP_ASSIGNED, step_role="kades", step_index=2)
    await handler_env.handler(third)
    assert len(await deliveries(handler_env)) == 2  # the second step's WhatsApp and SMS twin
    lines = [n.body for n in await notes(handler_env) if n.recipient.startswith("resident:")]
    assert lines[-1] == (
        "SKD-2026-000001: Sekarang diperiksa oleh Kepala Desa. Batas waktu: tidak ditetapkan."
    )


async def test_a_walk_in_tells_the_resident_where_to_follow_it(handler_env: HandlerEnv) -> None:
    # Filed by desa staff at the office: the resident has no app session, so the news goes by
    # WhatsApp (SMS on standby), with the portal's address and no personal data.
    _, event = application_event(APPLICATION_SUBMITTED, status="in_review", channel="walk_in")
    await handler_env.handler(event)
    [note] = await notes(handler_env)
    assert note.recipient == f"resident:{RESIDENT_ID}"
    assert note.template == "submitted_walk_in.inapp"
    rows = await deliveries(handler_env)
    assert [(d.channel, d.to_address, d.status) for d in rows] == [
        (WHATSAPP, RESIDENT_PHONE, CREATED),
        (SMS, RESIDENT_PHONE, STANDBY),
    ]
    whatsapp, sms = rows
    assert whatsapp.template == "submitted_walk_in.whatsapp"
    for body in (whatsapp.body, sms.body):
        assert "didaftarkan" in body and "kantor desa" in body
        assert "https://warga.example/permohonan" in body
        assert "Surat Keterangan Domisili" in body
    # A resident who turned WhatsApp off gets the SMS alone.
    await prefer(handler_env, f"resident:{RESIDENT_ID}", channels="sms")
    _, again = application_event(APPLICATION_SUBMITTED, channel="walk_in")
    await handler_env.handler(again)
    assert [d.channel for d in (await deliveries(handler_env))[2:]] == [SMS]


async def test_the_letter_type_is_named_as_the_event_names_it(handler_env: HandlerEnv) -> None:
    # Intake's catalogue names the type in the event; an older event without the name shows
    # the code instead of a name from a table of our own.
    _, named = application_event(
        APPLICATION_SUBMITTED, letter_type="SKBM", letter_type_name="Surat Keterangan Belum Menikah"
    )
    _, unnamed = application_event(APPLICATION_SUBMITTED, letter_type_name="")
    await handler_env.handler(named)
    await handler_env.handler(unnamed)
    bodies = sorted(n.body for n in await notes(handler_env))
    assert [b.split(". Permohonan")[0] for b in bodies] == [
        "Surat Keterangan Belum Menikah",
        "Surat SKD",
    ]


@pytest.mark.parametrize(
    ("name", "extra", "text"),
    [
        (APPLICATION_EXPIRED, {}, "Ditutup karena perbaikan tidak dikirim sampai batas waktu."),
        (LETTER_REVOKED, {"letter_number": "470/7/2004/VII/2026"}, "dicabut dan tidak berlaku"),
    ],
)
async def test_expiry_and_revocation_reach_the_resident_outside_the_app(
    handler_env: HandlerEnv, name: str, extra: dict[str, str], text: str
) -> None:
    _, event = application_event(name, **extra)
    await handler_env.handler(event)
    [note] = await notes(handler_env)
    assert note.recipient == f"resident:{RESIDENT_ID}" and text in note.body
    rows = await deliveries(handler_env)
    assert [(d.channel, d.to_address, d.status) for d in rows] == [
        (WHATSAPP, RESIDENT_PHONE, CREATED),
        (SMS, RESIDENT_PHONE, STANDBY),
    ]


async def test_withdrawing_cancels_what_is_still_pending(handler_env: HandlerEnv) -> None:
    await prefer(handler_env, SEKDES, channels="email", email="sekdes@pamanukan.desa.id")
    _, assigned = application_event(APPLICATION_STEP_ASSIGNED, step_role="sekdes")
    await handler_env.handler(assigned)
    _, other_application = application_event(
        APPLICATION_STEP_ASSIGNED, application_id="app-0002", step_role="sekdes"
    )
    await handler_env.handler(other_application)
    _, revoked = application_event(LETTER_REVOKED, letter_number="470/2/2004/VII/2026")
    await handler_env.handler(revoked)
    async with handler_env.sessions() as session:  # one already went out
        row = (await session.exec(select(Delivery).where(col(Delivery.channel) == WHATSAPP))).one()
        row.status = DELIVERED
        session.add(row)
        await session.commit()

    _, cancelled = application_event(APPLICATION_CANCELLED, step_role="sekdes")
    await handler_env.handler(cancelled)

    rows = await deliveries(handler_env)
    assert [(d.application_id, d.channel, d.status) for d in rows] == [
        (APPLICATION_ID, EMAIL, CANCELLED),
        ("app-0002", EMAIL, CREATED),  # another application: untouched
        (APPLICATION_ID, WHATSAPP, DELIVERED),  # already sent: stays as it was
        (APPLICATION_ID, SMS, CANCELLED),  # its standby twin will never go
    ]
    cancelled_notes = [n for n in await notes(handler_env) if n.event_id == cancelled.id]
    assert {(n.recipient, n.template) for n in cancelled_notes} == {
        (f"resident:{RESIDENT_ID}", "cancelled.inapp"),
        (SEKDES, "cancelled_staff.inapp"),
        ("staff:sekdes2.pamanukan", "cancelled_staff.inapp"),
    }


async def test_quiet_hours_hold_what_is_not_urgent(handler_env: HandlerEnv) -> None:
    resident = f"resident:{RESIDENT_ID}"
    await prefer(
        handler_env, resident, channels="whatsapp,sms", quiet_start="21:00", quiet_end="06:00"
    )
    # 22:30 WIB two days from now: later than the wall clock, so "due now" is distinguishable.
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    late = datetime.combine(day, time(15, 30), tzinfo=UTC)
    handler = EventHandler(
        handler_env.sessions,
        handler_env.handler._recipients,  # the same real gRPC peers
        clock=lambda: late,
    )
    _, expired = application_event(APPLICATION_EXPIRED)
    await handler(expired)
    code = CloudEvent(
        id=str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(OTP_REQUESTED),
        time=late,
        data=proto_data(
            events_pb2.OtpRequested(
                resident_id=RESIDENT_ID,
                code="654321",
                expires_at=(late + timedelta(minutes=5)).isoformat(),
            )
        ),
    )
    await handler(code)
    rows = {d.template: d for d in await deliveries(handler_env)}
    morning = datetime.combine(day, time(23, 0), tzinfo=UTC)  # 06:00 WIB the next day
    assert rows["expired.whatsapp"].next_attempt_at.replace(tzinfo=UTC) == morning
    assert rows["expired.sms"].next_attempt_at.replace(tzinfo=UTC) == morning
    # A sign-in code is urgent: it does not wait (its row is due as soon as it is stored).
    assert rows["otp.whatsapp"].next_attempt_at.replace(tzinfo=UTC) < late
    assert rows["otp.whatsapp"].expires_at is not None


def test_quiet_hours_across_midnight() -> None:
    prefs = Preferences(channels=frozenset(), quiet_start=time(21, 0), quiet_end=time(6, 0))
    wib = timedelta(hours=7)
    evening = datetime(2026, 7, 21, 22, 30, tzinfo=UTC) - wib  # 22:30 WIB
    morning = datetime(2026, 7, 22, 5, 0, tzinfo=UTC) - wib  # 05:00 WIB
    noon = datetime(2026, 7, 22, 12, 0, tzinfo=UTC) - wib
    end = datetime(2026, 7, 22, 6, 0, tzinfo=UTC) - wib
    assert prefs.send_after(evening, urgent=False) == end
    assert prefs.send_after(morning, urgent=False) == end
    assert prefs.send_after(noon, urgent=False) == noon
    assert prefs.send_after(evening, urgent=True) == evening


async def test_a_letter_link_is_signed_short_lived_and_checked(handler_env: HandlerEnv) -> None:
    _, event = application_event(LETTER_ISSUED, letter_number="470/3/2004/VII/2026")
    await handler_env.handler(event)
    whatsapp = next(d for d in await deliveries(handler_env) if d.channel == WHATSAPP)
    url = next(w for w in whatsapp.body.split() if w.startswith("https://"))
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == f"/api/v1/letter-links/{APPLICATION_ID}/letter.pdf"
    assert RESIDENT_PHONE not in url and RESIDENT_ID not in url
    verify_signed_path(LINK_KEY, parts.path, query["expires"], query["sig"])
    expires = datetime.fromtimestamp(int(query["expires"]), UTC)
    assert timedelta(hours=71) < expires - datetime.now(UTC) <= timedelta(hours=72)
    with pytest.raises(ExpiredLink):
        verify_signed_path(
            LINK_KEY, parts.path, query["expires"], query["sig"], now=expires + timedelta(seconds=1)
        )
    with pytest.raises(InvalidLink):  # another letter with this signature
        verify_signed_path(
            LINK_KEY, "/api/v1/letter-links/app-9999/letter.pdf", query["expires"], query["sig"]
        )
    with pytest.raises(InvalidLink):  # a longer life
        verify_signed_path(LINK_KEY, parts.path, str(int(query["expires"]) + 3600), query["sig"])
    with pytest.raises(InvalidLink):
        verify_signed_path(b"another key", parts.path, query["expires"], query["sig"])


async def test_a_code_goes_by_sms_alone_when_whatsapp_is_off(handler_env: HandlerEnv) -> None:
    await prefer(handler_env, f"resident:{RESIDENT_ID}", channels="email")
    _, event = otp_event(code="246810")
    await handler_env.handler(event)
    [row] = await deliveries(handler_env)
    assert (row.channel, row.to_address, row.status, row.template) == (
        SMS,
        RESIDENT_PHONE,
        CREATED,
        "otp.sms",
    )
    assert "246810" in row.body and row.redact_when_final and row.expires_at is not None


async def test_staff_sharing_the_office_address_get_one_message(handler_env: HandlerEnv) -> None:
    for username in ("sekdes.pamanukan", "sekdes2.pamanukan"):
        await prefer(
            handler_env,
            f"staff:{username}",
            channels="email,sms",
            email="kantor@pamanukan.desa.id",
            phone="6285700000002",
        )
    _, event = application_event(APPLICATION_STEP_ASSIGNED, step_role="sekdes")
    await handler_env.handler(event)
    assert len(await notes(handler_env)) == 2  # each has their own inbox
    rows = await deliveries(handler_env)
    assert [(d.channel, d.to_address) for d in rows] == [
        (EMAIL, "kantor@pamanukan.desa.id"),
        (SMS, "6285700000002"),
    ]


async def test_a_code_for_a_nik_without_a_resident_goes_to_the_phone_intake_names(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    peers.intake.sign_ins["masuk-1"] = intake_pb2.Contact(phone="6285712345678")
    _, event = otp_event(code="135790", sign_in_id="masuk-1")
    await handler_env.handler(event)
    rows = await deliveries(handler_env)
    assert {(r.channel, r.to_address, r.recipient) for r in rows} == {
        (WHATSAPP, "6285712345678", "sign-in:masuk-1"),
        (SMS, "6285712345678", "sign-in:masuk-1"),
    }
    assert all("135790" in r.body for r in rows)
    assert peers.intake.calls[-1].sign_in_id == "masuk-1"


async def test_a_signed_up_residents_code_keeps_their_preferences(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    await prefer(handler_env, f"resident:{RESIDENT_ID}", channels="email")
    peers.intake.sign_ins["masuk-2"] = intake_pb2.Contact(
        resident_id=RESIDENT_ID, phone=RESIDENT_PHONE
    )
    _, event = otp_event(code="246802", sign_in_id="masuk-2")
    await handler_env.handler(event)
    [row] = await deliveries(handler_env)
    assert (row.channel, row.to_address, row.recipient) == (
        SMS,
        RESIDENT_PHONE,
        f"resident:{RESIDENT_ID}",
    )


async def test_a_code_nobody_may_receive_is_dropped_quietly(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    _, event = otp_event(code="112233", sign_in_id="masuk-untuk-nomor-lain")
    await handler_env.handler(event)  # neither an error to redeliver nor a dead letter
    assert await deliveries(handler_env) == []
    assert peers.intake.calls[-1].sign_in_id == "masuk-untuk-nomor-lain"


def _sign_in_notice(kind: str, notice_id: str) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(SIGN_IN_NOTICE),
        data=proto_data(
            events_pb2.SignInNotice(notice_id=notice_id, kind=kind, desa_code=PAMANUKAN)
        ),
    )


async def test_the_desas_operators_are_told_of_a_new_sign_in_binding(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    peers.directory.holders[(PAMANUKAN, "operator")] = ["operator.pamanukan"]
    await handler_env.handler(_sign_in_notice("bound", "pemberitahuan-1"))
    async with handler_env.sessions() as session:
        (note,) = (await session.exec(select(Notification))).all()
    assert note.recipient == "staff:operator.pamanukan"
    assert note.title == "Nomor HP baru terhubung untuk masuk warga"
    assert note.link == "/masuk-warga"
    assert peers.directory.calls[-1].role == "operator"


async def test_the_old_number_is_told_of_a_phone_changed_at_the_office(
    handler_env: HandlerEnv, peers: Peers
) -> None:
    peers.intake.sign_ins["pemberitahuan-2"] = intake_pb2.Contact(phone="6281234567890")
    await handler_env.handler(_sign_in_notice("phone_changed", "pemberitahuan-2"))
    rows = await deliveries(handler_env)
    assert {(r.channel, r.to_address) for r in rows} == {
        (WHATSAPP, "6281234567890"),
        (SMS, "6281234567890"),
    }
    assert all("diganti di kantor desa" in r.body for r in rows)
    assert peers.intake.calls[-1].sign_in_notice_id == "pemberitahuan-2"
