"""Data saya (issue 19 item 5, UU 27/2022 PDP) against real peers over gRPC: verification's
PopulationService (the register and the staff access log), notification's NotificationService
(messages sent), signing's letter PDF. A resident sees everything held about them and only
theirs, downloads their own files (another's is a 404), and takes all of it as one ZIP; with a
service down the page says which part is missing and the archive is refused, never partial."""

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from common.domain import ApplicationStatus
from services.intake.attachments import attachment_path
from services.intake.config import Settings
from services.intake.models import Attachment, LetterApplication, Resident
from services.notification.models import Notification
from services.verification.models import PersonalDataAccess
from tests.intake.conftest import NIK_BUDI, PAMANUKAN, Intake, Register, register_ani
from tests.intake.samples import JPEG
from tests.intake.test_letter_links import PDF, Signing, signing
from tests.support.catalogue import CatalogueServer
from tests.support.notification import NotificationPeer, notification_peer

__all__ = ["signing"]  # the signing peer's fixture, reused
NUMBER = "SKD-2026-000901"
LETTER = "470/7/VII/2026"


@pytest.fixture
async def notification(base_settings: Settings) -> AsyncIterator[NotificationPeer]:
    async with notification_peer(base_settings) as served:
        yield served


@pytest.fixture
def settings(
    base_settings: Settings,
    register: Register,
    notification: NotificationPeer,
    catalogue: CatalogueServer,
) -> Settings:
    return base_settings.model_copy(
        update={
            "verification_grpc_target": register.target,
            "notification_grpc_target": notification.target,
            "catalogue_grpc_target": catalogue.target,
        }
    )


def _read(
    reader: str,
    role: str,
    desa: str,
    *,
    kind: str = "application",
    purpose: str = NUMBER,
    application_id: str | None = None,
    register_resident_id: str | None = None,
) -> PersonalDataAccess:
    return PersonalDataAccess(
        at=datetime(2026, 11, 3, 2, 0, tzinfo=UTC),
        kind=kind,
        purpose=purpose,
        application_id=application_id,
        register_resident_id=register_resident_id,
        reader_username=reader,
        reader_role=role,
        reader_desa_code=desa,
        reader_kabupaten_code="32.13",
    )


async def _budi(intake: Intake) -> tuple[str, str]:
    """Another resident with an application and an attachment (stored directly)."""
    async with intake.runtime.sessions() as session:
        budi = Resident(nik=NIK_BUDI, phone="6285712345678")
        app = LetterApplication(
            resident_id=budi.id,
            desa_code=PAMANUKAN,
            letter_type="SKD",
            number="SKD-2026-000902",
            purpose="Bukan milik Ani",
            fields_json="{}",
            status=ApplicationStatus.IN_REVIEW,
        )
        attachment = Attachment(
            application_id=app.id,
            kind="KTP",
            content_type="image/jpeg",
            size_bytes=3,
            sha256="x",
            filename="ktp-budi.jpg",
        )
        for row in (budi, app, attachment):  # no relationships: flush in the keys' order
            session.add(row)
            await session.flush()
        await session.commit()
    path = attachment_path(intake.runtime.settings.attachments_dir, app.id, attachment.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"abc")
    return app.id, attachment.id


async def test_a_resident_sees_and_takes_everything_of_theirs_and_only_theirs(
    intake: Intake, register: Register, notification: NotificationPeer, signing: Signing
) -> None:
    register_id = await register_ani(register)
    ani = await intake.sign_in()
    ani_id = await intake.resident_id("3213115708900001")
    app_id = await intake.create_application(ani)
    uploaded = await intake.upload(ani, app_id, "KTP", JPEG, "ktp-ani.jpg", "image/jpeg")
    assert uploaded.status_code == 201, uploaded.text
    attachment_id = uploaded.json()["id"]
    async with intake.runtime.sessions() as session:
        row = await session.get(LetterApplication, app_id)
        assert row is not None
        row.number, row.status, row.letter_number = NUMBER, ApplicationStatus.ISSUED, LETTER
        session.add(row)
        await session.commit()
    budi_app, budi_file = await _budi(intake)
    async with register.sessions() as session:
        session.add_all(
            [
                _read(
                    "pemerintahan.pamanukan", "kasi_pemerintahan", PAMANUKAN, application_id=app_id
                ),
                _read(
                    "diskominfo.subang",
                    "kabupaten_operator",
                    "",
                    application_id=app_id,
                    kind="attachment",
                ),
                _read(
                    "operator.pamanukan",
                    "operator",
                    PAMANUKAN,
                    kind="register",
                    purpose="daftar penduduk",
                    register_resident_id=register_id,
                ),
                _read(
                    "kesra.pamanukan",
                    "kasi_kesra",
                    PAMANUKAN,
                    application_id=budi_app,
                    purpose="SKD-2026-000902",
                ),
            ]
        )
        await session.commit()
    t0 = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)
    async with notification.sessions() as session:
        for who, body in ((ani_id, "Surat Anda sudah terbit."), ("lain", "Pesan orang lain")):
            session.add(
                Notification(
                    recipient=f"resident:{who}",
                    title="Surat terbit",
                    body=body,
                    template="t",
                    template_version="1",
                    event_id=f"e-{who}",
                    created_at=t0,
                )
            )
        await session.commit()

    page = await intake.http.get("/data-saya", headers=ani)
    own_file = await intake.http.get(f"/data-saya/berkas/{attachment_id}", headers=ani)
    others_file = await intake.http.get(f"/data-saya/berkas/{budi_file}", headers=ani)
    unsigned = await intake.http.get(f"/data-saya/berkas/{attachment_id}")
    archive = await intake.http.get("/data-saya/arsip.zip", headers=ani)
    api = await intake.http.get("/api/v1/me/data", headers=ani)
    api_archive = await intake.http.get("/api/v1/me/data/archive.zip", headers=ani)

    assert page.status_code == 200, page.text
    text = page.text
    for shown in (
        "ANI SURYANI",  # the register
        NUMBER,
        "ktp-ani.jpg",
        LETTER,
        "Surat Anda sudah terbit.",
        "Kasi Pemerintahan, Desa Pamanukan",
        "Operator Kabupaten, Kabupaten Subang",
        "Operator Desa, Desa Pamanukan",
        "daftar penduduk",
        'href="/data-saya/perbaikan"',
        'href="/data-saya/arsip.zip"',
    ):
        assert shown in text, shown
    for hidden in (
        "SKD-2026-000902",
        "ktp-budi.jpg",
        "Pesan orang lain",
        "Kasi Kesejahteraan",
        "pemerintahan.pamanukan",
        "diskominfo.subang",
    ):
        assert hidden not in text, hidden
    stored = attachment_path(intake.runtime.settings.attachments_dir, app_id, attachment_id)
    assert own_file.status_code == 200 and own_file.content == stored.read_bytes()
    assert own_file.headers["cache-control"] == "private, no-store"
    assert others_file.status_code == 404
    assert "Berkas tidak ditemukan." in others_file.text  # the portal's error page
    assert unsigned.status_code == 303  # to the sign-in page

    assert archive.status_code == 200, archive.text
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = set(zipped.namelist())
        data = json.loads(zipped.read("data.json"))
        ktp = f"berkas/{NUMBER}/KTP-{attachment_id[:8]}.jpg"
        assert {"README.txt", "data.json", ktp, "surat/surat-470-7-VII-2026.pdf"} <= names
        assert zipped.read(ktp) == stored.read_bytes()
        assert zipped.read("surat/surat-470-7-VII-2026.pdf") == PDF
    assert not any("ktp-budi" in n or budi_app in n for n in names)
    assert data["identitas"]["nik"] == "3213115708900001"
    assert [a["number"] for a in data["permohonan"]] == [NUMBER]
    assert data["permohonan"][0]["attachments"][0]["filename"] == "ktp-ani.jpg"
    assert [m["body"] for m in data["pesan"]] == ["Surat Anda sudah terbit."]
    assert {(a["role"], a["office"]) for a in data["akses_petugas"]} == {
        ("Kasi Pemerintahan", "Desa Pamanukan"),
        ("Operator Kabupaten", "Kabupaten Subang"),
        ("Operator Desa", "Desa Pamanukan"),
    }
    assert b"pemerintahan.pamanukan" not in zipped_bytes(archive.content)
    assert data["data_penduduk"]["desa_code"] == PAMANUKAN
    # The resident API answers the same document, and the same archive.
    assert api.status_code == 200 and api.headers["cache-control"] == "private, no-store"
    answered = api.json()
    assert [a["number"] for a in answered["permohonan"]] == [NUMBER]
    assert answered["akses_petugas"] == data["akses_petugas"]
    assert answered["belum_dapat_dibaca"] == []
    assert api_archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(api_archive.content)) as zipped:
        assert set(zipped.namelist()) == names

    # Notification down: the page names the missing part; the archive is refused, not partial.
    await notification.server.stop(0)
    partial = await intake.http.get("/data-saya", headers=ani)
    refused = await intake.http.get("/data-saya/arsip.zip", headers=ani)
    api_partial = await intake.http.get("/api/v1/me/data", headers=ani)
    api_refused = await intake.http.get("/api/v1/me/data/archive.zip", headers=ani)
    assert api_partial.json()["belum_dapat_dibaca"] == ["pesan yang dikirim kepada Anda"]
    assert api_refused.status_code == 503
    assert api_refused.headers["content-type"].startswith("application/problem+json")
    assert partial.status_code == 200 and "pesan yang dikirim kepada Anda" in partial.text
    assert refused.status_code == 503
    assert "Arsip data Anda belum dapat dibuat" in refused.text


def zipped_bytes(content: bytes) -> bytes:
    """Every member's bytes, uncompressed, one after another."""
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        return b"".join(zipped.read(n) for n in zipped.namelist())
