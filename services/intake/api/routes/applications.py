"""A resident's own applications: create, change while they hold it, attach syarat, submit,
resubmit after a revision, cancel, follow, download. The actions are `resident_actions`, which
the portal's pages call too; their refusals answer as problem+json."""

import logging

from fastapi import APIRouter, Request, Response, status

from common.http import Problem
from services.intake import resident_actions
from services.intake.api.deps import CurrentResident, RuntimeDep, SessionDep
from services.intake.api.responses import letter_response
from services.intake.api.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationUpdate,
    AttachmentOut,
    SubmitOut,
)
from services.intake.applications import details, owned_applications
from services.intake.attachments import accept_form, attachment_dir, require_editable
from services.intake.file_safety import MAX_ATTACHMENT_BYTES
from services.intake.uploads import UploadRejected, receive_multipart

log = logging.getLogger(__name__)

router = APIRouter(prefix="/applications", tags=["permohonan"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationOut)
async def create(
    body: ApplicationCreate, session: SessionDep, resident: CurrentResident, runtime: RuntimeDep
) -> ApplicationOut:
    application = await resident_actions.create(
        runtime,
        session,
        resident.subject,
        body.desa_code,
        body.letter_type,
        body.purpose,
        body.fields,
        body.subject_id,
    )
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
    application = await resident_actions.owned(session, resident.subject, application_id)
    return ApplicationOut.of(await details(session, application))


@router.patch("/{application_id}", response_model=ApplicationOut)
async def change(
    application_id: str,
    body: ApplicationUpdate,
    session: SessionDep,
    resident: CurrentResident,
    runtime: RuntimeDep,
) -> ApplicationOut:
    """Changes the purpose or form fields (given fields replace those of the same name; an
    empty value clears an optional one) while the resident holds the application: as a draft,
    or after it was returned for revision and before it is resubmitted."""
    changed = await resident_actions.change(
        runtime, session, resident.subject, application_id, body.purpose, body.fields
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
    application = await resident_actions.owned(session, resident.subject, application_id)
    require_editable(application)
    letter_type = await runtime.catalogue.of(application)  # its syarat, before the body is read
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
    attachment = await accept_form(session, root, application, letter_type, form)
    return AttachmentOut.of(attachment)


@router.post(
    "/{application_id}/submit", status_code=status.HTTP_202_ACCEPTED, response_model=SubmitOut
)
async def submit(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> SubmitOut:
    application = await resident_actions.submit(runtime, session, resident.subject, application_id)
    return SubmitOut(id=application.id, status=application.status)


@router.post(
    "/{application_id}/resubmit", status_code=status.HTTP_202_ACCEPTED, response_model=SubmitOut
)
async def resubmit(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> SubmitOut:
    state = await resident_actions.resubmit(runtime, session, resident.subject, application_id)
    return SubmitOut(id=application_id, status=state)


@router.post("/{application_id}/cancel", response_model=SubmitOut)
async def cancel(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> SubmitOut:
    """Withdraws the application while it waits (in review or returned for revision).
    Cancelling again answers with the cancelled state."""
    state = await resident_actions.cancel(runtime, session, resident.subject, application_id)
    return SubmitOut(id=application_id, status=state)


@router.get(
    "/{application_id}/letter.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "Surat bertanda tangan"}},
)
async def letter_pdf(
    application_id: str, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    letter = await resident_actions.own_letter(runtime, session, resident.subject, application_id)
    return letter_response(letter)
