"""*Pesan warga* (/pesan-warga): residents' messages for the desa office from the WhatsApp chat,
listed to the desa's Operator, Sekdes and Kades (not a Kasi) and answered back into the chat with a
CSRF-checked form. Notification answers over real gRPC with its real servicer
(tests/support/notification.py); the answer's way into the conversation workflow
(ChatInbox.answer_office, the 24-hour window) is tested in tests/notification/
test_whatsapp_chat.py, so here it is a recorder."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from services.notification.config import Settings as NotificationSettings
from services.notification.models import OfficeMessage as OfficeRow
from services.verification.config import Settings
from services.verification.models import PersonalDataAccess
from services.verification.seed import PAMANUKAN
from tests.support.notification import NotificationPeer, notification_peer
from tests.verification.conftest import Service
from tests.verification.test_penduduk_pages import csrf_of, signed_in
from tests.verification.test_sign_in_phone import _resident

OTHER_DESA = "32.13.11.2005"


@pytest.fixture
async def notification(data_dir: Path) -> AsyncIterator[NotificationPeer]:
    async with notification_peer(NotificationSettings(data_dir=data_dir)) as served:
        yield served


@pytest.fixture
def settings(settings: Settings, notification: NotificationPeer) -> Settings:
    return settings.model_copy(update={"notification_grpc_target": notification.target})


async def _messages(notification: NotificationPeer, resident_id: str) -> dict[str, int]:
    now = datetime.now(UTC)
    rows = {
        "ani": OfficeRow(
            key="k-ani",
            desa_code=PAMANUKAN,
            resident_id=resident_id,
            resident_name="Ani Suryani",
            text="Kapan kantor desa buka hari Sabtu?",
            created_at=now - timedelta(hours=2),
        ),
        "gone": OfficeRow(
            key="k-gone",
            desa_code=PAMANUKAN,
            resident_id="reg-pindah",
            resident_name="WARGA PINDAH",
            text="Apakah surat pindah saya sudah jadi?",
            created_at=now - timedelta(hours=1),
        ),
        "other": OfficeRow(
            key="k-other",
            desa_code=OTHER_DESA,
            resident_id="reg-lain",
            resident_name="WARGA LAIN",
            text="Pesan untuk desa lain",
            created_at=now,
        ),
    }
    async with notification.sessions() as session:
        session.add_all(rows.values())
        await session.commit()
        ids = {name: row.id for name, row in rows.items()}
    assert all(ids.values())
    return {name: i for name, i in ids.items() if i is not None}


async def test_the_operator_reads_and_answers_a_residents_message_once(
    service: Service, notification: NotificationPeer
) -> None:
    resident_id = await _resident(service, [])
    ids = await _messages(notification, resident_id)
    sent: list[tuple[str, str]] = []

    async def answer(key: str, text: str) -> None:
        sent.append((key, text))

    notification.servicer.answer_conversation = answer

    client = await signed_in(service, "operator.pamanukan")
    try:
        listed = await client.get("/pesan-warga")
        assert listed.status_code == 200
        assert '<a href="/pesan-warga" aria-current="page">Pesan warga</a>' in listed.text
        text = listed.text
        # Newest first; who wrote from the register; another desa's not shown.
        assert text.index("Apakah surat pindah") < text.index("Kapan kantor desa buka")
        assert "Ani Suryani" in text and "tidak lagi di data penduduk desa" in text
        assert "WARGA PINDAH" not in text  # the name comes from this desa's register only
        assert "Pesan untuk desa lain" not in text
        assert text.count('action="/pesan-warga/') == 2

        # Every resident shown is in their access log: their messages and the register name.
        async with service.runtime.sessions() as session:
            logged = (
                await session.exec(
                    select(PersonalDataAccess).where(
                        col(PersonalDataAccess.reader_username) == "operator.pamanukan",
                        col(PersonalDataAccess.kind).in_(["office_message", "register"]),
                    )
                )
            ).all()
        assert {(e.kind, e.register_resident_id) for e in logged} >= {
            ("office_message", resident_id),
            ("office_message", "reg-pindah"),
            ("register", resident_id),
        }
        assert {e.reader_role for e in logged} == {"operator"}
        assert "reg-lain" not in {e.register_resident_id for e in logged}

        token = csrf_of(listed)
        url = f"/pesan-warga/{ids['ani']}/jawab"
        forged = await client.post(url, data={"csrf_token": "x", "balasan": "Buka."})
        assert forged.status_code == 403
        elsewhere = await client.post(
            f"/pesan-warga/{ids['other']}/jawab", data={"csrf_token": token, "balasan": "Hai"}
        )
        assert elsewhere.status_code == 404
        empty = await client.post(url, data={"csrf_token": token, "balasan": "   "})
        assert empty.status_code == 422
        assert "Tulis balasan untuk warga." in empty.text
        assert sent == []

        reply = "Sabtu buka pukul 08.00 sampai 12.00."
        answered = await client.post(url, data={"csrf_token": token, "balasan": reply})
        assert answered.status_code == 303
        again = await client.post(url, data={"csrf_token": token, "balasan": reply})  # twice
        assert again.headers["location"] == answered.headers["location"]
        assert sent == [("k-ani", reply)]

        after = await client.get(answered.headers["location"])
        assert "Balasan dikirim ke WhatsApp warga." in after.text
        assert "Sudah dijawab" in after.text and reply in after.text
        assert "oleh operator.pamanukan" in after.text
        assert after.text.count('action="/pesan-warga/') == 1  # only the unanswered one

        # Another answer to a message answered already is not sent.
        late = await client.post(url, data={"csrf_token": token, "balasan": "Jawaban lain"})
        assert "sudah-dijawab" in late.headers["location"]
        assert sent == [("k-ani", reply)]
    finally:
        await client.aclose()
    # No name, phone or message in the page's URLs.
    assert "Ani" not in answered.headers["location"]

    # A Kasi has neither the page nor its link, and cannot answer (one service start: fast).
    kasi = await signed_in(service, "pemerintahan.pamanukan")
    try:
        page = await kasi.get("/penduduk")
        assert 'href="/pesan-warga"' not in page.text
        assert (await kasi.get("/pesan-warga")).status_code == 403
        refused = await kasi.post(
            f"/pesan-warga/{ids['gone']}/jawab",
            data={"csrf_token": csrf_of(page), "balasan": "Hai"},
        )
        assert refused.status_code == 403
    finally:
        await kasi.aclose()
    assert sent == [("k-ani", reply)]
