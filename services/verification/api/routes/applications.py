"""An application as the letter it will become: the unsigned preview, rendered by signing from
the application intake holds, for the staff of the application's desa whose role has (or had)
a step on it."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from typing import Annotated

import grpc
from fastapi import APIRouter, Path
from fastapi.responses import Response
from smartdesa.v1 import intake_pb2, signing_pb2
from sqlmodel.ext.asyncio.session import AsyncSession

from common.http import Problem
from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.intake_reader import read_application
from services.verification.routes import route_for
from services.verification.task_inbox import task_seen_by

log = logging.getLogger(__name__)

router = APIRouter(prefix="/applications", tags=["permohonan"])

ApplicationId = Annotated[str, Path(min_length=1, max_length=64)]

_NOT_FOUND = "Permohonan tidak ditemukan."


async def _preview_request(
    session: AsyncSession, app: intake_pb2.Application
) -> signing_pb2.IssueLetterRequest:
    found = await route_for(session, app.desa_code, app.letter_type)
    if found is None:
        raise Problem(
            409,
            "Jenis surat ini belum memiliki alur persetujuan di desa ini.",
            code="no-route",
        )
    route, _own = found
    return signing_pb2.IssueLetterRequest(
        application_id=app.id,
        desa_code=app.desa_code,
        letter_type=app.letter_type,
        purpose=app.purpose,
        fields=dict(app.fields),
        nik=app.nik,
        # The signer is known only at the last approval; the route says who it will be.
        signer_role=route.signer_role,
        on_behalf_of_role=route.on_behalf_of_role,
    )


@router.get(
    "/{application_id}/preview",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def preview_letter(
    application_id: ApplicationId,
    staff: DesaStaff,
    roles: HeldRoles,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    """The letter exactly as it will be issued, unsigned, without its number and watermarked
    "PRATINJAU — BUKAN SURAT SAH". Takes no number and stores nothing."""
    # It prints the resident's NIK and particulars: only for those the application reached (a
    # step of their role, own or Plt, or escalated to them), as the task page; not for a draft.
    if await task_seen_by(session, application_id, staff.desa_code, roles) is None:
        raise Problem(404, _NOT_FOUND, code="not-found")
    app = await read_application(
        runtime.intake, application_id, runtime.settings.intake_timeout_seconds
    )
    if app.desa_code != staff.desa_code:  # another desa's application does not exist for them
        raise Problem(404, _NOT_FOUND, code="not-found")
    try:
        pdf: signing_pb2.LetterPdf = await runtime.signing.PreviewLetter(
            await _preview_request(session, app), timeout=runtime.settings.signing_timeout_seconds
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            # Signing's reason is written for staff (Indonesian): what is missing to make it.
            raise Problem(
                409, exc.details() or "Surat belum dapat dibuat.", code="preview-refused"
            ) from exc
        log.warning("preview for application %s failed: %s", application_id, exc.code())
        raise Problem(
            503,
            "Pratinjau surat sedang tidak dapat dibuat. Silakan coba lagi.",
            code="signing-unavailable",
        ) from exc
    return Response(
        content=pdf.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'inline; filename="pratinjau-surat.pdf"',
            "X-Content-Type-Options": "nosniff",
            # Personal data: never kept by shared caches.
            "Cache-Control": "private, no-store",
        },
    )
