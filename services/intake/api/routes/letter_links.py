"""A signed letter downloaded from a short-lived link in a message (WhatsApp, SMS, email).

The notification service makes the link (common.signed_links: HMAC over the path and an expiry,
with a key both services share); here the signature stands in for the resident's sign-in, for
this one letter and only until it expires. The link carries no personal data.
"""

import logging
from typing import Annotated

import grpc
from fastapi import APIRouter, Query, Response
from smartdesa.v1 import signing_pb2

from common.http import Problem
from common.signed_links import ExpiredLink, InvalidLink, link_key, verify_signed_path
from services.intake.api.deps import RuntimeDep, SessionDep
from services.intake.api.routes.applications import SIGNING_TIMEOUT_SECONDS, letter_filename
from services.intake.models import LetterApplication
from workflows.approval.models import ISSUED

log = logging.getLogger(__name__)

router = APIRouter(prefix="/letter-links", tags=["permohonan"])


@router.get(
    "/{application_id}/letter.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "Surat bertanda tangan"}},
)
async def letter_by_link(
    application_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    expires: Annotated[str | None, Query(max_length=20)] = None,
    sig: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    path = f"/api/v1/letter-links/{application_id}/letter.pdf"
    try:
        verify_signed_path(link_key(runtime.settings), path, expires, sig)
    except ExpiredLink as exc:
        raise Problem(410, str(exc), code="link-expired") from exc
    except InvalidLink as exc:
        raise Problem(403, str(exc), code="link-invalid") from exc
    application = await session.get(LetterApplication, application_id)
    if application is None or application.status != ISSUED:
        # A revoked or withdrawn letter is no longer served, even by a link still in date.
        raise Problem(404, "Surat tidak tersedia.", code="letter-unavailable")
    try:
        letter = await runtime.signing.GetLetterPdf(
            signing_pb2.GetLetterPdfRequest(application_id=application.id),
            timeout=SIGNING_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise Problem(404, "Surat tidak tersedia.", code="letter-unavailable") from exc
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
