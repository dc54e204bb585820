"""A resident's own applications: create, change while they hold it, attach syarat, submit,
resubmit after a revision, cancel, follow, download."""

import logging
import re

import grpc
from fastapi import APIRouter, Request, Response, status
from smartdesa.v1 import signing_pb2

from common.db import utcnow
from common.domain import ApplicationStatus
from common.http import Problem
from services.intake import approvals
from services.intake.api.deps import CurrentResident, RuntimeDep, SessionDep
from services.intake.api.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationUpdate,
    AttachmentOut,
    SubmitOut,
)
from services.intake.applications import (
    EDITABLE_STATUSES,
    InvalidApplication,
    change_application,
    create_application,
    details,
    letter_type_of,
    missing_requirements,
    missing_requirements_message,
    owned_application,
    owned_applications,
    record_submission,
    resubmitted_since_revision,
    revision_round,
)
from services.intake.attachments import (
    MAX_ATTACHMENT_BYTES,
    accept_form,
    attachment_dir,
    require_editable,
)
from services.intake.models import LetterApplication
from services.intake.numbering import assign_number
from services.intake.offered import ensure_offered
from services.intake.runtime import Runtime
from services.intake.uploads import UploadRejected, receive_multipart
from workflows.approval.models import ApprovalInput

log = logging.getLogger(__name__)

router = APIRouter(prefix="/applications", tags=["permohonan"])

NOT_FOUND = "Permohonan tidak ditemukan."
SIGNING_TIMEOUT_SECONDS = 15.0
APPROVAL_UNAVAILABLE = "Layanan persetujuan sedang tidak dapat dihubungi. Silakan coba lagi nanti."


async def _owned_or_404(
    session: SessionDep, resident: CurrentResident, application_id: str
) -> LetterApplication:
    application = await owned_application(session, resident.subject, application_id)
    if application is None:
        raise Problem(404, NOT_FOUND, code="not-found")
    return application


async def _require_documents(session: SessionDep, application: LetterApplication) -> None:
    missing = await missing_requirements(session, application)
    if missing:
        raise Problem(
            422,
            missing_requirements_message(letter_type_of(application), missing),
            code="missing-requirements",
            missing=missing,
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationOut)
async def create(
    body: ApplicationCreate, session: SessionDep, resident: CurrentResident, runtime: RuntimeDep
) -> ApplicationOut:
    await ensure_offered(runtime.directory, body.desa_code, body.letter_type)
    try:
        application = await create_application(
            session, resident.subject, body.desa_code, body.letter_type, body.purpose, body.fields
        )
    except InvalidApplication as exc:
        raise Problem(422, str(exc), code="invalid-application", field=exc.field) from exc
    log.info("application %s created by resident %s", application.id, resident.subject)
    return ApplicationOut.of(await details(session, application))


@router.get("", response_model=list[ApplicationOut])
async def list_own(session: SessionDep, resident: CurrentResident) -> list[ApplicationOut]:
    return [
        ApplicationOut.of(await details(session, a))
        for a in await owned_applications(session, resident.subject)
    ]


@router.get("/{application_id}", response_model=ApplicationOut)
async def get_one(
    application_id: str, session: SessionDep, resident: CurrentResident
) -> ApplicationOut:
    application = await _owned_or_404(session, resident, application_id)
    return ApplicationOut.of(await details(session, application))


@router.patch("/{application_id}", response_model=ApplicationOut)
async def change(
    application_id: str, body: ApplicationUpdate, session: SessionDep, resident: CurrentResident
) -> ApplicationOut:
    """Changes the purpose or form fields (given fields replace those of the same name; an
    empty value clears an optional one) while the resident holds the application: as a draft,
    or after it was returned for revision and before it is resubmitted."""
    application = await _owned_or_404(session, resident, application_id)
    if application.status not in EDITABLE_STATUSES:
        raise Problem(
            409,
            "Permohonan hanya dapat diubah sebelum diajukan atau saat diminta perbaikan.",
            code="locked",
        )
    try:
        changed = await change_application(session, application, body.purpose, body.fields)
    except InvalidApplication as exc:
        raise Problem(422, str(exc), code="invalid-application", field=exc.field) from exc
    if changed is None:  # submitted or resubmitted meanwhile
        raise Problem(
            409,
            "Permohonan hanya dapat diubah sebelum diajukan atau saat diminta perbaikan.",
            code="locked",
        )
    return ApplicationOut.of(await details(session, changed))


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {"type": "string", "description": "Kode syarat, mis. KTP atau KK"},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/{application_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    openapi_extra=_UPLOAD_BODY,
)
async def upload_attachment(
    application_id: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    resident: CurrentResident,
) -> AttachmentOut:
    # Checked before reading the body: a refused upload costs us nothing.
    application = await _owned_or_404(session, resident, application_id)
    require_editable(application)
    await session.commit()  # hold no database transaction while a phone uploads for a while
    root = runtime.settings.attachments_dir
    try:
        form = await receive_multipart(
            request,
            file_field="file",
            temp_dir=attachment_dir(root, application.id),
            max_file_bytes=MAX_ATTACHMENT_BYTES,
        )
    except UploadRejected as exc:
        raise Problem(exc.status, exc.detail, code=exc.code) from exc
    attachment = await accept_form(session, root, application, form)
    return AttachmentOut.of(attachment)


@router.post(
    "/{application_id}/submit", status_code=status.HTTP_202_ACCEPTED, response_model=SubmitOut
)
async def submit(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> SubmitOut:
    application = await _owned_or_404(session, resident, application_id)
    if application.submitted_at is not None or application.status != ApplicationStatus.DRAFT:
        return SubmitOut(id=application.id, status=application.status)  # already under way
    # A draft of a type the desa stopped offering since it was made is not started.
    await ensure_offered(runtime.directory, application.desa_code, application.letter_type)
    await _require_documents(session, application)
    submitted_at = utcnow()  # before the start, so the timeline orders it before any step
    await assign_number(session, application, submitted_at)
    try:
        await approvals.start_approval(
            runtime.temporal,
            runtime.settings.temporal_task_queue,
            ApprovalInput(
                application_id=application.id,
                desa_code=application.desa_code,
                letter_type=application.letter_type,
            ),
        )
    except approvals.ApprovalUnavailable as exc:
        raise Problem(503, APPROVAL_UNAVAILABLE, code="approval-unavailable") from exc
    if await record_submission(session, application.id, submitted_at):
        runtime.relay.wake()
        log.info("application %s submitted", application.id)
    await session.refresh(application)
    return SubmitOut(id=application.id, status=application.status)


@router.post(
    "/{application_id}/resubmit", status_code=status.HTTP_202_ACCEPTED, response_model=SubmitOut
)
async def resubmit(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> SubmitOut:
    application = await _owned_or_404(session, resident, application_id)
    not_waiting = Problem(
        409, "Permohonan ini tidak sedang menunggu perbaikan.", code="not-awaiting-revision"
    )
    if application.status != ApplicationStatus.REVISION_REQUESTED:
        if application.status == ApplicationStatus.IN_REVIEW and await resubmitted_since_revision(
            session, application.id
        ):
            # A repeat of a resubmission that went through: the same answer, nothing new.
            return SubmitOut(id=application.id, status=application.status)
        raise not_waiting
    await _require_documents(session, application)
    try:
        # One resubmission per revision round: a repeated tap reaches the workflow with the
        # same request id and gets the same answer.
        revision = await revision_round(session, application.id)
        state = await approvals.resubmit(
            runtime.temporal, application.id, f"resubmit-{application.id}-{revision}"
        )
    except approvals.NotAwaitingResubmit as exc:
        raise not_waiting from exc
    except approvals.ApprovalUnavailable as exc:
        raise Problem(503, APPROVAL_UNAVAILABLE, code="approval-unavailable") from exc
    # The workflow records the resubmission (timeline and event) through RecordProgress.
    log.info("application %s resubmitted", application.id)
    return SubmitOut(id=application.id, status=state.status)


@router.post("/{application_id}/cancel", response_model=SubmitOut)
async def cancel(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> SubmitOut:
    """Withdraws the application while it waits (in review or returned for revision).
    Cancelling again answers with the cancelled state."""
    application = await _owned_or_404(session, resident, application_id)
    if application.status == ApplicationStatus.CANCELLED:
        return SubmitOut(id=application.id, status=ApplicationStatus.CANCELLED)
    if application.status == ApplicationStatus.DRAFT:
        raise Problem(
            409,
            "Permohonan ini belum diajukan; draf tidak perlu dibatalkan.",
            code="not-submitted",
        )
    if application.status not in (
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.REVISION_REQUESTED,
    ):
        raise Problem(409, approvals.NOT_CANCELLABLE, code="not-cancellable")
    try:
        # One cancellation per application: a retried request reaches the workflow with the
        # same id and gets the same answer.
        state = await approvals.cancel(runtime.temporal, application.id, f"cancel-{application.id}")
    except approvals.NotCancellable as exc:
        raise Problem(409, str(exc), code="not-cancellable") from exc
    except approvals.ApprovalUnavailable as exc:
        raise Problem(503, APPROVAL_UNAVAILABLE, code="approval-unavailable") from exc
    # The workflow records the cancellation (timeline and event) through RecordProgress.
    log.info("application %s cancelled by its resident", application.id)
    return SubmitOut(id=application.id, status=state.status)


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def letter_filename(number: str, application_id: str) -> str:
    """`470/12/32.13.11.2004/VI/2025` -> `surat-470-12-32.13.11.2004-VI-2025.pdf`."""
    safe = _UNSAFE_FILENAME.sub("-", number).strip("-.")
    return f"surat-{safe or application_id}.pdf"


@router.get(
    "/{application_id}/letter.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "Surat bertanda tangan"}},
)
async def letter_pdf(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    application = await _owned_or_404(session, resident, application_id)
    if application.status != ApplicationStatus.ISSUED:
        raise Problem(409, "Surat belum terbit untuk permohonan ini.", code="not-issued")
    missing = Problem(404, "Berkas surat tidak ditemukan.", code="letter-missing")
    return await signed_letter_response(runtime, application, missing, log_missing=True)


async def signed_letter_response(
    runtime: Runtime, application: LetterApplication, missing: Problem, log_missing: bool = False
) -> Response:
    """The signed PDF of an issued application, from signing, as a download that no cache keeps
    (it carries the resident's NIK). `missing` answers when signing has no such letter."""
    try:
        letter = await runtime.signing.GetLetterPdf(
            signing_pb2.GetLetterPdfRequest(application_id=application.id),
            timeout=SIGNING_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            if log_missing:
                log.error("application %s is issued but signing has no letter", application.id)
            raise missing from exc
        log.warning("signing unavailable for application %s: %s", application.id, exc.code())
        raise Problem(
            503,
            "Layanan surat sedang tidak dapat dihubungi. Silakan coba lagi nanti.",
            code="signing-unavailable",
        ) from exc
    filename = letter_filename(letter.number or application.letter_number or "", application.id)
    return Response(
        content=letter.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
