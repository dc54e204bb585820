"""Attachments as an attacker would send them, on every path that accepts a file (the API's
one-shot and resumable uploads, the portal's plain form, a walk-in): images are stored as a
clean copy without metadata, upright; hostile PDFs, pixel and deflate bombs and polyglots get
a clear 4xx, nothing is kept, and the service keeps answering."""

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from PIL import Image, PngImagePlugin
from smartdesa.v1 import intake_pb2, intake_pb2_grpc

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, client_channel
from common.web import csrf_token_for
from services.intake import file_safety
from services.intake.attachments import attachment_path
from tests.intake import samples
from tests.intake.conftest import Intake, problem
from tests.intake.test_walk_in import _request
from tests.signing import hostile

JS_OPEN_ACTION = samples.pdf_with(
    b"/OpenAction 4 0 R", b"<< /Type /Action /S /JavaScript /JS (app.alert('halo')) >>"
)
# A document-level script in the Names tree, as Acrobat runs on opening.
JS_NAMES = samples.pdf_with(
    b"/Names << /JavaScript << /Names [(a) 4 0 R] >> >>",
    b"<< /S /JavaScript /JS (this.print()) >>",
)
LAUNCH = samples.pdf_with(
    b"/OpenAction << /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) /P (/c calc) >> >>"
)
# The probe: JavaScript in OpenAction and an embedded .exe.
EMBEDDED_EXE = samples.pdf_with(
    b"/Names << /EmbeddedFiles << /Names [(setup.exe) 4 0 R] >> >>",
    b"<< /Type /Filespec /F (setup.exe) /EF << /F 5 0 R >> >>",
    b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream",
)
# Additional actions on the page tree: run when a page opens.
PAGE_ACTION = samples.pdf_with(b"/AA << /O << /S /JavaScript /JS (1) >> >>")


def _files(intake: Intake, application_id: str) -> list[Path]:
    folder = intake.runtime.settings.attachments_dir / application_id
    return sorted(folder.iterdir()) if folder.exists() else []


async def _refused(intake: Intake, content: bytes, status: int = 422) -> dict[str, object]:
    """Uploads `content` as KTP of a fresh draft: refused with `status`, nothing kept."""
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "KTP", content)
    assert r.status_code == status, r.text
    shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    assert shown.json()["attachments"] == []
    assert _files(intake, application_id) == []
    return _problem(r)


def _problem(r: httpx.Response) -> dict[str, object]:
    """The problem body, with its `code` (the last part of its type URL) beside it."""
    body = problem(r)
    return {**body, "code": str(body["type"]).rsplit("/", 1)[-1]}


async def test_a_photo_is_stored_upright_without_exif_or_gps_and_staff_see_that_copy(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    sent = samples.photo(40, 20, exif=samples.gps_exif(orientation=6))  # taken sideways
    assert b"Galaxy A15" in sent and Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825)
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "KTP", sent, "ktp.jpg", "image/jpeg")
    assert r.status_code == 201, r.text
    body = r.json()
    root = intake.runtime.settings.attachments_dir
    stored = attachment_path(root, application_id, body["id"]).read_bytes()
    assert body["sha256"] == hashlib.sha256(stored).hexdigest()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0 and b"Exif" not in stored and b"Galaxy" not in stored
    # Orientation 6 (turn 90° clockwise): 40 × 20 becomes 20 × 40, dark half on top.
    assert image.size == (20, 40)
    top, bottom = image.convert("L").getpixel((10, 5)), image.convert("L").getpixel((10, 35))
    assert isinstance(top, int) and isinstance(bottom, int) and top < 100 < bottom
    served = await stub.GetAttachment(
        intake_pb2.GetAttachmentRequest(application_id=application_id, attachment_id=body["id"])
    )
    assert served.content == stored  # what staff open is the clean copy


async def test_a_png_loses_its_text_chunks(intake: Intake) -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Ani Suryani")
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(out, "PNG", pnginfo=text)
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "KTP", out.getvalue())
    assert r.status_code == 201, r.text
    root = intake.runtime.settings.attachments_dir
    stored = attachment_path(root, application_id, r.json()["id"]).read_bytes()
    assert b"Ani Suryani" not in stored
    assert Image.open(io.BytesIO(stored)).getpixel((8, 8)) == (200, 10, 10)


async def test_a_truncated_photo_is_refused_as_broken(intake: Intake) -> None:
    refused = await _refused(intake, samples.JPEG[:300])
    assert (refused["code"], refused["detail"]) == ("broken-image", file_safety.BROKEN_IMAGE)


async def test_a_png_declaring_30000_by_30000_pixels_is_refused_unread(intake: Intake) -> None:
    refused = await _refused(intake, samples.png_declaring(30_000, 30_000))
    assert refused["code"] == "too-many-pixels"
    assert refused["detail"] == (
        "Gambar terlalu besar: 30000 × 30000 piksel, paling banyak 50 megapiksel. "
        "Perkecil fotonya, lalu unggah lagi."
    )


async def test_a_png_bomb_is_refused_and_the_service_keeps_answering(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    bomb = samples.png_bomb(20_000)  # about 1 MB that decodes to 1.2 GB
    refused, health = await asyncio.gather(
        intake.upload(headers, application_id, "KTP", bomb), intake.http.get("/healthz")
    )
    assert refused.status_code == 422 and _problem(refused)["code"] == "too-many-pixels"
    assert health.status_code == 200
    accepted = await intake.upload(headers, application_id, "KTP", samples.JPEG)
    assert accepted.status_code == 201


@pytest.mark.parametrize(
    ("content", "code", "detail"),
    [
        (JS_OPEN_ACTION, "pdf-script", file_safety.PDF_SCRIPT),
        (JS_NAMES, "pdf-script", file_safety.PDF_SCRIPT),
        (PAGE_ACTION, "pdf-script", file_safety.PDF_SCRIPT),
        (LAUNCH, "pdf-launch", file_safety.PDF_LAUNCH),
        (EMBEDDED_EXE, "pdf-embedded-file", file_safety.PDF_EMBEDDED),
        # A deflate bomb in an object stream (4 GB from about 4 MB): refused, not inflated.
        (hostile.object_stream_bomb(), "too-complex", file_safety.TOO_COMPLEX),
        (hostile.garbage_after_header(), "broken-pdf", file_safety.BROKEN_PDF),
    ],
    ids=["js-open-action", "js-names", "page-aa", "launch", "embedded-exe", "bomb", "garbage"],
)
async def test_hostile_pdfs_are_refused_with_a_clear_message(
    intake: Intake, content: bytes, code: str, detail: str
) -> None:
    refused = await _refused(intake, content)
    assert (refused["code"], refused["detail"]) == (code, detail)


async def test_a_pdf_keeps_its_pages_and_loses_its_metadata(intake: Intake) -> None:
    sent = samples.pdf_with(
        b"/Metadata 4 0 R",
        b"<< /Type /Metadata /Subtype /XML /Length 20 >>\nstream\n<x:xmpmeta>Ani</x>\nendstream",
    )
    sent = sent.replace(b"/Root 1 0 R", b"/Root 1 0 R /Info << /Author (Ani Suryani) >>")
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "KK", sent)
    assert r.status_code == 201, r.text
    root = intake.runtime.settings.attachments_dir
    stored = attachment_path(root, application_id, r.json()["id"]).read_bytes()
    assert b"/MediaBox" in stored and b"Ani" not in stored and b"xmpmeta" not in stored


@pytest.mark.parametrize(
    "content",
    [
        samples.JPEG + samples.zip_of("payload.html", b"<script>alert(1)</script>"),
        samples.JPEG[:20] + b"%PDF-1.7 " + samples.JPEG[20:],  # a PDF header in the first KB
        samples.JPEG + samples.pdf(),  # a PDF appended: its end marker closes the file
        samples.pdf() + samples.zip_of("a.txt", b"x"),
    ],
    ids=["jpeg-zip", "jpeg-pdf-head", "jpeg-pdf-tail", "pdf-zip"],
)
async def test_polyglots_are_refused(intake: Intake, content: bytes) -> None:
    assert (await _refused(intake, content))["code"] == "polyglot"


async def test_the_resumable_upload_checks_the_whole_file_when_it_completes(
    intake: Intake,
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    opened = await intake.http.post(
        f"/api/v1/applications/{application_id}/uploads",
        json={
            "kind": "KK",
            "filename": "kk.pdf",
            "size_bytes": len(EMBEDDED_EXE),
            "content_type": "application/pdf",
        },
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    r = await intake.http.put(
        opened.json()["upload_url"],
        content=EMBEDDED_EXE,
        headers={**headers, "Upload-Offset": "0"},
    )
    assert r.status_code == 422 and problem(r)["detail"] == file_safety.PDF_EMBEDDED
    assert _files(intake, application_id) == []


async def test_the_portal_form_says_why_a_file_is_refused(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    token = headers["Authorization"].removeprefix("Bearer ")
    csrf = csrf_token_for(token, intake.runtime.token_issuer.csrf_secret)
    intake.http.cookies.set("sd_warga", token)
    try:
        r = await intake.http.post(
            f"/permohonan/{application_id}/berkas?kind=KK",
            data={"kind": "KK", "csrf_token": csrf},
            files={"file": ("kk.pdf", JS_OPEN_ACTION, "application/pdf")},
        )
    finally:
        intake.http.cookies.clear()
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "PDF berisi skrip (JavaScript)" in r.text
    assert _files(intake, application_id) == []


@pytest.fixture
async def office(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    """IntakeService as verification's walk-in form calls it."""
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


async def test_a_walk_in_scan_gets_the_same_checks_and_clean_copy(
    intake: Intake, office: intake_pb2_grpc.IntakeServiceStub
) -> None:
    hostile_kk = [
        intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
        intake_pb2.WalkInAttachment(kind="KK", content=JS_OPEN_ACTION),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await office.FileWalkIn(_request(attachments=hostile_kk))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == f"Berkas KK: {file_safety.PDF_SCRIPT}"
    assert dict(refused.value.trailing_metadata() or ())["smartdesa-field"] == "attachments.KK"

    photo = samples.photo(exif=samples.gps_exif())
    filed = await office.FileWalkIn(
        _request(
            attachments=[
                intake_pb2.WalkInAttachment(kind="KTP", content=photo),
                intake_pb2.WalkInAttachment(kind="KK", content=samples.pdf()),
            ]
        )
    )
    app = await office.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    ktp = next(a for a in app.attachments if a.kind == "KTP")
    served = await office.GetAttachment(
        intake_pb2.GetAttachmentRequest(application_id=filed.application_id, attachment_id=ktp.id)
    )
    assert served.content != photo and b"Galaxy" not in served.content
    assert len(Image.open(io.BytesIO(served.content)).getexif()) == 0
    assert served.info.sha256 == hashlib.sha256(served.content).hexdigest()
