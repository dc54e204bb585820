"""The name the resident's file had is stored with its attachment, cleaned, by every way a file
arrives (one-shot API upload, the portal's plain form, resumable upload, a kept document used
again, a walk-in scan), shown back beside a sent PDF's badge after a reload, and never logged."""

import logging
import uuid
from collections.abc import Iterator

import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import select

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, client_channel
from common.web import csrf_token_for
from services.intake.models import Attachment
from services.intake.uploads import FILENAME_MAX
from tests.intake import samples
from tests.intake.conftest import NIK_BUDI, PAMANUKAN, PHONE_BUDI, SKD_FIELDS, Intake

HOSTILE = "../../etc/passwd\x00.pdf"
LONG = "n" * 496 + ".pdf"  # 500 characters
# (what the phone called the file, what is stored)
NAMES = [
    (HOSTILE, "passwd.pdf"),
    ("C:\\Users\\ani\\Dokumen\\KK ani\x1b\x7f.pdf", "KK ani.pdf"),
    (LONG, LONG[:FILENAME_MAX]),
]


async def _stored_names(intake: Intake, application_id: str) -> dict[str, str | None]:
    async with intake.runtime.sessions() as session:
        rows = await session.exec(
            select(Attachment).where(Attachment.application_id == application_id)
        )
        return {a.kind: a.filename for a in rows.all()}


def _multipart(name: str, content: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body with the file name as raw bytes in its header (httpx would escape
    control characters the way a browser does; a hostile client need not)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(autouse=True)
def _no_name_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for sent, stored in NAMES:
        for name in (sent, stored, "passwd", "KK ani", "KK <Ani>", "nnnnnnnnnnnn"):
            assert name not in caplog.text, "the resident's file name was logged"


@pytest.mark.parametrize(("sent", "stored"), NAMES)
async def test_a_one_shot_api_upload_stores_the_clean_name(
    intake: Intake, sent: str, stored: str
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    body, content_type = _multipart(sent, samples.pdf(), {"kind": "KK"})
    r = await intake.http.post(
        f"/api/v1/applications/{application_id}/attachments",
        content=body,
        headers={**headers, "Content-Type": content_type},
    )
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == stored
    assert await _stored_names(intake, application_id) == {"KK": stored}
    shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    assert [a["filename"] for a in shown.json()["attachments"]] == [stored]


@pytest.mark.parametrize(("sent", "stored"), NAMES)
async def test_the_plain_form_upload_stores_the_clean_name(
    intake: Intake, sent: str, stored: str
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    token = headers["Authorization"].removeprefix("Bearer ")
    csrf = csrf_token_for(token, intake.runtime.token_issuer.csrf_secret)
    body, content_type = _multipart(sent, samples.pdf(), {"kind": "KK", "csrf_token": csrf})
    intake.http.cookies.set("sd_warga", token)
    try:
        r = await intake.http.post(
            f"/permohonan/{application_id}/berkas?kind=KK",
            content=body,
            headers={"Content-Type": content_type},
        )
        assert r.status_code == 303, r.text
    finally:
        intake.http.cookies.clear()
    assert await _stored_names(intake, application_id) == {"KK": stored}


@pytest.mark.parametrize(("sent", "stored"), NAMES)
async def test_a_resumable_upload_stores_the_clean_name(
    intake: Intake, sent: str, stored: str
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    content = samples.pdf()
    r = await intake.http.post(
        f"/api/v1/applications/{application_id}/uploads",
        json={
            "kind": "KK",
            "filename": sent,
            "size_bytes": len(content),
            "content_type": "application/pdf",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await intake.http.put(
        f"/api/v1/uploads/{r.json()['id']}",
        content=content,
        headers={
            **headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert r.status_code == 201, r.text
    assert await _stored_names(intake, application_id) == {"KK": stored}


async def test_a_kept_document_used_again_keeps_its_name(intake: Intake) -> None:
    headers = await intake.sign_in()
    first = await intake.create_application(headers)
    body, content_type = _multipart(HOSTILE, samples.pdf(), {"kind": "KTP"})
    r = await intake.http.post(
        f"/api/v1/applications/{first}/attachments",
        content=body,
        headers={**headers, "Content-Type": content_type},
    )
    assert r.status_code == 201, r.text
    second = await intake.create_application(headers, purpose="Lain kali")
    r = await intake.http.post(
        f"/api/v1/applications/{second}/attachments/kept", json={"kind": "KTP"}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "passwd.pdf"
    assert await _stored_names(intake, second) == {"KTP": "passwd.pdf"}


async def test_walk_in_scans_keep_their_clean_names(intake: Intake) -> None:
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    request = intake_pb2.FileWalkInRequest(
        request_id=uuid.uuid4().hex,
        desa_code=PAMANUKAN,
        nik=NIK_BUDI,
        phone=PHONE_BUDI,
        letter_type="SKD",
        purpose="Persyaratan melamar pekerjaan",
        fields=SKD_FIELDS,
        attachments=[
            intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG, filename=LONG),
            intake_pb2.WalkInAttachment(kind="kk", content=samples.pdf(), filename=HOSTILE),
        ],
        filed_by="operator.pamanukan",
    )
    async with client_channel(target, auth, INTAKE) as channel:
        filed = await intake_pb2_grpc.IntakeServiceStub(channel).FileWalkIn(request)
    assert await _stored_names(intake, filed.application_id) == {
        "KTP": LONG[:FILENAME_MAX],
        "KK": "passwd.pdf",
    }


async def test_a_reload_shows_the_sent_pdfs_name_beside_its_badge(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(
        headers, application_id, "KK", samples.pdf(), "KK <Ani> 2026.pdf", "application/pdf"
    )
    assert r.status_code == 201, r.text
    r = await intake.upload(headers, application_id, "KTP", samples.JPEG, "ktp.jpg", "image/jpeg")
    assert r.status_code == 201, r.text

    page = await intake.http.get(f"/permohonan/{application_id}", headers=headers)
    assert page.status_code == 200
    # Escaped like any text; beside the PDF's badge. The photo shows its thumbnail instead.
    assert '<span class="unggah-nama" data-nama-berkas="KK">KK &lt;Ani&gt; 2026.pdf</span>' in (
        page.text
    )
    assert 'data-nama-berkas="KTP"' not in page.text
    assert "ktp.jpg" not in page.text

    # A file stored before names were kept shows the badge only.
    async with intake.runtime.sessions() as session:
        rows = await session.exec(
            select(Attachment).where(Attachment.application_id == application_id)
        )
        for row in rows.all():
            row.filename = None
            session.add(row)
        await session.commit()
    page = await intake.http.get(f"/permohonan/{application_id}", headers=headers)
    assert page.status_code == 200
    assert "data-nama-berkas" not in page.text
    assert "Sudah diunggah: PDF" in page.text
