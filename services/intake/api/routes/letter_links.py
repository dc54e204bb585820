"""A signed letter downloaded from a short-lived link in a message (WhatsApp, SMS, email).

The notification service makes the link (common.signed_links: HMAC over the path and an expiry,
with a key both services share); here the signature stands in for the resident's sign-in, for
this one letter and only until it expires. The link carries no personal data.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response

from common.domain import ApplicationStatus
from common.domain.errors import NotFound
from common.http import Problem
from common.signed_links import ExpiredLink, InvalidLink, link_key, verify_signed_path
from services.intake.api.deps import RuntimeDep, SessionDep
from services.intake.api.responses import letter_response
from services.intake.models import LetterApplication
from services.intake.resident_actions import signed_letter

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
    unavailable = NotFound("letter-unavailable", "Surat tidak tersedia.")
    application = await session.get(LetterApplication, application_id)
    if application is None or application.status != ApplicationStatus.ISSUED:
        # A revoked or withdrawn letter is no longer served, even by a link still in date.
        raise unavailable
    return letter_response(await signed_letter(runtime, application, unavailable))
