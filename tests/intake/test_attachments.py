"""Uploads: type by content, size limit while streaming, nothing half-written."""

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from services.intake.attachments import attachment_path
from services.intake.file_safety import MAX_ATTACHMENT_BYTES, sniff_content_type
from services.intake.models import Attachment
from tests.intake import samples
from tests.intake.conftest import Intake, problem


def test_sniffing_reads_signatures_only() -> None:
    assert sniff_content_type(samples.JPEG[:16]) == "image/jpeg"
    assert sniff_content_type(samples.png()[:16]) == "image/png"
    assert sniff_content_type(samples.pdf()[:16]) == "application/pdf"
    assert sniff_content_type(b"PDF-1.4 but no %") is None
    assert sniff_content_type(b"GIF89a") is None
    assert sniff_content_type(b"") is None


async def _rows(intake: Intake, application_id: str) -> list[Attachment]:
    async with intake.runtime.sessions() as session:
        return list(
            (
                await session.exec(
                    select(Attachment).where(Attachment.application_id == application_id)
                )
            ).all()
        )


def _files(intake: Intake, application_id: str) -> list[Path]:
    folder = intake.runtime.settings.attachments_dir / application_id
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("content", "filename", "claimed", "expected"),
    [
        (samples.JPEG, "ktp.jpg", "image/jpeg", "image/jpeg"),
        (samples.png(), "ktp.png", "image/png", "image/png"),
        (samples.pdf(), "ktp.pdf", "application/pdf", "application/pdf"),
        # The name and the claimed type do not matter; the content does.
        (samples.pdf(), "foto.jpg", "image/jpeg", "application/pdf"),
    ],
)
async def test_real_files_are_accepted_and_stored(
    intake: Intake, content: bytes, filename: str, claimed: str, expected: str
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "ktp", content, filename, claimed)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "KTP"
    assert body["content_type"] == expected
    # What is stored is the clean copy (tests/intake/test_safe_uploads.py), and what it says.
    stored = attachment_path(intake.runtime.settings.attachments_dir, application_id, body["id"])
    assert sniff_content_type(stored.read_bytes()) == expected
    assert body["size_bytes"] == stored.stat().st_size
    assert body["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert _files(intake, application_id) == [stored]  # no temporary file left behind
    shown = (
        await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    ).json()
    assert [a["id"] for a in shown["attachments"]] == [body["id"]]


async def test_text_named_pdf_is_415_and_nothing_is_kept(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(
        headers, application_id, "KK", b"ini bukan PDF\n", "kk.pdf", "application/pdf"
    )
    assert r.status_code == 415
    assert problem(r)["detail"] == "Berkas harus berupa gambar JPEG, PNG, atau dokumen PDF."
    assert await _rows(intake, application_id) == []
    assert _files(intake, application_id) == []


async def test_unknown_kind_is_422(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "AKTA", samples.pdf())
    assert r.status_code == 422
    assert problem(r)["detail"] == "Jenis berkas harus salah satu dari: KTP, KK."
    assert _files(intake, application_id) == []


async def test_missing_file_is_422(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.http.post(
        f"/api/v1/applications/{application_id}/attachments",
        files={"kind": (None, "KTP")},
        headers=headers,
    )
    assert r.status_code == 422
    assert problem(r)["detail"] == "Berkas wajib dilampirkan."


async def test_over_10_mb_is_413_with_content_length(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    big = b"%PDF-1.4\n" + b"0" * MAX_ATTACHMENT_BYTES
    r = await intake.upload(headers, application_id, "KTP", big, "besar.pdf", "application/pdf")
    assert r.status_code == 413
    assert "paling besar 10 MB" in problem(r)["detail"]
    assert await _rows(intake, application_id) == []
    assert _files(intake, application_id) == []


async def test_over_10_mb_streamed_without_length_stops_at_the_limit(intake: Intake) -> None:
    """No Content-Length: the limit is enforced while reading, and the partial file removed."""
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    boundary = "batasberkas"
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nKTP\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="besar.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode() + b"%PDF-1.4\n"
        chunk = b"0" * (1024 * 1024)
        for _ in range(20):  # 20 MB offered
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await intake.http.post(
        f"/api/v1/applications/{application_id}/attachments",
        content=body(),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413
    assert sent <= MAX_ATTACHMENT_BYTES + 1024 * 1024  # stopped reading soon after the limit
    assert await _rows(intake, application_id) == []
    assert _files(intake, application_id) == []


async def test_exactly_10_mb_is_accepted(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    content = samples.padded_pdf(MAX_ATTACHMENT_BYTES)
    r = await intake.upload(headers, application_id, "KK", content, "kk.pdf", "application/pdf")
    assert r.status_code == 201, r.text
    stored = attachment_path(
        intake.runtime.settings.attachments_dir, application_id, r.json()["id"]
    ).read_bytes()
    assert samples.padding_of(content) in stored


async def test_new_upload_of_a_kind_replaces_the_old_one(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    first = (await intake.upload(headers, application_id, "KTP", samples.JPEG)).json()
    kk = (await intake.upload(headers, application_id, "KK", samples.pdf())).json()
    second = (await intake.upload(headers, application_id, "KTP", samples.png())).json()
    rows = await _rows(intake, application_id)
    assert sorted(a.id for a in rows) == sorted([kk["id"], second["id"]])
    root = intake.runtime.settings.attachments_dir
    assert not attachment_path(root, application_id, first["id"]).exists()
    assert _files(intake, application_id) == sorted(
        [
            attachment_path(root, application_id, kk["id"]),
            attachment_path(root, application_id, second["id"]),
        ]
    )


async def test_uploads_are_locked_after_submit(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf())):
        assert (await intake.upload(headers, application_id, kind, content)).status_code == 201
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 202, r.text
    r = await intake.upload(headers, application_id, "KK", samples.png())
    assert r.status_code == 409
    assert problem(r)["detail"] == "Berkas tidak dapat diubah setelah permohonan diajukan."
    assert len(await _rows(intake, application_id)) == 2
