"""The real channel adapters against local servers that speak their providers' protocols: a
real SMTP server (aiosmtpd) and HTTP servers shaped like the WhatsApp Cloud API and Zenziva.
Includes the fault tests: an SMTP 451 is retried and then delivered; a WhatsApp failure falls
back to SMS."""

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from common.db import create_engine, session_factory
from common.domain.events import LETTER_ISSUED
from services.notification.channels import (
    EMAIL,
    SMS,
    WHATSAPP,
    Channel,
    EmailChannel,
    Outgoing,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    WhatsAppCloudChannel,
    ZenzivaSmsChannel,
    build_channels,
)
from services.notification.config import Settings
from services.notification.dispatcher import Dispatcher
from services.notification.models import (
    DELIVERED,
    PERMANENT_FAILURE,
    STANDBY,
    TEMPORARY_FAILURE,
    Delivery,
)
from tests.notification.conftest import (
    RESIDENT_PHONE,
    HandlerEnv,
    application_event,
)
from tests.notification.deliveries import DeliveryEnv, delivery_env
from tests.notification.providers import (
    API_VERSION,
    PHONE_NUMBER_ID,
    WHATSAPP_TOKEN,
    FakeWhatsAppCloud,
    FakeZenziva,
    RecordingSmtp,
    serve_in_thread,
    smtp_server,
)

PHONE = "6281234567890"


@pytest.fixture(scope="module")
def whatsapp_cloud() -> Iterator[tuple[FakeWhatsAppCloud, str]]:
    fake = FakeWhatsAppCloud()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.fixture(scope="module")
def zenziva() -> Iterator[tuple[FakeZenziva, str]]:
    fake = FakeZenziva()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.fixture
def whatsapp(whatsapp_cloud: tuple[FakeWhatsAppCloud, str]) -> FakeWhatsAppCloud:
    fake, _ = whatsapp_cloud
    fake.requests.clear()
    fake.script.clear()
    return fake


@pytest.fixture
def sms(zenziva: tuple[FakeZenziva, str]) -> FakeZenziva:
    fake, _ = zenziva
    fake.requests.clear()
    fake.script.clear()
    return fake


def whatsapp_channel(url: str, token: str = WHATSAPP_TOKEN) -> WhatsAppCloudChannel:
    return WhatsAppCloudChannel(
        base_url=url, api_version=API_VERSION, phone_number_id=PHONE_NUMBER_ID, access_token=token
    )


def zenziva_channel(url: str, fake: FakeZenziva) -> ZenzivaSmsChannel:
    return ZenzivaSmsChannel(
        url=f"{url}/reguler/api/sendsms/", userkey=fake.userkey, passkey=fake.passkey
    )


# --- WhatsApp Cloud API ----------------------------------------------------------------------


async def test_whatsapp_sends_an_approved_template_with_a_bearer_token(
    whatsapp: FakeWhatsAppCloud, whatsapp_cloud: tuple[FakeWhatsAppCloud, str]
) -> None:
    channel = whatsapp_channel(whatsapp_cloud[1])
    try:
        message_id = await channel.send(
            Outgoing(
                to="081234567890",
                body="(teks lengkap)",
                template="letter_revoked.whatsapp",
                template_version="1",
                params=("Surat Keterangan Usaha", "470/001/2004/VII/2026"),
            )
        )
    finally:
        await channel.aclose()
    assert message_id.startswith("wamid.")
    assert whatsapp.requests == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": PHONE,
            "type": "template",
            "template": {
                "name": "smartdesa_letter_revoked_v1",
                "language": {"code": "id"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Surat Keterangan Usaha"},
                            {"type": "text", "text": "470/001/2004/VII/2026"},
                        ],
                    }
                ],
            },
        }
    ]


async def test_whatsapp_one_time_code_fills_the_copy_code_button(
    whatsapp: FakeWhatsAppCloud, whatsapp_cloud: tuple[FakeWhatsAppCloud, str]
) -> None:
    channel = whatsapp_channel(whatsapp_cloud[1])
    try:
        await channel.send(
            Outgoing(
                to=PHONE,
                body="x",
                template="otp.whatsapp",
                template_version="1",
                params=("123456", "5"),
                otp_button=True,
            )
        )
    finally:
        await channel.aclose()
    [request] = whatsapp.requests
    assert request["template"]["components"][1] == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "123456"}],
    }


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, 131026, PermanentDeliveryError),  # message undeliverable
        (400, 132001, PermanentDeliveryError),  # template does not exist
        (400, 130429, TemporaryDeliveryError),  # throughput rate limit
        (429, 80007, TemporaryDeliveryError),
        (503, 131016, TemporaryDeliveryError),  # service unavailable
    ],
)
async def test_whatsapp_errors_are_classified(
    whatsapp: FakeWhatsAppCloud,
    whatsapp_cloud: tuple[FakeWhatsAppCloud, str],
    status: int,
    code: int,
    error: type[Exception],
) -> None:
    whatsapp.fail_next(status, code)
    channel = whatsapp_channel(whatsapp_cloud[1])
    try:
        with pytest.raises(error, match=str(code)):
            await channel.send(Outgoing(to=PHONE, body="x", template="t.whatsapp"))
    finally:
        await channel.aclose()


async def test_whatsapp_with_a_wrong_token_is_refused_for_good(
    whatsapp: FakeWhatsAppCloud, whatsapp_cloud: tuple[FakeWhatsAppCloud, str]
) -> None:
    channel = whatsapp_channel(whatsapp_cloud[1], token="expired")
    try:
        with pytest.raises(PermanentDeliveryError, match="code 190"):
            await channel.send(Outgoing(to=PHONE, body="x", template="t.whatsapp"))
    finally:
        await channel.aclose()
    assert whatsapp.requests == []


async def test_whatsapp_unreachable_is_temporary() -> None:
    from tests.support.processes import free_port

    channel = whatsapp_channel(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TemporaryDeliveryError, match="unreachable"):
            await channel.send(Outgoing(to=PHONE, body="x", template="t.whatsapp"))
    finally:
        await channel.aclose()


# --- Zenziva SMS -----------------------------------------------------------------------------


async def test_zenziva_posts_the_form_and_reads_the_message_id(
    sms: FakeZenziva, zenziva: tuple[FakeZenziva, str]
) -> None:
    channel = zenziva_channel(zenziva[1], sms)
    try:
        message_id = await channel.send(Outgoing(to="0812-3456-7890", body="Smart Desa: halo"))
    finally:
        await channel.aclose()
    assert message_id.isdigit()
    assert sms.requests == [
        {"userkey": sms.userkey, "passkey": sms.passkey, "to": PHONE, "message": "Smart Desa: halo"}
    ]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"status": "0", "text": "Nomor tujuan tidak valid"}, PermanentDeliveryError),
        (200, {"status": "0", "text": "Saldo tidak cukup"}, TemporaryDeliveryError),
        (500, {"status": "0", "text": "Internal error"}, TemporaryDeliveryError),
    ],
)
async def test_zenziva_refusals_are_classified(
    sms: FakeZenziva,
    zenziva: tuple[FakeZenziva, str],
    status: int,
    body: dict[str, str],
    error: type[Exception],
) -> None:
    sms.script.append((status, body))
    channel = zenziva_channel(zenziva[1], sms)
    try:
        with pytest.raises(error):
            await channel.send(Outgoing(to=PHONE, body="x"))
    finally:
        await channel.aclose()


# --- SMTP ------------------------------------------------------------------------------------


def email_channel(port: int) -> EmailChannel:
    return EmailChannel(
        host="127.0.0.1",
        port=port,
        sender="Smart Desa <noreply@subang.go.id>",
        security="none",
        timeout=10,
    )


async def test_email_reaches_a_real_smtp_server() -> None:
    handler = RecordingSmtp()
    with smtp_server(handler) as port:
        message_id = await email_channel(port).send(
            Outgoing(
                to="sekdes@pamanukan.desa.id",
                subject="Smart Desa: Surat menunggu pemeriksaan Anda",
                body="Yth. Bapak/Ibu,\n\nPermohonan menunggu Anda.",
            )
        )
    [message] = handler.messages
    assert handler.envelopes == [("noreply@subang.go.id", ["sekdes@pamanukan.desa.id"])]
    assert message["Subject"] == "Smart Desa: Surat menunggu pemeriksaan Anda"
    assert message["Message-ID"] == message_id
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "Permohonan menunggu Anda." in payload.decode()


async def test_email_to_a_refused_mailbox_fails_for_good() -> None:
    handler = RecordingSmtp()
    handler.refused_recipients["hilang@desa.id"] = "550 5.1.1 Mailbox unavailable"
    with smtp_server(handler) as port, pytest.raises(PermanentDeliveryError, match="550"):
        await email_channel(port).send(Outgoing(to="hilang@desa.id", subject="s", body="b"))
    assert handler.messages == []


@pytest.fixture
async def dispatch_env(data_dir: Path) -> AsyncIterator[DeliveryEnv]:
    async with delivery_env(data_dir, DeliveryEnv) as env:
        yield env


def dispatcher(env: DeliveryEnv, channels: dict[str, Channel]) -> Dispatcher:
    return Dispatcher(
        env.sessions,
        channels,
        max_attempts=4,
        retry_base_seconds=30,
        retry_cap_seconds=300,
        clock=env.clock,
    )


async def test_smtp_451_is_retried_with_backoff_and_then_delivered(
    dispatch_env: DeliveryEnv,
) -> None:
    handler = RecordingSmtp()
    handler.data_replies.append("451 4.3.0 Mail server temporarily rejected message")
    with smtp_server(handler) as port:
        sender = dispatcher(dispatch_env, {EMAIL: email_channel(port)})
        delivery_id = await dispatch_env.add_delivery(
            channel=EMAIL,
            to_address="sekdes@pamanukan.desa.id",
            subject="Smart Desa: Surat menunggu pemeriksaan Anda",
            body="Permohonan menunggu Anda.",
            template="step_assigned.email",
        )
        assert await sender.dispatch_due() == 1
        first = await dispatch_env.delivery(delivery_id)
        assert (first.status, first.attempts) == (TEMPORARY_FAILURE, 1)
        assert handler.messages == []
        # Not before its backoff: 30 s.
        assert first.next_attempt_at.replace(tzinfo=UTC) == dispatch_env.clock.now + timedelta(
            seconds=30
        )
        assert await sender.dispatch_due() == 0
        dispatch_env.clock.now += timedelta(seconds=30)
        assert await sender.dispatch_due() == 1

    final = await dispatch_env.delivery(delivery_id)
    assert (final.status, final.attempts) == (DELIVERED, 2)
    assert [(a.number, a.outcome, a.error) for a in await dispatch_env.attempts(delivery_id)] == [
        (1, TEMPORARY_FAILURE, "SMTP 451"),
        (2, DELIVERED, None),
    ]
    [message] = handler.messages  # exactly once
    assert message["Subject"] == "Smart Desa: Surat menunggu pemeriksaan Anda"
    assert final.provider_message_id == message["Message-ID"]


async def _follow_the_letter_only(env: HandlerEnv) -> None:
    """letter.issued also plans the survey invitation (tested in test_event_handler.py); these
    tests follow the letter's own message through the providers, so the invitation goes."""
    async with env.sessions() as session:
        for row in await session.exec(select(Delivery)):
            if row.template.startswith("survey_invitation."):
                await session.delete(row)
        await session.commit()


async def test_whatsapp_failure_falls_back_to_sms(
    handler_env: HandlerEnv,
    whatsapp: FakeWhatsAppCloud,
    whatsapp_cloud: tuple[FakeWhatsAppCloud, str],
    sms: FakeZenziva,
    zenziva: tuple[FakeZenziva, str],
) -> None:
    """From the event to the SMS: letter.issued plans WhatsApp with an SMS twin; WhatsApp
    answers 131026 (undeliverable); the twin goes out through the SMS gateway, once."""
    _, event = application_event(LETTER_ISSUED, letter_number="470/009/2004/VII/2026")
    await handler_env.handler(event)
    await _follow_the_letter_only(handler_env)

    whatsapp.fail_next(400, 131026, "Message undeliverable")
    channels: dict[str, Channel] = {
        WHATSAPP: whatsapp_channel(whatsapp_cloud[1]),
        SMS: zenziva_channel(zenziva[1], sms),
    }
    sender = Dispatcher(handler_env.sessions, channels, retry_base_seconds=30)
    try:
        assert await sender.dispatch_due() == 1  # WhatsApp only: the SMS waits on standby
        assert sms.requests == []
        assert await sender.dispatch_due() == 1  # the released SMS
        assert await sender.dispatch_due() == 0
    finally:
        for channel in channels.values():
            await channel.aclose()  # type: ignore[attr-defined]

    async with handler_env.sessions() as session:
        rows = (await session.exec(select(Delivery).order_by(col(Delivery.id)))).all()
    assert [(d.channel, d.status) for d in rows] == [
        (WHATSAPP, PERMANENT_FAILURE),
        (SMS, DELIVERED),
    ]
    assert rows[1].fallback_for == rows[0].id
    assert [r["template"]["name"] for r in whatsapp.requests] == ["smartdesa_letter_issued_v3"]
    [text] = sms.requests
    assert text["to"] == RESIDENT_PHONE
    assert text["message"].startswith(
        "Smart Desa: SKD-2026-000001: Surat sudah terbit dengan nomor"
    )
    assert "/api/v1/letter-links/app-0001/letter.pdf?expires=" in text["message"]
    assert (rows[1].template, rows[1].template_version) == ("letter_issued.sms", "3")


async def test_whatsapp_success_leaves_the_sms_on_standby(
    handler_env: HandlerEnv,
    whatsapp: FakeWhatsAppCloud,
    whatsapp_cloud: tuple[FakeWhatsAppCloud, str],
    sms: FakeZenziva,
    zenziva: tuple[FakeZenziva, str],
) -> None:
    _, event = application_event(LETTER_ISSUED, letter_number="470/010/2004/VII/2026")
    await handler_env.handler(event)
    await _follow_the_letter_only(handler_env)
    channels: dict[str, Channel] = {
        WHATSAPP: whatsapp_channel(whatsapp_cloud[1]),
        SMS: zenziva_channel(zenziva[1], sms),
    }
    sender = Dispatcher(handler_env.sessions, channels)
    try:
        assert await sender.dispatch_due() == 1
        assert await sender.dispatch_due() == 0
    finally:
        for channel in channels.values():
            await channel.aclose()  # type: ignore[attr-defined]
    async with handler_env.sessions() as session:
        rows = (await session.exec(select(Delivery).order_by(col(Delivery.id)))).all()
    assert [(d.channel, d.status) for d in rows] == [(WHATSAPP, DELIVERED), (SMS, STANDBY)]
    assert len(whatsapp.requests) == 1 and sms.requests == []


def test_production_providers_are_built_from_configuration(data_dir: Path) -> None:
    settings = Settings(
        data_dir=data_dir,
        profile="production",
        notification_whatsapp_provider="whatsapp-cloud",
        notification_whatsapp_phone_number_id=PHONE_NUMBER_ID,
        notification_whatsapp_access_token=WHATSAPP_TOKEN,
        notification_sms_provider="zenziva",
        notification_zenziva_userkey="u",
        notification_zenziva_passkey="p",
        notification_email_provider="smtp",
        notification_smtp_host="smtp.subang.go.id",
        notification_email_from="noreply@subang.go.id",
    )
    channels = build_channels(settings, session_factory(create_engine("sqlite+aiosqlite://")))
    assert isinstance(channels[WHATSAPP], WhatsAppCloudChannel)
    assert isinstance(channels[SMS], ZenzivaSmsChannel)
    assert isinstance(channels[EMAIL], EmailChannel)


def test_a_provider_on_the_wrong_channel_refuses_to_start(data_dir: Path) -> None:
    from services.notification.channels import ChannelConfigError

    settings = Settings(data_dir=data_dir, notification_sms_provider="smtp")
    with pytest.raises(ChannelConfigError, match="cannot serve the sms channel"):
        build_channels(settings, session_factory(create_engine("sqlite+aiosqlite://")))
