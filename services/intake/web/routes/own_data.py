"""Data saya (/data-saya): everything the service holds about the signed-in resident
(UU 27/2022 PDP; data_rights): the population register's record, read-only, their correction
requests with the operator's answer and the form that asks for one ("Data tidak sesuai? Ajukan
perbaikan"), their applications, files (each downloadable), letters, complaints, the messages
sent to them, the staff access log, and the whole as one ZIP. The same use cases as the resident API
(`register_corrections`); a refusal is shown beside the form."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import DomainError
from common.web import CSRF_FIELD, bearer_or_cookie, csrf_refused, csrf_token_for
from common.web.refusals import refusal_of
from common.wilayah import find_desa
from services.intake import data_rights, register_corrections, register_data, retention
from services.intake.api.deps import (
    SESSION_COOKIE,
    CurrentResident,
    RuntimeDep,
    SessionDep,
    current_resident,
)
from services.intake.file_safety import MAX_ATTACHMENT_BYTES
from services.intake.uploads import UploadRejected, receive_multipart
from services.intake.web.labels import status_label
from services.intake.web.pages import ResidentPage, ResidentPageDep, render

router = APIRouter(include_in_schema=False)

PATH = "/data-saya"
CORRECTION_PATH = PATH + "/perbaikan"
FILE_PATH = PATH + "/berkas"
ARCHIVE_PATH = PATH + "/arsip.zip"
NOTICES = {
    "perbaikan": "Permintaan perbaikan sudah dikirim ke operator desa. Hasilnya tampil di "
    "halaman ini.",
}


def correction_link(field: str = "") -> str:
    return f"{CORRECTION_PATH}?isian={field}" if field else CORRECTION_PATH


@router.get(PATH)
async def own_data(
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
    pesan: str | None = None,
) -> HTMLResponse:
    """Everything held about the resident (data_rights.own_data): a part another service
    could not give now is named, the rest shown."""
    data = await data_rights.own_data(runtime, session, page.resident.subject)
    mine = data.register
    desa = find_desa(mine.desa_code) if mine else None
    notice = NOTICES.get(pesan or "")
    return render(
        request,
        "data-saya.html",
        {
            "title": "Data saya",
            "nav_active": "data",
            "mine": mine,
            "data": data,
            "desa_name": desa.name if desa else "",
            "corrections": data.corrections,
            "not_registered": register_corrections.NOT_REGISTERED,
            "retention": retention.describe(runtime.settings),
            "status_label": status_label,
            "flash": notice,
            "flash_kind": "ok",
        },
        page=page,
    )


@router.get(FILE_PATH + "/{file_id}")
async def own_file(
    file_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    runtime: RuntimeDep,
    resident: CurrentResident,
) -> Response:
    """One of the resident's own files, as a download; another resident's is a 404."""
    found = await data_rights.own_attachment(session, resident.subject, file_id)
    content = await data_rights.file_bytes(runtime, found)
    extension = data_rights.extension_of(found.content_type)
    return Response(
        content,
        media_type=found.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{found.kind}-{found.id[:8]}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",  # identity documents
        },
    )


@router.get(ARCHIVE_PATH)
async def own_archive(
    session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    """Everything, as one ZIP built within the request (data_rights.archive)."""
    content = await data_rights.archive(runtime, session, resident.subject)
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="data-saya-smart-desa.zip"',
            "Cache-Control": "private, no-store",
        },
    )


async def _form(
    request: Request,
    page: ResidentPage,
    *,
    values: dict[str, str],
    error_field: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "data-saya-perbaikan.html",
        {
            "title": "Ajukan perbaikan data",
            "nav_active": "data",
            "options": [("", "Pilih data yang tidak sesuai")]
            + list(register_data.FIELD_LABELS.items()),
            "values": values,
            "errors": {error_field: error} if error_field and error else {},
            "flash": error if error and not error_field else None,
            "flash_kind": "galat",
            "max_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024),
        },
        page=page,
        status_code=status_code,
    )


@router.get(CORRECTION_PATH)
async def correction_form(request: Request, page: ResidentPageDep, isian: str = "") -> HTMLResponse:
    field = isian if isian in register_data.FIELD_LABELS else ""
    return await _form(request, page, values={"field": field})


@router.post(CORRECTION_PATH)
async def ask_correction(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The form is multipart (its photo): like the syarat upload without script, this route
    streams the body itself, capped at the size limit, and checks the form's CSRF field
    before anything is sent on."""
    token, from_cookie = bearer_or_cookie(request, SESSION_COOKIE)
    resident = await current_resident(runtime, session, token)
    if from_cookie and not request.headers.get("content-type", "").startswith(
        "multipart/form-data"
    ):
        raise csrf_refused()
    await session.commit()
    page = ResidentPage(
        resident=resident,
        csrf=csrf_token_for(token, runtime.token_issuer.csrf_secret)
        if token and from_cookie
        else "",
    )
    try:
        form = await receive_multipart(
            request,
            file_field="file",
            temp_dir=register_corrections.correction_temp_dir(runtime.settings.intake_dir),
            max_file_bytes=MAX_ATTACHMENT_BYTES,
        )
    except UploadRejected as exc:
        return await _form(
            request, page, values={}, error_field="file", error=exc.detail, status_code=422
        )
    if from_cookie and not hmac.compare_digest(form.fields.get(CSRF_FIELD, ""), page.csrf):
        form.discard()
        raise csrf_refused()
    values = {
        name: form.fields.get(name, "").strip()[:500]
        for name in ("field", "proposed_value", "note")
    }
    document = await register_corrections.document_of(form)
    try:
        await register_corrections.request_correction(
            runtime,
            session,
            resident.subject,
            values["field"],
            values["proposed_value"],
            values["note"],
            document,
        )
    except DomainError as exc:
        refused = refusal_of(exc)
        if refused.status not in (404, 409, 422):
            raise
        return await _form(
            request,
            page,
            values=values,
            error_field=refused.field,
            error=refused.message,
            status_code=refused.status,
        )
    return RedirectResponse(f"{PATH}?pesan=perbaikan", status_code=303)
