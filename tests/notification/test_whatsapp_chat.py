"""WhatsApp conversations end to end: signed webhook payloads in the Cloud API's shape into the
real notification service, its conversation workflows on a real Temporal server, replies and
media downloads through a local server speaking the Cloud API, intake and the register as gRPC
peers."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.notification.chat_support import (
    JPEG,
    NIK,
    PDF,
    Chat,
    body_of,
    button,
    chat_overrides,
    choice_ids,
    cloud_server,
    document,
    image,
    register_resident,
    row,
    signed,
    text,
)
from tests.notification.conftest import (
    PAMANUKAN,
    Peers,
    Service,
    make_settings,
    reset_nats,
    running_service,
)
from tests.notification.providers import FakeWhatsAppCloud
from tests.support.waiting import eventually

PHONE = "6281311112222"


@pytest.fixture(scope="module")
def whatsapp_cloud() -> Iterator[tuple[FakeWhatsAppCloud, str]]:
    yield from cloud_server()


@pytest.fixture
def cloud(whatsapp_cloud: tuple[FakeWhatsAppCloud, str]) -> FakeWhatsAppCloud:
    fake, _ = whatsapp_cloud
    fake.requests.clear()
    fake.media.clear()
    fake.media_downloads.clear()
    return fake


@pytest.fixture
def service_overrides(
    whatsapp_cloud: tuple[FakeWhatsAppCloud, str], temporal_env: WorkflowEnvironment
) -> dict[str, object]:
    return chat_overrides(whatsapp_cloud[1], temporal_env)


@pytest.fixture
def chat(service: Service, cloud: FakeWhatsAppCloud) -> Chat:
    register_resident(service.peers, PHONE)
    return Chat(service, cloud, PHONE)


async def test_a_resident_requests_an_skd_by_chat_from_start_to_finish(
    chat: Chat, service: Service, cloud: FakeWhatsAppCloud
) -> None:
    """Letter type from a list, the register's data confirmed, the letter's question (checked
    by intake, a wrong answer asked again), two syarat as a photo and a PDF downloaded through
    the media endpoint, confirm: filed through intake as channel "whatsapp"."""
    [menu] = await chat.say(text(PHONE, "Halo"))
    assert menu["type"] == "interactive" and menu["interactive"]["type"] == "button"
    assert "Halo, Asep" in body_of(menu)

    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    assert types["interactive"]["type"] == "list"
    rows = choice_ids(types)
    assert list(rows) == ["SKD"]  # what the desa offers, not the whole catalogue

    [data] = await chat.say(row(PHONE, rows["SKD"]))
    assert "ASEP SAEPUDIN" in body_of(data)
    assert NIK not in body_of(data) and "3213••••••••0001" in body_of(data)

    [purpose] = await chat.say(button(PHONE, choice_ids(data)["Benar"]))
    assert "keperluan" in body_of(purpose)
    [question] = await chat.say(text(PHONE, "melamar pekerjaan"))
    assert body_of(question).startswith("(1/1) Sudah berapa tahun")
    [wrong] = await chat.say(text(PHONE, "dua"))
    assert body_of(wrong) == "Isian harus berupa angka."  # intake's own message

    cloud.media["m-ktp"] = (JPEG, "image/jpeg")
    cloud.media["m-kk"] = (PDF, "application/pdf")
    [ktp] = await chat.say(text(PHONE, "2"))
    assert "*KTP* (1/2)" in body_of(ktp)
    [kk] = await chat.say(image(PHONE, "m-ktp"))
    assert "*Kartu Keluarga* (2/2)" in body_of(kk)
    [confirm] = await chat.say(document(PHONE, "m-kk"))
    assert "Surat: Surat Keterangan Domisili" in body_of(confirm)
    assert "Berkas: 2 terlampir" in body_of(confirm)

    [done] = await chat.say(button(PHONE, choice_ids(confirm)["Kirim"]))
    assert "sudah terkirim" in body_of(done)

    [filed] = service.peers.intake.filed
    assert filed.channel == "whatsapp" and filed.filed_by == ""
    assert (filed.nik, filed.phone, filed.desa_code) == (NIK, PHONE, PAMANUKAN)
    assert (filed.letter_type, filed.purpose) == ("SKD", "melamar pekerjaan")
    assert dict(filed.fields) == {"lama_tinggal_digits": "2"}
    assert {a.kind: a.content for a in filed.attachments} == {"KTP": JPEG, "KK": PDF}
    assert cloud.media_downloads == ["m-ktp", "m-kk"]
    # The register was read for this conversation, under an opaque purpose.
    assert all(p.startswith("whatsapp:") and PHONE not in p for p in service.peers.population.reads)


async def test_a_redelivered_message_changes_nothing(chat: Chat, service: Service) -> None:
    first = text(PHONE, "Halo", wamid="wamid.same-one")
    [menu] = await chat.say(first)
    again = await chat.post(first)
    assert again.status_code == 200
    assert again.json()["messages"] == 1 and again.json()["taken"] == 0
    # The next new message is answered once; the redelivery added no reply before it.
    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    assert len(chat.replies()) == 2
    assert types["interactive"]["type"] == "list"


async def test_an_unsigned_or_wrongly_signed_message_is_refused(
    chat: Chat, service: Service
) -> None:
    import json

    from tests.notification.chat_support import envelope

    body = json.dumps(envelope(PHONE, text(PHONE, "Halo"))).encode()
    wrong = await service.client.post(
        "/api/v1/webhooks/whatsapp", content=body, headers=signed(body, secret="other")
    )
    missing = await service.client.post("/api/v1/webhooks/whatsapp", content=body)
    assert (wrong.status_code, missing.status_code) == (401, 401)
    # Then a signed one is answered, and only it: nothing of the refused ones reached the chat.
    await chat.say(text(PHONE, "Halo"))
    assert len(chat.replies()) == 1


async def test_an_unknown_number_learns_nothing_and_a_shared_phone_asks_who(
    service: Service, cloud: FakeWhatsAppCloud
) -> None:
    stranger = Chat(service, cloud, "6285700009999")
    [answer] = await stranger.say(text("6285700009999", NIK))
    assert "belum terdaftar" in body_of(answer)
    assert "ASEP" not in body_of(answer)

    family_phone = "6281399990000"
    register_resident(service.peers, family_phone, "ASEP SAEPUDIN")
    register_resident(service.peers, family_phone, "EUIS RAHMAWATI")
    family = Chat(service, cloud, family_phone)
    [who] = await family.say(text(family_phone, "status"))
    assert who["interactive"]["type"] == "list"
    names = choice_ids(who)
    assert list(names) == ["ASEP SAEPUDIN", "EUIS RAHMAWATI"]
    [menu] = await family.say(text(family_phone, "2"))  # typed as a number
    assert "Halo, Euis" in body_of(menu)


async def test_bad_input_gets_a_clear_answer_and_the_question_again(
    chat: Chat, cloud: FakeWhatsAppCloud
) -> None:
    [menu] = await chat.say(text(PHONE, "Halo"))
    not_a_choice = await chat.say(text(PHONE, "saya mau surat dong"), replies=2)
    assert "pilih salah satu" in body_of(not_a_choice[0])
    [types] = await chat.say(text(PHONE, "1"))  # "Ajukan surat" by its number
    # A button of the earlier menu (another device, or out of order) is not read as an answer.
    stale = await chat.say(button(PHONE, choice_ids(menu)["Status permohonan"]), replies=2)
    assert "sudah tidak berlaku" in body_of(stale[0])
    [data] = await chat.say(row(PHONE, choice_ids(types)["SKD"]))
    await chat.say(button(PHONE, choice_ids(data)["Benar"]))
    await chat.say(text(PHONE, "melamar pekerjaan"))
    await chat.say(text(PHONE, "3"))

    [voice] = await chat.say(
        {**text(PHONE, ""), "type": "audio", "audio": {"id": "a1", "mime_type": "audio/ogg"}}
    )
    assert "belum bisa kami baca" in body_of(voice)
    [typed] = await chat.say(text(PHONE, "ktp saya hilang"))
    assert "sebagai foto atau PDF" in body_of(typed)
    cloud.media["gif"] = (b"GIF89a" + b"0" * 10, "image/gif")
    [gif] = await chat.say(image(PHONE, "gif", mime="image/gif"))
    assert "tidak dapat diterima" in body_of(gif)
    cloud.media["fake-jpeg"] = (b"not an image at all", "image/jpeg")
    [fake] = await chat.say(image(PHONE, "fake-jpeg"))
    assert "tidak dapat diterima" in body_of(fake)
    cloud.media["big"] = (b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024), "image/jpeg")
    [big] = await chat.say(image(PHONE, "big"))
    assert "terlalu besar" in body_of(big)
    [gone] = await chat.say(image(PHONE, "expired-media-id"))
    assert "tidak dapat dibaca" in body_of(gone)
    # Still waiting for the KTP: nothing was lost or skipped.
    cloud.media["ok"] = (JPEG, "image/jpeg")
    [kk] = await chat.say(image(PHONE, "ok"))
    assert "*Kartu Keluarga* (2/2)" in body_of(kk)


async def test_batal_asks_first_then_drops_the_request(chat: Chat, service: Service) -> None:
    [menu] = await chat.say(text(PHONE, "Halo"))
    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    [data] = await chat.say(row(PHONE, choice_ids(types)["SKD"]))
    [ask] = await chat.say(text(PHONE, "batal"))
    assert set(choice_ids(ask)) == {"Ya, batalkan", "Lanjutkan"}
    [back] = await chat.say(button(PHONE, choice_ids(ask)["Lanjutkan"]))
    assert "Apakah data ini benar?" in body_of(back)
    [ask] = await chat.say(text(PHONE, "batal"))
    [cancelled] = await chat.say(button(PHONE, choice_ids(ask)["Ya, batalkan"]))
    assert "dibatalkan" in body_of(cancelled)
    [nothing] = await chat.say(text(PHONE, "batal"))
    assert "Tidak ada permohonan" in body_of(nothing)
    assert service.peers.intake.filed == []


async def test_data_wrong_files_a_register_correction_then_goes_on(
    chat: Chat, service: Service, temporal_env: WorkflowEnvironment
) -> None:
    """ "Ada yang salah": the register's fields as a numbered list, the right value as text, a
    summary to confirm, filed through intake as the portal files it; then the letter request
    goes on with the data held now."""
    [menu] = await chat.say(text(PHONE, "Halo"))
    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    [data] = await chat.say(row(PHONE, choice_ids(types)["SKD"]))
    [which] = await chat.say(button(PHONE, choice_ids(data)["Ada yang salah"]))
    assert which["interactive"]["type"] == "list"
    fields = choice_ids(which)
    assert "Tanggal lahir" in fields and "Nama lengkap" in fields
    assert "1. Nama lengkap" in body_of(which)
    [ask] = await chat.say(row(PHONE, fields["Tanggal lahir"]))
    assert body_of(ask) == "Tulis tanggal lahir yang benar."
    [summary] = await chat.say(text(PHONE, "1990-08-16"))
    assert "Tanggal lahir:" in body_of(summary) and "menjadi: 1990-08-16" in body_of(summary)
    assert service.peers.intake.corrections == []  # nothing before the resident confirms
    sent, go_on = await chat.say(button(PHONE, choice_ids(summary)["Kirim"]), replies=2)
    assert body_of(sent).startswith("Permintaan perbaikan sudah dikirim ke operator desa.")
    [filed] = service.peers.intake.corrections
    assert (filed.nik, filed.field, filed.proposed_value) == (NIK, "tanggal_lahir", "1990-08-16")
    assert set(choice_ids(go_on)) == {"Lanjutkan", "Berhenti"}
    [purpose] = await chat.say(button(PHONE, choice_ids(go_on)["Lanjutkan"]))
    assert "keperluan" in body_of(purpose)
    assert service.peers.intake.filed == []

    # The new branch (behind its patch) replays deterministically; the value never entered
    # the workflow id.
    from temporalio.worker import Replayer

    from services.notification.chat import conversation_key
    from services.notification.runtime import chat_secret
    from workflows.conversation import workflow_id
    from workflows.conversation.workflows import ConversationWorkflow

    key = conversation_key(chat_secret(service.settings), PHONE)
    assert PHONE not in workflow_id(key)
    history = await temporal_env.client.get_workflow_handle(workflow_id(key)).fetch_history()
    await Replayer(workflows=[ConversationWorkflow]).replay_workflow(history)


async def test_status_help_and_a_message_to_the_office_answered_back(
    chat: Chat, service: Service
) -> None:
    from smartdesa.v1 import intake_pb2

    service.peers.intake.resident_applications[NIK] = [
        intake_pb2.ResidentApplication(
            number="SKD-2026-000007",
            letter_type="SKD",
            letter_type_name="Surat Keterangan Domisili",
            status="in_review",
        ),
        intake_pb2.ResidentApplication(
            number="SKU-2026-000002",
            letter_type="SKU",
            letter_type_name="Surat Keterangan Usaha",
            status="revision_requested",
        ),
    ]
    await chat.say(text(PHONE, "Halo"))
    [status] = await chat.say(text(PHONE, "status"))
    assert body_of(status).splitlines() == [
        "Permohonan Anda:",
        "• SKD-2026-000007 Surat Keterangan Domisili: sedang diperiksa",
        "• SKU-2026-000002 Surat Keterangan Usaha: perlu diperbaiki",
    ]
    [help_] = await chat.say(text(PHONE, "bantuan"))
    assert "*petugas*" in body_of(help_)

    service.peers.directory.holders[(PAMANUKAN, "operator")] = ["operator.pamanukan"]
    [sent] = await chat.say(text(PHONE, "petugas Kapan kantor desa buka hari Sabtu?"))
    assert "diteruskan ke kantor desa" in body_of(sent)

    staff = service.staff_headers("operator.pamanukan", role="operator")
    listed = await service.client.get("/api/v1/whatsapp/office-messages", headers=staff)
    assert listed.status_code == 200
    [note] = listed.json()
    assert (note["resident_name"], note["text"]) == (
        "ASEP SAEPUDIN",
        "Kapan kantor desa buka hari Sabtu?",
    )
    inbox = await service.client.get("/api/v1/inbox", headers=staff)
    assert [i["title"] for i in inbox.json()] == ["Pesan WhatsApp dari warga"]

    # Another role, or a resident, cannot read or answer it.
    kasi = service.staff_headers("pemerintahan.pamanukan")
    assert (
        await service.client.get("/api/v1/whatsapp/office-messages", headers=kasi)
    ).status_code == 403

    before = len(chat.replies())
    answered = await service.client.post(
        f"/api/v1/whatsapp/office-messages/{note['id']}/answer",
        json={"text": "Sabtu buka pukul 08.00 sampai 12.00."},
        headers=staff,
    )
    assert answered.status_code == 200 and answered.json()["answered_by"] == "operator.pamanukan"
    from tests.support.waiting import eventually

    await eventually(lambda: len(chat.replies()) > before, "the answer in the chat")
    assert body_of(chat.replies()[-1]) == (
        "Balasan dari kantor desa:\nSabtu buka pukul 08.00 sampai 12.00."
    )
    # Answered once: the same post again is the record (not sent again: tests/notification/
    # test_preferences_rpc.py counts the sends); another answer is refused.
    url = f"/api/v1/whatsapp/office-messages/{note['id']}/answer"
    same = await service.client.post(
        url, json={"text": "Sabtu buka pukul 08.00 sampai 12.00."}, headers=staff
    )
    assert same.status_code == 200 and same.json()["answer"] == answered.json()["answer"]
    other = await service.client.post(url, json={"text": "Minggu tutup."}, headers=staff)
    assert other.status_code == 409


async def test_an_unknown_number_links_itself_once_by_family_knowledge(
    service: Service, cloud: FakeWhatsAppCloud, temporal_env: WorkflowEnvironment
) -> None:
    """The portal's first sign-in check, one answer at a time; the answers never enter
    Temporal (only references do); a wrong answer says nothing about which was wrong; a NIK
    links one number; three failures lock linking."""
    from services.notification.chat import conversation_key
    from services.notification.runtime import chat_secret
    from workflows.conversation import workflow_id

    nik, kk = "3213114505900002", "3213110101150099"
    service.peers.population.add("reg-new", nik, "ANI SURYANI", "", PAMANUKAN, kk_number=kk)
    service.peers.directory.offered[PAMANUKAN] = ["SKD"]
    phone = "6285711112222"
    newcomer = Chat(service, cloud, phone)
    [ask] = await newcomer.say(text(phone, "Halo"))
    assert "Ketik NIK Anda" in body_of(ask)
    [kk_prompt] = await newcomer.say(text(phone, nik))
    assert "Kartu Keluarga" in body_of(kk_prompt)
    await newcomer.say(text(phone, kk))
    [failed] = await newcomer.say(text(phone, "Siti Aminah"))
    assert "tidak cocok" in body_of(failed) and "ANI" not in body_of(failed)

    [ask] = await newcomer.say(text(phone, "Halo"))
    await newcomer.say(text(phone, nik))
    await newcomer.say(text(phone, kk))
    done = await newcomer.say(text(phone, "enok  kurniasih"), replies=2)
    assert "tertaut" in body_of(done[0]) and "Halo, Ani" in body_of(done[1])
    # Known from now on, without asking again.
    [status] = await newcomer.say(text(phone, "status"))
    assert "Tidak ada permohonan" in body_of(status)

    key = conversation_key(chat_secret(service.settings), phone)
    history = [
        str(e)
        async for e in temporal_env.client.get_workflow_handle(
            workflow_id(key)
        ).fetch_history_events()
    ]
    assert not any(nik in e or kk in e or "kurniasih" in e.lower() for e in history)

    # Another number cannot link itself to the same NIK; three failures lock it for a day.
    other = "6285733334444"
    intruder = Chat(service, cloud, other)
    answers = []
    for _ in range(3):
        await intruder.say(text(other, "Halo"))
        await intruder.say(text(other, nik))
        await intruder.say(text(other, kk))
        [answer] = await intruder.say(text(other, "Enok Kurniasih"))
        answers.append(body_of(answer))
    assert "tidak cocok" in answers[0] and "tidak cocok" in answers[1]
    assert "Terlalu banyak percobaan" in answers[2]


async def test_a_kept_ktp_is_reused_instead_of_sent_again(
    chat: Chat, service: Service, cloud: FakeWhatsAppCloud
) -> None:
    service.peers.intake.kept[NIK] = ["KTP"]
    [menu] = await chat.say(text(PHONE, "Halo"))
    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    [data] = await chat.say(row(PHONE, choice_ids(types)["SKD"]))
    await chat.say(button(PHONE, choice_ids(data)["Benar"]))
    await chat.say(text(PHONE, "melamar pekerjaan"))
    [ktp] = await chat.say(text(PHONE, "4"))
    assert "tersimpan" in body_of(ktp)
    [kk] = await chat.say(button(PHONE, choice_ids(ktp)["Pakai yang tersimpan"]))
    assert "*Kartu Keluarga* (2/2)" in body_of(kk)
    cloud.media["kk"] = (PDF, "application/pdf")
    [confirm] = await chat.say(document(PHONE, "kk"))
    await chat.say(button(PHONE, choice_ids(confirm)["Kirim"]))
    [filed] = service.peers.intake.filed
    kinds = {a.kind: (a.from_kept, a.content) for a in filed.attachments}
    assert kinds == {"KTP": (True, b""), "KK": (False, PDF)}
    assert cloud.media_downloads == ["kk"]  # nothing fetched for the KTP


async def test_an_older_message_arriving_late_does_not_move_the_window_back(
    chat: Chat, service: Service
) -> None:
    from datetime import UTC, datetime

    from common.db import as_utc
    from services.notification.chat import conversation_key
    from services.notification.models import WhatsAppChat
    from services.notification.runtime import chat_secret

    newer, older = text(PHONE, "Halo"), text(PHONE, "bantuan")
    older["timestamp"] = str(int(newer["timestamp"]) - 3600)
    await chat.say(newer)
    await chat.say(older)  # delivered late: still answered
    key = conversation_key(chat_secret(service.settings), PHONE)
    async with service.runtime.sessions() as session:
        row = await session.get(WhatsAppChat, key)
    assert row is not None
    assert as_utc(row.last_inbound_at) == datetime.fromtimestamp(int(newer["timestamp"]), UTC)


async def test_batal_withdraws_a_submitted_application_after_confirming(
    chat: Chat, service: Service
) -> None:
    from smartdesa.v1 import intake_pb2

    service.peers.intake.resident_applications[NIK] = [
        intake_pb2.ResidentApplication(
            id="app-a",
            number="SKD-2026-000007",
            letter_type_name="Surat Keterangan Domisili",
            status="in_review",
        ),
        intake_pb2.ResidentApplication(
            id="app-b",
            number="SKU-2026-000002",
            letter_type_name="Surat Keterangan Usaha",
            status="revision_requested",
        ),
    ]
    await chat.say(text(PHONE, "Halo"))
    [which] = await chat.say(text(PHONE, "batal"))
    rows = choice_ids(which)
    assert list(rows) == ["SKD-2026-000007", "SKU-2026-000002"]
    [ask] = await chat.say(row(PHONE, rows["SKU-2026-000002"]))
    assert "Batalkan permohonan SKU-2026-000002" in body_of(ask)
    [kept] = await chat.say(button(PHONE, choice_ids(ask)["Tidak"]))
    assert "tidak dibatalkan" in body_of(kept)
    assert service.peers.intake.cancelled == []

    [which] = await chat.say(text(PHONE, "batal"))
    [ask] = await chat.say(row(PHONE, choice_ids(which)["SKU-2026-000002"]))
    [done] = await chat.say(button(PHONE, choice_ids(ask)["Ya, batalkan"]))
    assert body_of(done) == "Permohonan SKU-2026-000002 sudah dibatalkan."
    assert service.peers.intake.cancelled == ["app-b"]


async def test_a_retried_office_message_is_stored_once(service: Service) -> None:
    """The "petugas" activity may run again after it committed (its answer to Temporal lost):
    the workflow's request id makes the second run store nothing, nor a second inbox note."""
    from typing import Any, cast

    from sqlmodel import col, select

    from services.notification.chat import ChatLine
    from services.notification.models import Notification
    from services.notification.models import OfficeMessage as OfficeRow
    from workflows.conversation.models import OfficeMessage

    async def operators(desa_code: str) -> list[str]:
        return ["operator.pamanukan"]

    line = ChatLine(service.runtime.sessions, cast(Any, None), office_recipients=operators)
    message = OfficeMessage(
        key="k-retry",
        resident_id="reg-1",
        resident_name="ASEP SAEPUDIN",
        desa_code=PAMANUKAN,
        text="Apakah kantor desa buka besok?",
        request_id="office-request-1",
    )
    await line.to_office(message)
    await line.to_office(message)  # the retry
    await line.to_office(replace(message, request_id="office-request-2"))  # a new message
    async with service.runtime.sessions() as session:
        rows = (await session.exec(select(OfficeRow).where(col(OfficeRow.key) == "k-retry"))).all()
        notes = (
            await session.exec(
                select(Notification).where(col(Notification.template) == "whatsapp.office_message")
            )
        ).all()
    assert sorted(r.request_id or "" for r in rows) == ["office-request-1", "office-request-2"]
    assert len(notes) == 2
    assert {n.link for n in notes} == {"/pesan-warga"}  # the staff client's *Pesan warga*


async def test_a_revision_is_answered_by_sending_the_corrected_document(
    chat: Chat, service: Service, cloud: FakeWhatsAppCloud
) -> None:
    """After staff asked for a revision, the next photo or PDF in the chat is fetched, the
    resident says which syarat it replaces, and intake replaces it and resubmits (the portal's
    revise); a confirmation follows. With nothing returned for revision a file is not taken."""
    from smartdesa.v1 import intake_pb2
    from sqlmodel import col, select

    from services.notification.models import WhatsAppMedia

    cloud.media["m-first"] = (JPEG, "image/jpeg")
    cloud.media["m-kk"] = (PDF, "application/pdf")
    await chat.say(text(PHONE, "Halo"))
    [not_now] = await chat.say(image(PHONE, "m-first"))
    assert "Berkas hanya diminta saat mengajukan surat" in body_of(not_now)

    returned = intake_pb2.ResidentApplication(
        id="app-r",
        number="SKD-2026-000009",
        letter_type="SKD",
        letter_type_name="Surat Keterangan Domisili",
        status="revision_requested",
    )
    service.peers.intake.resident_applications[NIK] = [returned]
    [which] = await chat.say(document(PHONE, "m-kk"))
    assert "SKD-2026-000009 (Surat Keterangan Domisili) diminta diperbaiki" in body_of(which)
    assert list(choice_ids(which)) == ["KTP", "Kartu Keluarga", "Bukan perbaikan"]
    [again, choices] = await chat.say(text(PHONE, "yang kemarin"), replies=2)
    assert "Mohon pilih salah satu pilihan" in body_of(again)
    assert service.peers.intake.revised == []

    [done] = await chat.say(button(PHONE, choice_ids(which)["Kartu Keluarga"]))
    assert body_of(done) == (
        "Terima kasih. Kartu Keluarga untuk permohonan SKD-2026-000009 sudah diganti, dan "
        "permohonan dikirim kembali untuk diperiksa petugas desa."
    )
    [revised] = service.peers.intake.revised
    assert (revised.nik, revised.application_id, revised.kind) == (NIK, "app-r", "KK")
    assert revised.content == PDF
    async with service.runtime.sessions() as session:
        staged = (
            await session.exec(select(WhatsAppMedia).where(col(WhatsAppMedia.ref) != ""))
        ).all()
    assert staged == []  # the file went to intake; notification keeps no copy

    # Back in review: the next file is not taken for it.
    [not_now] = await chat.say(image(PHONE, "m-first"))
    assert "Berkas hanya diminta saat mengajukan surat" in body_of(not_now)
    assert len(service.peers.intake.revised) == 1


async def test_a_replica_starts_its_worker_once_another_has_taken_a_message(
    data_dir: Path,
    nats_url: str,
    peers: Peers,
    service_overrides: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notification whose chat was unused at its start runs no worker; once a number is in
    the shared database (another replica took its message), it starts polling too."""
    from common.db import utcnow
    from services.notification import runtime as notification_runtime
    from services.notification.models import WhatsAppChat

    monkeypatch.setattr(notification_runtime, "CHAT_WATCH_SECONDS", 0.05)
    await reset_nats(nats_url)
    settings = make_settings(data_dir, nats_url, peers, **service_overrides)
    async with running_service(settings, peers) as replica:
        worker = replica.runtime.chat_worker
        assert worker is not None and not worker.running
        async with replica.runtime.sessions() as session:
            session.add(WhatsAppChat(key="k-other", phone=PHONE, last_inbound_at=utcnow()))
            await session.commit()
        await eventually(lambda: worker.running, "the worker started")


async def test_the_worker_starts_with_the_chat_and_again_at_a_restart(
    data_dir: Path,
    nats_url: str,
    peers: Peers,
    service_overrides: dict[str, object],
    cloud: FakeWhatsAppCloud,
) -> None:
    """A chat nobody has used runs no Temporal worker; the first message starts it. After a
    restart the worker starts at once (the number is in the database), so a conversation left
    halfway still expires with its message though nobody writes again. (Real time on the dev
    server: the time-skipping server keeps a stopped worker's sticky queue, and its clock with
    it.)"""
    register_resident(peers, PHONE)
    await reset_nats(nats_url)
    expire_seconds = 30
    settings = make_settings(
        data_dir,
        nats_url,
        peers,
        **service_overrides,
        notification_whatsapp_chat_expire_days=expire_seconds / 86400,
    )
    async with running_service(settings, peers) as first:
        worker = first.runtime.chat_worker
        assert worker is not None and not worker.running
        chat = Chat(first, cloud, PHONE)
        [menu] = await chat.say(text(PHONE, "Halo"))
        assert worker.running
        await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    async with running_service(settings, peers) as second:
        assert second.runtime.chat_worker is not None
        assert second.runtime.chat_worker.running
        await eventually(lambda: len(chat.replies()) == 3, "the expiry message", within=120)
        assert "belum selesai kami hapus" in body_of(chat.replies()[-1])
