"""Optional syarat in the WhatsApp chat: offered after the required ones, sent or skipped
("lewati"), within the walk-in filing's 5-scan limit; originals are named, not asked for. The
real notification service and its conversation worker on a real Temporal server, intake and
the register as gRPC stand-ins (as tests/notification/test_whatsapp_chat.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from smartdesa.v1 import intake_pb2
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from services.notification.chat import conversation_key
from services.notification.runtime import chat_secret
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
    text,
)
from tests.notification.conftest import PAMANUKAN, Service
from tests.notification.providers import FakeWhatsAppCloud
from workflows.conversation import workflow_id
from workflows.conversation.workflows import ConversationWorkflow

PHONE = "6281344445555"
HISTORIES = Path(__file__).parent / "histories"
# Recorded with the chat as it was before optional syarat (main at 944b22c), on this catalogue:
# SPKK with two wajib syarat and one opsional, a request driven to "Kirim".
BEFORE = HISTORIES / "chat-before-optional-syarat.json"


def _syarat(code: str, name: str) -> intake_pb2.RequirementInfo:
    return intake_pb2.RequirementInfo(code=code, name=name)


def spkk_catalogue(
    wajib: int = 2, opsional: int = 2, originals: bool = True
) -> intake_pb2.LetterTypeCatalogue:
    """Surat Pengantar KK as the seed has it (KTP, buku nikah wajib; KK lama opsional), with
    extra syarat to reach the scan limit, and an original brought to the office."""
    required = [_syarat("KTP", "KTP pemohon"), _syarat("BUKU_NIKAH", "Buku nikah")]
    required += [_syarat(f"W{i}", f"Berkas wajib {i}") for i in range(3, wajib + 1)]
    optional = [_syarat("KK_LAMA", "Kartu Keluarga lama"), _syarat("AKTA", "Akta kelahiran anak")]
    info = intake_pb2.LetterTypeInfo(
        code="SPKK",
        name="Surat Pengantar Kartu Keluarga",
        requirements=required[:wajib],
        optional_syarat=optional[:opsional],
        fields=[intake_pb2.FormFieldInfo(name="nama", label="Nama lengkap", required=True)],
    )
    if originals:  # recorded-before catalogue has none
        info.bring_originals.append(_syarat("SURAT_PINDAH", "Surat pindah asli"))
    return intake_pb2.LetterTypeCatalogue(letter_types=[info])


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


def open_chat(
    service: Service, cloud: FakeWhatsAppCloud, catalogue: intake_pb2.LetterTypeCatalogue
) -> Chat:
    register_resident(service.peers, PHONE)
    service.peers.directory.offered[PAMANUKAN] = ["SPKK"]
    service.peers.intake.catalogue = catalogue
    return Chat(service, cloud, PHONE)


async def to_first_syarat(chat: Chat) -> dict[str, object]:
    [menu] = await chat.say(text(PHONE, "Halo"))
    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    [data] = await chat.say(row(PHONE, choice_ids(types)["SPKK"]))
    await chat.say(button(PHONE, choice_ids(data)["Benar"]))
    [first] = await chat.say(text(PHONE, "pindah rumah"))
    return first


async def history_of(service: Service, env: WorkflowEnvironment) -> WorkflowHistory:
    key = conversation_key(chat_secret(service.settings), PHONE)
    return await env.client.get_workflow_handle(workflow_id(key)).fetch_history()


async def test_an_optional_syarat_is_sent_and_another_skipped(
    service: Service, cloud: FakeWhatsAppCloud, temporal_env: WorkflowEnvironment
) -> None:
    """After the two required syarat, each optional one is offered with a "Lewati" button: the
    first is sent as a photo, the second skipped by typing "lewati". The filing carries the
    optional scan; the original to bring is named in the summary and after sending."""
    chat = open_chat(service, cloud, spkk_catalogue())
    first = await to_first_syarat(chat)
    assert "*KTP pemohon* (1/2)" in body_of(first)
    cloud.media |= {
        "m-ktp": (JPEG, "image/jpeg"),
        "m-nikah": (PDF, "application/pdf"),
        "m-kk-lama": (JPEG, "image/jpeg"),
    }
    [nikah] = await chat.say(image(PHONE, "m-ktp"))
    assert "*Buku nikah* (2/2)" in body_of(nikah)
    [kk_lama] = await chat.say(document(PHONE, "m-nikah"))
    assert body_of(kk_lama).startswith(
        "Bila ada, kirim juga foto atau PDF *Kartu Keluarga lama* (tidak wajib)."
    )
    assert list(choice_ids(kk_lama)) == ["Lewati"]
    # Text other than "lewati" is not taken as the file.
    [typed] = await chat.say(text(PHONE, "ada di rumah"))
    assert "atau ketik *lewati*" in body_of(typed)
    [akta] = await chat.say(image(PHONE, "m-kk-lama"))
    assert "*Akta kelahiran anak* (tidak wajib)" in body_of(akta)
    [confirm] = await chat.say(text(PHONE, "lewati"))
    summary = body_of(confirm)
    assert "Berkas: 3 terlampir" in summary
    assert "Bawa berkas asli ke kantor desa: Surat pindah asli." in summary

    [done] = await chat.say(button(PHONE, choice_ids(confirm)["Kirim"]))
    assert "sudah terkirim" in body_of(done)
    assert "Bawa berkas asli ke kantor desa: Surat pindah asli." in body_of(done)
    [filed] = service.peers.intake.filed
    assert {a.kind: a.content for a in filed.attachments} == {
        "KTP": JPEG,
        "BUKU_NIKAH": PDF,
        "KK_LAMA": JPEG,
    }
    assert cloud.media_downloads == ["m-ktp", "m-nikah", "m-kk-lama"]

    # The new path (behind its patch) replays deterministically.
    await Replayer(workflows=[ConversationWorkflow]).replay_workflow(
        await history_of(service, temporal_env)
    )


async def test_optional_syarat_are_offered_only_while_the_filing_has_room(
    service: Service, cloud: FakeWhatsAppCloud
) -> None:
    """Four required scans leave room for one optional (intake takes at most 5 per filing):
    the "Lewati" button skips the first, the second is sent, and nothing more is asked."""
    chat = open_chat(service, cloud, spkk_catalogue(wajib=4, opsional=2, originals=False))
    await to_first_syarat(chat)
    for i in range(1, 5):
        cloud.media[f"m-{i}"] = (JPEG, "image/jpeg")
    for i in range(1, 4):
        await chat.say(image(PHONE, f"m-{i}"))
    [kk_lama] = await chat.say(image(PHONE, "m-4"))
    assert "*Kartu Keluarga lama* (tidak wajib)" in body_of(kk_lama)
    [akta] = await chat.say(button(PHONE, choice_ids(kk_lama)["Lewati"]))
    assert "*Akta kelahiran anak* (tidak wajib)" in body_of(akta)
    cloud.media["m-akta"] = (PDF, "application/pdf")
    [confirm] = await chat.say(document(PHONE, "m-akta"))
    assert "Berkas: 5 terlampir" in body_of(confirm)
    assert "Bawa berkas asli" not in body_of(confirm)
    await chat.say(button(PHONE, choice_ids(confirm)["Kirim"]))
    [filed] = service.peers.intake.filed
    assert sorted(a.kind for a in filed.attachments) == ["AKTA", "BUKU_NIKAH", "KTP", "W3", "W4"]

    # With five required ones (the catalogue's most) no optional one is asked for at all.
    service.peers.intake.catalogue = spkk_catalogue(wajib=5, opsional=2, originals=False)
    await to_first_syarat(chat)
    for i in range(1, 5):
        await chat.say(image(PHONE, f"m-{i}"))
    [confirm] = await chat.say(image(PHONE, "m-1"))
    assert "Berkas: 5 terlampir" in body_of(confirm)
    assert "tidak wajib" not in body_of(confirm)


async def test_a_kept_document_answers_an_optional_syarat_and_batal_comes_back_to_it(
    service: Service, cloud: FakeWhatsAppCloud
) -> None:
    catalogue = spkk_catalogue(opsional=0, originals=False)
    catalogue.letter_types[0].optional_syarat.append(_syarat("KK", "Kartu Keluarga"))
    chat = open_chat(service, cloud, catalogue)
    service.peers.intake.kept[NIK] = ["KK"]
    await to_first_syarat(chat)
    cloud.media |= {"m-ktp": (JPEG, "image/jpeg"), "m-nikah": (PDF, "application/pdf")}
    await chat.say(image(PHONE, "m-ktp"))
    [kk] = await chat.say(document(PHONE, "m-nikah"))
    assert "*Kartu Keluarga* (tidak wajib)" in body_of(kk) and "tersimpan" in body_of(kk)
    assert list(choice_ids(kk)) == ["Pakai yang tersimpan", "Lewati"]
    [ask] = await chat.say(text(PHONE, "batal"))
    [again] = await chat.say(button(PHONE, choice_ids(ask)["Lanjutkan"]))
    assert "*Kartu Keluarga* (tidak wajib)" in body_of(again)
    [confirm] = await chat.say(button(PHONE, choice_ids(again)["Pakai yang tersimpan"]))
    assert "Berkas: 3 terlampir" in body_of(confirm)
    await chat.say(button(PHONE, choice_ids(confirm)["Kirim"]))
    [filed] = service.peers.intake.filed
    kinds = {a.kind: (a.from_kept, a.content) for a in filed.attachments}
    assert kinds == {"KTP": (False, JPEG), "BUKU_NIKAH": (False, PDF), "KK": (True, b"")}


async def test_a_conversation_recorded_before_optional_syarat_replays_as_it_ran() -> None:
    """Its letter form, read then, holds no optional syarat: it went from the last required
    syarat to the summary, and the current code replays that without the new patch."""
    text_ = BEFORE.read_text()
    history = WorkflowHistory.from_json("chat-before-optional-syarat", text_)
    await Replayer(workflows=[ConversationWorkflow]).replay_workflow(history)
    assert "chat-optional-syarat" not in text_
