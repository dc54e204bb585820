"""NotificationService (gRPC) against the real servicer: the resident portal reads and changes a
resident's preferences under the same rules and the same key as PUT /api/v1/preferences, a
refusal stores nothing, and a caller without the internal token is refused."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from smartdesa.v1 import notification_pb2 as pb
from smartdesa.v1 import notification_pb2_grpc

from common.auth import InternalAuth
from common.rpc import INTAKE, NOTIFICATION, client_channel
from services.notification.config import Settings
from services.notification.models import (
    CREATED,
    DELIVERED,
    STANDBY,
    Delivery,
    Notification,
)
from services.notification.preferences import load_preferences
from tests.support.notification import NotificationPeer, notification_peer

RESIDENT = "res-0042"


@pytest.fixture
async def peer(data_dir: Path) -> AsyncIterator[NotificationPeer]:
    async with notification_peer(Settings(data_dir=data_dir)) as served:
        yield served


@pytest.fixture
async def stub(
    data_dir: Path, peer: NotificationPeer
) -> AsyncIterator[notification_pb2_grpc.NotificationServiceStub]:
    auth = InternalAuth.from_settings(Settings(data_dir=data_dir), INTAKE)
    channel = client_channel(peer.target, auth, NOTIFICATION)
    yield notification_pb2_grpc.NotificationServiceStub(channel)
    await channel.close()


async def test_defaults_then_step_lines_switched_off(
    stub: notification_pb2_grpc.NotificationServiceStub, peer: NotificationPeer
) -> None:
    first = await stub.GetPreferences(pb.GetPreferencesRequest(resident_id=RESIDENT))
    assert list(first.channels) == ["whatsapp", "sms", "email"]
    assert first.step_updates is True
    assert (first.email, first.quiet_start, first.quiet_end) == ("", "", "")

    wanted = pb.NotificationPreferences(
        channels=["sms", "whatsapp"],
        email=" ani@example.com ",
        quiet_start="21:00",
        quiet_end="06:00",
        step_updates=False,
    )
    saved = await stub.SetPreferences(
        pb.SetPreferencesRequest(resident_id=RESIDENT, preferences=wanted)
    )
    assert list(saved.channels) == ["whatsapp", "sms"]  # in notification's own order
    assert saved.email == "ani@example.com"
    assert saved.step_updates is False
    again = await stub.GetPreferences(pb.GetPreferencesRequest(resident_id=RESIDENT))
    assert again == saved
    # Stored under the key the rules and the API use for this resident's token.
    async with peer.sessions() as session:
        stored = await load_preferences(session, f"resident:{RESIDENT}")
        other = await load_preferences(session, "resident:res-0043")
    assert stored.step_updates is False
    assert stored.channels == frozenset({"whatsapp", "sms"})
    assert other.step_updates is True


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (pb.NotificationPreferences(channels=["telegram"]), "Saluran tidak dikenal: telegram"),
        (pb.NotificationPreferences(email="bukan-email"), "Alamat email tidak valid."),
        (
            pb.NotificationPreferences(quiet_start="9 malam", quiet_end="06:00"),
            "Jam tenang harus berformat JJ:MM",
        ),
        (
            pb.NotificationPreferences(quiet_start="21:00", quiet_end="21:00"),
            "tidak boleh sama",
        ),
    ],
)
async def test_a_refusal_is_told_in_indonesian_and_stores_nothing(
    stub: notification_pb2_grpc.NotificationServiceStub,
    peer: NotificationPeer,
    wanted: pb.NotificationPreferences,
    message: str,
) -> None:
    wanted.step_updates = False
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SetPreferences(
            pb.SetPreferencesRequest(resident_id=RESIDENT, preferences=wanted)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (refused.value.details() or "")
    async with peer.sessions() as session:
        assert (await load_preferences(session, f"resident:{RESIDENT}")).step_updates is True


async def test_no_resident_id_is_refused(
    stub: notification_pb2_grpc.NotificationServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetPreferences(pb.GetPreferencesRequest())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_caller_without_the_internal_token_is_refused(peer: NotificationPeer) -> None:
    async with grpc.aio.insecure_channel(peer.target) as channel:
        bare = notification_pb2_grpc.NotificationServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bare.SetPreferences(
                pb.SetPreferencesRequest(
                    resident_id=RESIDENT, preferences=pb.NotificationPreferences()
                )
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with peer.sessions() as session:
        assert (await load_preferences(session, f"resident:{RESIDENT}")).channels == frozenset(
            {"whatsapp", "sms", "email"}
        )


async def test_list_messages_gives_the_resident_their_own_record_only(
    stub: notification_pb2_grpc.NotificationServiceStub, peer: NotificationPeer
) -> None:
    """ "Data saya": every message sent to the resident, newest first, in-app and outside
    channels; a fallback never sent is left out, a pending one-time code is hidden, and
    another resident's messages are not theirs."""
    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    mine = f"resident:{RESIDENT}"
    async with peer.sessions() as session:
        session.add_all(
            [
                Notification(
                    recipient=mine,
                    title="Surat terbit",
                    body="Surat Anda terbit.",
                    template="t",
                    template_version="1",
                    event_id="e1",
                    created_at=t0,
                ),
                Delivery(
                    channel="whatsapp",
                    recipient=mine,
                    to_address="6281234567890",
                    body="Surat Anda terbit.",
                    template="t",
                    template_version="1",
                    event_id="e1",
                    status=DELIVERED,
                    created_at=t0 + timedelta(minutes=1),
                ),
                Delivery(
                    channel="sms",
                    recipient=mine,
                    to_address="6281234567890",
                    body="x",
                    template="t",
                    template_version="1",
                    event_id="e1",
                    status=STANDBY,
                    created_at=t0 + timedelta(minutes=1),
                ),
                Delivery(
                    channel="sms",
                    recipient=mine,
                    to_address="6281234567890",
                    body="Kode masuk: 123456",
                    template="otp",
                    template_version="1",
                    event_id="e2",
                    status=CREATED,
                    redact_when_final=True,
                    created_at=t0 + timedelta(minutes=2),
                ),
                Notification(
                    recipient="resident:someone-else",
                    title="Lain",
                    body="Bukan milik Anda",
                    template="t",
                    template_version="1",
                    event_id="e3",
                    created_at=t0,
                ),
            ]
        )
        await session.commit()

    answer = await stub.ListMessages(pb.ListMessagesRequest(resident_id=RESIDENT))

    assert [(m.channel, m.status, m.body) for m in answer.messages] == [
        ("sms", "created", "(kode masuk, tidak ditampilkan)"),
        ("whatsapp", "delivered", "Surat Anda terbit."),
        ("in_app", "unread", "Surat Anda terbit."),
    ]
    assert answer.messages[1].to_address == "6281234567890"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListMessages(pb.ListMessagesRequest())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_desa_operator_sees_and_undoes_a_linked_whatsapp_number(
    stub: notification_pb2_grpc.NotificationServiceStub, peer: NotificationPeer
) -> None:
    """A number that linked itself by family knowledge is listed to its desa only (like the
    portal's sign-in bindings); undoing it makes it an unknown number again and ends its
    conversation; undoing twice says so; another desa's cannot be undone."""
    from services.notification.chat import ChatLine
    from services.notification.models import WhatsAppChat

    pamanukan, other = "32.13.11.2004", "32.13.11.2005"
    async with peer.sessions() as session:
        for key, phone in (("k-linked", "6281234500001"), ("k-register", "6281234500002")):
            session.add(WhatsAppChat(key=key, phone=phone, last_inbound_at=datetime.now(UTC)))
        await session.commit()
    line = ChatLine(peer.sessions, cast(Any, None))
    await line.record_link("k-linked", "reg-7", pamanukan)
    ended: list[str] = []

    async def end(key: str) -> None:
        ended.append(key)

    peer.servicer.end_conversation = end

    listed = await stub.ListWhatsAppLinks(pb.ListWhatsAppLinksRequest(desa_code=pamanukan))
    [link] = listed.links
    assert (link.id, link.phone, link.resident_id) == ("k-linked", "6281234500001", "reg-7")
    assert link.linked_at.seconds > 0
    elsewhere = await stub.ListWhatsAppLinks(pb.ListWhatsAppLinksRequest(desa_code=other))
    assert list(elsewhere.links) == []

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.UndoWhatsAppLink(
            pb.UndoWhatsAppLinkRequest(desa_code=other, link_id="k-linked", actor="op.lain")
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert await line.linked_resident("k-linked") == "reg-7"

    undo = pb.UndoWhatsAppLinkRequest(
        desa_code=pamanukan, link_id="k-linked", actor="operator.pamanukan"
    )
    assert (await stub.UndoWhatsAppLink(undo)).undone
    assert not (await stub.UndoWhatsAppLink(undo)).undone
    for key in ("k-linked", "k-register"):  # not this desa's (any more): nothing learnt
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UndoWhatsAppLink(
                pb.UndoWhatsAppLinkRequest(desa_code=other, link_id=key, actor="op.lain")
            )
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert ended == ["k-linked"]
    assert await line.linked_resident("k-linked") is None
    after = await stub.ListWhatsAppLinks(pb.ListWhatsAppLinksRequest(desa_code=pamanukan))
    assert list(after.links) == []
