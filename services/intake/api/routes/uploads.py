"""Resumable uploads of syarat documents for phones on weak connections.

    POST /api/v1/applications/{id}/uploads   {"kind", "filename", "size_bytes", "content_type"}
        -> 201 {"id", "upload_url", "chunk_size", "offset": 0, ...}
    PUT  /api/v1/uploads/{upload_id}         the chunk's bytes, with `Upload-Offset: <n>` (or
        `Content-Range: bytes <a>-<b>/<total>`) -> 200 {"offset", ...}; the last chunk -> 201
        with "attachment"; a chunk at the wrong offset -> 409 with the current "offset" (and
        the `Upload-Offset` header)
    HEAD /api/v1/uploads/{upload_id}         `Upload-Offset` and `Upload-Length`, after a drop
    GET  /api/v1/uploads/{upload_id}         the same as JSON
    DELETE /api/v1/uploads/{upload_id}       give it up

The completed file is checked exactly as a one-shot upload (content sniffing, size limit, the
requirement codes of the letter type, draft or revision only, the resident's own application).
"""

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from common.db import as_utc
from common.http import Problem
from common.numbers import parse_natural
from services.intake.api.deps import CurrentResident, RuntimeDep, SessionDep
from services.intake.api.schemas import AttachmentOut, UploadCreate, UploadOut
from services.intake.applications import owned_application
from services.intake.models import Attachment, UploadSession
from services.intake.resumable import (
    CHUNK_BYTES,
    abandon_upload,
    chunk_position,
    owned_upload,
    receive_chunk,
    start_upload,
)

router = APIRouter(tags=["unggahan"])

NOT_FOUND = "Permohonan tidak ditemukan."
NO_STORE = "no-store"


def upload_url(upload: UploadSession) -> str:
    return f"/api/v1/uploads/{upload.id}"


def upload_out(upload: UploadSession, attachment: Attachment | None = None) -> UploadOut:
    return UploadOut(
        id=upload.id,
        application_id=upload.application_id,
        kind=upload.kind,
        filename=upload.filename,
        size_bytes=upload.total_bytes,
        offset=upload.received_bytes,
        chunk_size=CHUNK_BYTES,
        complete=upload.attachment_id is not None,
        attachment=AttachmentOut.of(attachment) if attachment is not None else None,
        upload_url=upload_url(upload),
        expires_at=as_utc(upload.expires_at),
    )


def _headers(upload: UploadSession) -> dict[str, str]:
    return {
        "Upload-Offset": str(upload.received_bytes),
        "Upload-Length": str(upload.total_bytes),
        "Cache-Control": NO_STORE,
    }


def _answer(upload: UploadSession, attachment: Attachment | None, code: int) -> JSONResponse:
    body = upload_out(upload, attachment).model_dump(mode="json")
    return JSONResponse(body, status_code=code, headers=_headers(upload))


async def _attachment_of(session: SessionDep, upload: UploadSession) -> Attachment | None:
    if upload.attachment_id is None:
        return None
    return await session.get(Attachment, upload.attachment_id)


@router.post(
    "/applications/{application_id}/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
)
async def open_upload(
    application_id: str,
    body: UploadCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    resident: CurrentResident,
) -> JSONResponse:
    application = await owned_application(session, resident.subject, application_id)
    if application is None:
        raise Problem(404, NOT_FOUND, code="not-found")
    upload = await start_upload(
        session,
        runtime.settings.attachments_dir,
        application,
        resident.subject,
        letter_type=await runtime.catalogue.of(application),
        kind=body.kind,
        filename=body.filename,
        size_bytes=body.size_bytes,
        declared_type=body.content_type,
    )
    response = _answer(upload, None, status.HTTP_201_CREATED)
    response.headers["Location"] = upload_url(upload)
    return response


@router.head("/uploads/{upload_id}", response_class=Response)
async def upload_offset(
    upload_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    upload = await owned_upload(
        session, runtime.settings.attachments_dir, resident.subject, upload_id
    )
    return Response(status_code=200, headers=_headers(upload))


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def upload_state(
    upload_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> JSONResponse:
    upload = await owned_upload(
        session, runtime.settings.attachments_dir, resident.subject, upload_id
    )
    return _answer(upload, await _attachment_of(session, upload), 200)


@router.put(
    "/uploads/{upload_id}",
    response_model=UploadOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/offset+octet-stream": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        }
    },
    responses={201: {"description": "Potongan terakhir: berkas menjadi lampiran"}},
)
async def upload_chunk(
    upload_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    resident: CurrentResident,
) -> JSONResponse:
    root = runtime.settings.attachments_dir
    upload = await owned_upload(session, root, resident.subject, upload_id)
    position = chunk_position(
        request.headers.get("upload-offset"),
        request.headers.get("content-range"),
        upload.total_bytes,
    )
    declared = parse_natural(request.headers.get("content-length"))
    result = await receive_chunk(session, root, upload, position, declared, request.stream())
    if result.attachment is not None:
        return _answer(result.upload, result.attachment, status.HTTP_201_CREATED)
    return _answer(result.upload, None, 200)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
async def drop_upload(
    upload_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    root = runtime.settings.attachments_dir
    upload = await owned_upload(session, root, resident.subject, upload_id)
    await abandon_upload(session, root, upload)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
