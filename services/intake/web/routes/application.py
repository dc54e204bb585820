"""One application as its resident sees it: `/permohonan/{id}`.

The letter type, the fields, each syarat with its upload (resumable through static/unggah.js,
or a plain multipart form without script), submitting (`Ajukan`), the status timeline,
cancelling, fixing after a revision and resubmitting, and the signed letter once issued.
Every action is the resident API's own (`resident_actions`), so the page refuses exactly what
the API refuses, with the same message; another resident's application is the API's 404.
"""

import asyncio
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import Principal
from common.db import utcnow
from common.domain import ApplicationStatus, role_label
from common.domain import resident_wording as say
from common.domain.errors import DomainError, NotFound
from common.signed_links import link_key
from common.web import CSRF_FIELD, bearer_or_cookie, csrf_refused, csrf_token_for
from common.web.refusals import refusal_of
from services.intake import register_data, resident_actions, survey
from services.intake.api.deps import (
    SESSION_COOKIE,
    CurrentResident,
    RuntimeDep,
    SessionDep,
    current_resident,
    get_runtime,
)
from services.intake.api.responses import letter_response
from services.intake.applications import (
    EDITABLE_STATUSES,
    details,
    register_field_names,
)
from services.intake.attachments import (
    accept_form,
    attachment_dir,
    read_attachment,
    require_editable,
)
from services.intake.file_safety import MAX_ATTACHMENT_BYTES
from services.intake.kept_documents import kept_documents, use_kept
from services.intake.letter_types import FormField, Requirement
from services.intake.models import Attachment, LetterApplication
from services.intake.runtime import Runtime
from services.intake.uploads import UploadRejected, receive_multipart
from services.intake.web.labels import status_badge, status_label
from services.intake.web.pages import ResidentPage, ResidentPageDep, render
from services.intake.web.thumbnails import thumbnail_jpeg
from services.intake.web.timeline import content_label, size_label, timeline_item, where_now

router = APIRouter(tags=["halaman warga"], include_in_schema=False)

# Starlette's uuid convertor: /permohonan/baru and the like never reach these routes.
PAGE = "/permohonan/{application_id:uuid}"

# What a page says after an action went through (?pesan=...): fixed texts, never user input.
NOTICES = {
    "diajukan": "Permohonan sudah diajukan. Kami kabari lewat WhatsApp/SMS di setiap tahap.",
    "diubah": "Perubahan isian sudah disimpan.",
    "berkas": "Berkas sudah diunggah.",
    "berkas-tersimpan": "Berkas tersimpan sudah dipakai untuk permohonan ini.",
    "diajukan-ulang": "Perbaikan sudah dikirim. Permohonan diperiksa kembali.",
    "dibatalkan": "Permohonan sudah dibatalkan.",
}
FIELD_PREFIX = "fields."


def page_url(application_id: str, notice: str | None = None) -> str:
    url = f"/permohonan/{application_id}"
    return f"{url}?pesan={notice}" if notice else url


@dataclass(frozen=True)
class SyaratView:
    requirement: Requirement
    attachment: Attachment | None
    application_id: str

    @property
    def thumbnail_url(self) -> str | None:
        """The small picture of a sent photo; its version in the URL, so a replaced photo is
        fetched anew while an unchanged one comes from the phone's cache."""
        a = self.attachment
        if a is None or not a.content_type.startswith("image/"):
            return None
        return f"{page_url(self.application_id)}/berkas/{a.kind}/gambar-kecil?v={a.sha256[:12]}"

    @property
    def sent_name(self) -> str | None:
        """The name a sent PDF had on the resident's phone (a photo shows itself instead);
        None for files stored before names were kept."""
        a = self.attachment
        if a is None or a.content_type.startswith("image/"):
            return None
        return a.filename or None

    @property
    def required(self) -> bool:
        """Asked for at submission; an optional one may be left out."""
        return self.requirement.kind == "wajib"

    @property
    def state(self) -> str:
        a = self.attachment
        if a is None:
            return "Belum diunggah" if self.required else "Belum diunggah (tidak wajib)"
        return f"Sudah diunggah: {content_label(a.content_type)}, {size_label(a.size_bytes)}"


@dataclass(frozen=True)
class FieldView:
    field: FormField
    value: str
    error: str | None

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.field.name

    @property
    def options(self) -> list[tuple[str, str]]:
        return [("", "— pilih —"), *self.field.options]

    @property
    def input_type(self) -> str:
        return "time" if self.field.kind == "time" else "text"

    @property
    def read_label(self) -> str:
        """The label alone: hints sit beside the field, never beside the value."""
        return self.field.label

    @property
    def read_value(self) -> str:
        """The value as people write it: "15 Agustus 1990", "Perempuan"."""
        return self.field.shown(self.value)


async def _owned(
    session: SessionDep, resident: Principal, application_id: str
) -> LetterApplication:
    return await resident_actions.owned(session, resident.subject, application_id)


async def _show(
    request: Request,
    page: ResidentPage,
    session: SessionDep,
    application: LetterApplication,
    *,
    flash: str | None = None,
    flash_kind: str = "ok",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    upload_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    seen = await details(session, application)
    runtime = get_runtime(request)
    editable = application.status in EDITABLE_STATUSES
    # The KTP and KK kept from an earlier application, offered instead of a new upload.
    kept = (
        {
            k.document.kind: k
            for k in await kept_documents(
                session,
                runtime.settings.attachments_dir,
                application.resident_id,
                runtime.settings.intake_kept_document_days,
            )
        }
        if editable
        else {}
    )
    letter_type = await runtime.catalogue.of(application)  # the version it started with
    held = register_field_names(application)
    attached = {a.kind: a for a in seen.attachments}
    fields = {**seen.fields, **(values or {})}
    purpose = (values or {}).get("purpose", application.purpose)
    context: dict[str, Any] = {
        "title": f"{letter_type.name}",
        "nav_active": "permohonan",
        "application": application,
        "base": page_url(application.id),
        "letter_type": letter_type,
        "status_label": status_label(application.status),
        "status_badge": status_badge(application.status),
        "current_role": role_label(application.current_step_role)
        if application.current_step_role
        else "",
        "purpose": purpose,
        "purpose_error": errors.get("purpose"),
        "fields": [
            FieldView(f, fields.get(f.name, ""), errors.get(FIELD_PREFIX + f.name))
            for f in letter_type.fields
        ],
        # The register's values: shown read-only, with the way to ask for a correction.
        "held": held,
        "correctable": bool(held & set(register_data.REGISTER_ATTRIBUTES)),
        "kept": kept,
        # Uploaded here: the required ones and the optional ones, in the catalogue's order.
        "syarat": [
            SyaratView(r, attached.get(r.code), application.id) for r in letter_type.uploadable
        ],
        # Shown, not uploaded: the originals to bring to the office.
        "other_syarat": letter_type.to_bring,
        "upload_errors": upload_errors or {},
        "timeline": [timeline_item(t, application) for t in reversed(seen.timeline)],
        "now": where_now(application, seen.timeline),
        "editable": editable,
        "can_submit": application.status == ApplicationStatus.DRAFT,
        "can_resubmit": application.status == ApplicationStatus.REVISION_REQUESTED,
        "can_cancel": application.status
        in (ApplicationStatus.IN_REVIEW, ApplicationStatus.REVISION_REQUESTED),
        "issued": application.status == ApplicationStatus.ISSUED,
        # The satisfaction survey the message also offers, once the application has ended.
        "survey_link": await survey.invitation(
            session, link_key(runtime.settings), application, utcnow()
        ),
        "survey_title": say.SURVEY_TITLE,
        "survey_ask": say.SURVEY_ASK,
        "max_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024),
        "flash": flash,
        "flash_kind": flash_kind,
    }
    return render(request, "permohonan.html", context, page=page, status_code=status_code)


@router.get(PAGE)
async def application_page(
    application_id: uuid.UUID,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    pesan: str | None = None,
) -> Response:
    application = await _owned(session, page.resident, str(application_id))
    return await _show(request, page, session, application, flash=NOTICES.get(pesan or ""))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()  # parsed (and cached) by the CSRF check already
    return {k: v for k, v in form.items() if isinstance(v, str)}


# What the API does to a resident's application on a button of its page (runtime, session,
# resident id, application id), and the notice shown after it succeeded.
ApplicationAction = Callable[[Runtime, AsyncSession, str, str], Awaitable[Any]]


async def _act(
    request: Request,
    page: ResidentPage,
    session: AsyncSession,
    runtime: Runtime,
    application_id: uuid.UUID,
    action: ApplicationAction,
    notice: str,
) -> Response:
    """Runs the API's own action on the resident's own application; a refusal (a missing
    document, a state that moved on) is shown on the application's page."""
    application = await _owned(session, page.resident, str(application_id))
    try:
        await action(runtime, session, page.resident.subject, application.id)
    except DomainError as exc:
        refused = refusal_of(exc)
        await session.refresh(application)
        return await _show(
            request,
            page,
            session,
            application,
            flash=refused.message,
            flash_kind="galat",
            status_code=refused.status,
        )
    return RedirectResponse(page_url(application.id, notice), status_code=303)


@router.post(PAGE + "/ajukan")
async def submit(
    application_id: uuid.UUID,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """`Ajukan`: the API's submit."""
    return await _act(
        request, page, session, runtime, application_id, resident_actions.submit, "diajukan"
    )


@router.post(PAGE + "/ubah")
async def change(
    application_id: uuid.UUID,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """The fields, changed as PATCH changes them (a draft, or after a revision request)."""
    application = await _owned(session, page.resident, str(application_id))
    form = await _form(request)
    values = {
        k.removeprefix(FIELD_PREFIX): v.strip()
        for k, v in form.items()
        if k.startswith(FIELD_PREFIX)
    }
    purpose = form.get("purpose")
    try:
        # No API body limits here on purpose: the rules answer each value with its Indonesian
        # message next to its field.
        await resident_actions.change(
            runtime, session, page.resident.subject, application.id, purpose, values
        )
    except DomainError as exc:
        refused = refusal_of(exc)
        await session.refresh(application)
        shown = {**values, **({"purpose": purpose} if purpose is not None else {})}
        if refused.field:
            return await _show(
                request,
                page,
                session,
                application,
                errors={refused.field: refused.message},
                values=shown,
                flash="Periksa kembali isian yang ditandai.",
                flash_kind="galat",
                status_code=refused.status,
            )
        return await _show(
            request,
            page,
            session,
            application,
            flash=refused.message,
            flash_kind="galat",
            values=shown,
            status_code=refused.status,
        )
    return RedirectResponse(page_url(application.id, "diubah"), status_code=303)


@router.post(PAGE + "/ajukan-ulang")
async def resubmit(
    application_id: uuid.UUID,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """After a revision request: the API's resubmit."""
    return await _act(
        request, page, session, runtime, application_id, resident_actions.resubmit, "diajukan-ulang"
    )


@router.get(PAGE + "/batal")
async def cancel_confirmation(
    application_id: uuid.UUID, request: Request, page: ResidentPageDep, session: SessionDep
) -> Response:
    application = await _owned(session, page.resident, str(application_id))
    context = {
        "title": "Batalkan permohonan",
        "nav_active": "permohonan",
        "application": application,
        "letter_name": application.letter_type_name or application.letter_type,
    }
    return render(request, "permohonan_batal.html", context, page=page)


@router.post(PAGE + "/batal")
async def cancel(
    application_id: uuid.UUID,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """After the confirmation page: the API's cancel."""
    return await _act(
        request, page, session, runtime, application_id, resident_actions.cancel, "dibatalkan"
    )


@router.post(PAGE + "/berkas")
async def upload_without_script(
    application_id: uuid.UUID, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The plain multipart form (no JavaScript): the same checks as the API's one-shot upload.

    The API's resident dependency would read the CSRF field by parsing (and spooling) the whole
    body first, so this route streams the body itself, capped at the size limit, and checks
    the form's CSRF field before anything is stored."""
    token, from_cookie = bearer_or_cookie(request, SESSION_COOKIE)
    resident = await current_resident(runtime, session, token)
    if from_cookie and not request.headers.get("content-type", "").startswith(
        "multipart/form-data"
    ):
        raise csrf_refused()  # no multipart body, so no CSRF field: refused before any lookup
    application = await _owned(session, resident, str(application_id))
    require_editable(application)
    letter_type = await runtime.catalogue.of(application)  # its syarat, before the body is read
    await session.commit()
    root = runtime.settings.attachments_dir
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
            temp_dir=attachment_dir(root, application.id),
            max_file_bytes=MAX_ATTACHMENT_BYTES,
        )
    except UploadRejected as exc:
        kind = request.query_params.get("kind", "")
        return await _show(
            request,
            page,
            session,
            application,
            upload_errors={kind: exc.detail},
            flash=exc.detail,
            flash_kind="galat",
            status_code=exc.status,
        )
    if from_cookie and not hmac.compare_digest(form.fields.get(CSRF_FIELD, ""), page.csrf):
        form.discard()
        raise csrf_refused()
    kind = form.fields.get("kind", "").strip().upper()
    try:
        await accept_form(session, root, application, letter_type, form)
    except DomainError as exc:
        return await _document_refused(request, page, session, application, kind, exc)
    return RedirectResponse(page_url(application.id, "berkas"), status_code=303)


async def _document_refused(
    request: Request,
    page: ResidentPage,
    session: SessionDep,
    application: LetterApplication,
    kind: str,
    exc: DomainError,
) -> Response:
    """The page again, the refusal beside the syarat it was for (an upload or a kept document)."""
    refused = refusal_of(exc)
    await session.refresh(application)
    return await _show(
        request,
        page,
        session,
        application,
        upload_errors={kind: refused.message},
        flash=refused.message,
        flash_kind="galat",
        status_code=refused.status,
    )


@router.post(PAGE + "/berkas-tersimpan")
async def use_kept_document(
    application_id: uuid.UUID,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """ "Pakai KTP yang tersimpan": the API's POST .../attachments/kept."""
    application = await _owned(session, page.resident, str(application_id))
    kind = (await _form(request)).get("kind", "").strip().upper()
    try:
        await use_kept(
            session,
            runtime.settings.attachments_dir,
            application,
            await runtime.catalogue.of(application),
            kind,
            runtime.settings.intake_kept_document_days,
        )
    except DomainError as exc:
        return await _document_refused(request, page, session, application, kind, exc)
    return RedirectResponse(page_url(application.id, "berkas-tersimpan"), status_code=303)


@router.get(PAGE + "/berkas/{kind}/gambar-kecil")
async def attachment_thumbnail(
    application_id: uuid.UUID,
    kind: str,
    session: SessionDep,
    runtime: RuntimeDep,
    resident: CurrentResident,
) -> Response:
    """A small JPEG of the photo sent for one syarat of the resident's own application (the
    upload control shows what was sent). Another resident's application is the API's 404."""
    application = await _owned(session, resident, str(application_id))
    seen = await details(session, application)
    attachment = next((a for a in seen.attachments if a.kind == kind), None)
    if attachment is None or not attachment.content_type.startswith("image/"):
        raise NotFound("not-found", "Berkas tidak ditemukan.")
    content = await read_attachment(runtime.settings.attachments_dir, attachment)
    small = await asyncio.to_thread(thumbnail_jpeg, content)
    return Response(
        small, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=604800"}
    )


@router.get(PAGE + "/surat.pdf")
async def letter_for_printing(
    application_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    """The signed letter shown in the browser (for `Cetak`); `Unduh surat` uses the API's
    download."""
    letter = await resident_actions.own_letter(
        runtime, session, resident.subject, str(application_id)
    )
    return letter_response(letter, inline=True)
