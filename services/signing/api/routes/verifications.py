"""Anyone may upload a PDF and learn whether its signature is valid, made under our root, and
whether the document was changed after signing; and whether the file is in the register."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from common.http import Problem
from common.numbers import parse_natural
from services.signing.api.deps import RuntimeDep, SessionDep
from services.signing.pdf_verification import (
    MalformedPdf,
    SignatureCheck,
    TooComplex,
    looks_like_pdf,
)
from services.signing.register import PublicLetter, find_by_sha256

router = APIRouter(prefix="/verifications", tags=["verifications"])

# Room for the multipart framing around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_READ_CHUNK = 64 * 1024


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        f"Berkas terlalu besar. Ukuran paling besar {limit // (1024 * 1024)} MB.",
        code="file-too-large",
    )


async def _read_form(request: Request, body_limit: int) -> FormData:
    """Parse the multipart body while it arrives, stopping as soon as it passes the limit."""
    declared = parse_natural(request.headers.get("content-length"))
    if declared is not None and declared > body_limit:
        raise _TooLarge
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Problem(
            415,
            "Kirim berkas PDF sebagai multipart/form-data pada isian 'file'.",
            code="multipart-required",
        )

    async def limited() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise _TooLarge
            yield chunk

    parser = MultiPartParser(request.headers, limited(), max_files=1, max_fields=5)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise Problem(422, "Formulir unggahan tidak dapat dibaca.", code="bad-multipart") from exc


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(_READ_CHUNK):
        data += chunk
        if len(data) > limit:
            raise _TooLarge
    return bytes(data)


def _registered(letter: PublicLetter | None) -> dict[str, str] | None:
    if letter is None:
        return None
    return {
        "number": letter.number,
        "verification_url": letter.verification_url,
        "status": letter.status,
    }


def _result(check: SignatureCheck, letter: PublicLetter | None) -> dict[str, Any]:
    conclusion: str = check.conclusion
    message = check.message()
    if letter is not None and letter.status != "valid" and conclusion == "valid":
        conclusion = "invalid"
        message = f"Tanda tangan elektronik sah, tetapi surat nomor {letter.number} telah dicabut."
    elif letter is not None and conclusion == "valid":
        message += f" Berkas ini sama persis dengan surat nomor {letter.number} yang tercatat."
    return {
        "sha256": check.sha256,
        "signed": check.signed,
        "signature_valid": check.signature_valid,
        "trusted": check.trusted,
        "intact": check.intact,
        "modified_after_signing": check.modified_after_signing,
        "modification_level": check.modification_level,
        "docmdp_ok": check.docmdp_ok,
        "signer": check.signer,
        "signed_at": check.signed_at.isoformat() if check.signed_at else None,
        "timestamped_at": check.timestamped_at.isoformat() if check.timestamped_at else None,
        "timestamp_valid": check.timestamp_valid,
        "long_term": check.long_term,
        "registered": _registered(letter),
        "conclusion": conclusion,
        "message": message,
    }


@router.post("")
async def verify_pdf(request: Request, runtime: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    return await check_uploaded_pdf(request, runtime, session)


async def check_uploaded_pdf(
    request: Request, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    """The uploaded PDF's check, as the API answers it (the page's form shows it in words).
    Raises Problem for what cannot be checked."""
    settings = runtime.settings
    limit = settings.verification_max_upload_bytes
    try:
        form = await _read_form(request, limit + _MULTIPART_OVERHEAD)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Problem(422, "Unggah berkas PDF pada isian 'file'.", code="file-missing")
            data = await _read_upload(upload, limit)
        finally:
            await form.close()
    except _TooLarge:
        raise _too_large(limit) from None
    if not looks_like_pdf(data):
        raise Problem(415, "Berkas ini bukan PDF.", code="not-a-pdf")
    crl = await asyncio.to_thread(runtime.crl)
    try:
        check = await runtime.checker.check(data, [crl] if crl else [])
    except MalformedPdf:
        raise Problem(
            422,
            "Berkas PDF rusak atau tidak lengkap sehingga tidak dapat diperiksa.",
            code="malformed-pdf",
        ) from None
    except TooComplex:
        raise Problem(
            422,
            "Pemeriksaan berkas ini memakan waktu terlalu lama atau memori terlalu besar dan "
            "dihentikan. Berkas tidak dapat diperiksa.",
            code="verification-limit",
        ) from None
    letter = await find_by_sha256(session, check.sha256, settings.public_verification_url)
    return _result(check, letter)
