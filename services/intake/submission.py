"""Submitting an application: the one path of the portal's `Ajukan`, the API's
POST /applications/{id}/submit and an application filed at the desa office (walk-in).

Every syarat must be attached; the application gets its number (numbering.py); then the
approval workflow is started (or found already running)
and the submission recorded once, with its timeline entry and public event. Whether the desa
offers the letter type is the caller's check: the resident's path asks verification; the
walk-in form offers only the desa's types.
"""

from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain import ApplicationStatus
from common.domain.errors import Unavailable
from common.temporal_client import TemporalConnection
from services.intake import approvals
from services.intake.applications import record_submission, require_documents
from services.intake.letter_types import LetterType
from services.intake.models import LetterApplication
from services.intake.numbering import assign_number
from workflows.approval.models import ApprovalInput

APPROVAL_UNAVAILABLE = "Layanan persetujuan sedang tidak dapat dihubungi. Silakan coba lagi nanti."


class ApprovalUnavailable(Unavailable):
    """The workflow could not be reached: nothing was started, the draft is as it was."""

    def __init__(self) -> None:
        super().__init__("approval-unavailable", APPROVAL_UNAVAILABLE)


def under_way(application: LetterApplication) -> bool:
    """Submitted already (by this path or another): submitting again changes nothing."""
    return application.submitted_at is not None or application.status != ApplicationStatus.DRAFT


async def submit(
    session: AsyncSession,
    temporal: TemporalConnection,
    task_queue: str,
    application: LetterApplication,
    letter_type: LetterType,
) -> bool:
    """Submits the draft; True if this call recorded the submission (False: it was under way).
    Raises Invalid (missing-requirements) or ApprovalUnavailable, with nothing changed."""
    if under_way(application):
        return False
    await require_documents(session, application, letter_type)
    submitted_at = utcnow()  # before the start, so the timeline orders it before any step
    # Before the start, so every event and message of the workflow can name it.
    await assign_number(session, application, submitted_at)
    try:
        await approvals.start_approval(
            temporal,
            task_queue,
            ApprovalInput(
                application_id=application.id,
                desa_code=application.desa_code,
                letter_type=application.letter_type,
                # Its default route is the version's it keeps, not the current one's.
                letter_type_version=application.letter_type_version,
            ),
        )
    except approvals.ApprovalUnavailable as exc:
        raise ApprovalUnavailable() from exc
    recorded = await record_submission(session, application.id, submitted_at)
    await session.refresh(application)
    return recorded
