"""The operator's *Nomor WhatsApp tertaut* on /masuk-warga: the WhatsApp numbers that linked
themselves to a resident of the desa by family knowledge, listed beside the portal's sign-in
bindings and undone with a CSRF-checked form. Notification answers over real gRPC with its real
servicer (tests/support/notification.py); what the undo does there is tested in
tests/notification/test_preferences_rpc.py."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from services.notification.chat import ChatLine
from services.notification.config import Settings as NotificationSettings
from services.notification.models import WhatsAppChat
from services.verification.config import Settings
from services.verification.seed import PAMANUKAN
from tests.support.notification import NotificationPeer, notification_peer
from tests.verification.conftest import Service
from tests.verification.test_penduduk_pages import csrf_of, signed_in
from tests.verification.test_sign_in_phone import _resident

KEY = "a" * 40  # notification's key for the number (a keyed hash)
OTHER_KEY = "b" * 40


@pytest.fixture
async def notification(data_dir: Path) -> AsyncIterator[NotificationPeer]:
    async with notification_peer(NotificationSettings(data_dir=data_dir)) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, notification: NotificationPeer) -> Settings:
    return settings.model_copy(update={"notification_grpc_target": notification.target})


async def test_the_operator_sees_and_undoes_a_linked_whatsapp_number(
    service: Service, notification: NotificationPeer
) -> None:
    resident_id = await _resident(service, [])
    async with notification.sessions() as session:
        for key, phone in ((KEY, "6281377770001"), (OTHER_KEY, "6281377770002")):
            session.add(WhatsAppChat(key=key, phone=phone, last_inbound_at=datetime.now(UTC)))
        await session.commit()
    line = ChatLine(notification.sessions, cast(Any, None))
    await line.record_link(KEY, resident_id, PAMANUKAN)
    await line.record_link(OTHER_KEY, "someone-elsewhere", "32.13.11.2005")
    ended: list[str] = []

    async def end(key: str) -> None:
        ended.append(key)

    notification.servicer.end_conversation = end

    client = await signed_in(service, "operator.pamanukan")
    try:
        listed = await client.get("/masuk-warga")
        assert listed.status_code == 200
        assert "Nomor WhatsApp tertaut" in listed.text
        assert "+6281377770001" in listed.text and "Ani Suryani" in listed.text
        assert "+6281377770002" not in listed.text  # another desa's

        forged = await client.post(
            f"/masuk-warga/whatsapp/{KEY}/batalkan", data={"csrf_token": "x"}
        )
        assert forged.status_code == 403
        assert await line.linked_resident(KEY) == resident_id
        elsewhere = await client.post(
            f"/masuk-warga/whatsapp/{OTHER_KEY}/batalkan", data={"csrf_token": csrf_of(listed)}
        )
        assert elsewhere.status_code == 404
        assert await line.linked_resident(OTHER_KEY) == "someone-elsewhere"

        undone = await client.post(
            f"/masuk-warga/whatsapp/{KEY}/batalkan", data={"csrf_token": csrf_of(listed)}
        )
        assert undone.status_code == 303
        after = await client.get(undone.headers["location"])
        assert "Tautan nomor WhatsApp dibatalkan" in after.text
        assert "+6281377770001" not in after.text
        assert await line.linked_resident(KEY) is None
        assert ended == [KEY]
    finally:
        await client.aclose()


async def test_a_kasi_cannot_undo_a_link(service: Service, notification: NotificationPeer) -> None:
    client = await signed_in(service, "pemerintahan.pamanukan")
    try:
        page = await client.get("/penduduk")
        refused = await client.post(
            f"/masuk-warga/whatsapp/{KEY}/batalkan", data={"csrf_token": csrf_of(page)}
        )
        assert refused.status_code == 403
    finally:
        await client.aclose()
