"""The approval workflow's reports (RecordProgress): applied once per (application, sequence),
with the application's new state, a timeline entry and the public event in one transaction."""

import logging
import re
from datetime import UTC, datetime

from smartdesa.v1 import intake_pb2
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain import ApplicationStatus
from common.domain.events import APPLICATION_CANCELLED
from common.events import CloudEvent, deterministic_event_id, event_type, public_subject
from common.outbox import stage_event
from services.intake.applications import EVENT_SOURCE, application_event_data
from services.intake.models import LetterApplication, TimelineEntry

log = logging.getLogger(__name__)

STATUSES = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.REVISION_REQUESTED,
    ApplicationStatus.SIGNING_BLOCKED,
    ApplicationStatus.AWAITING_SIGNATURE,
    ApplicationStatus.REJECTED,
    ApplicationStatus.CANCELLED,
    ApplicationStatus.EXPIRED,
    ApplicationStatus.ISSUED,
)
DECIDED_AS = ("", "plt", "supervisor")
# `<aggregate>.<event>`: it becomes the last tokens of a NATS subject and part of the ce-type.
_EVENT_NAME = re.compile(r"[a-z][a-z_]*\.[a-z][a-z_]*")


class InvalidProgress(ValueError):
    pass


class UnknownApplication(LookupError):
    pass


def _check(request: intake_pb2.RecordProgressRequest) -> None:
    if not request.application_id:
        raise InvalidProgress("application_id is required")
    if request.sequence < 0:
        raise InvalidProgress("sequence must not be negative")
    if not _EVENT_NAME.fullmatch(request.event):
        raise InvalidProgress(
            f"event must look like 'application.step_assigned', got {request.event!r}"
        )
    if request.status not in STATUSES:
        raise InvalidProgress(f"unknown status {request.status!r}")
    if request.decided_as not in DECIDED_AS:
        raise InvalidProgress(f"decided_as must be one of {DECIDED_AS}, got {request.decided_as!r}")
    if not 0 <= request.escalation_level <= 2:
        raise InvalidProgress("escalation_level must be 0, 1 or 2")


def _rfc3339(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""


async def record_progress(
    session: AsyncSession, request: intake_pb2.RecordProgressRequest
) -> CloudEvent | None:
    """The event recorded now; None if this sequence was recorded before (nothing changes)."""
    _check(request)
    application = await session.get(LetterApplication, request.application_id)
    if application is None:
        raise UnknownApplication(request.application_id)
    # A sequence recorded before is not looked for: its timeline entry's key, unique per
    # (application, sequence), fails the commit below, which then changes nothing. Repeats
    # are rare (a worker's retry), and a look-up on every record cost one statement of six.

    at = request.occurred_at.ToDatetime(tzinfo=UTC) if request.HasField("occurred_at") else utcnow()
    step_index: int | None = None
    step_role: str | None = None
    waiting_before = (
        application.status,
        application.current_step_index,
        application.current_step_role,
    )
    if request.HasField("current_step"):
        step_index, step_role = request.current_step.index, request.current_step.role
        if (application.current_step_index, application.current_step_role) != (
            step_index,
            step_role,
        ) or application.current_step_assigned_at is None:
            application.current_step_assigned_at = at
    application.current_step_index = step_index
    application.current_step_role = step_role
    if step_index is None:
        application.current_step_assigned_at = None
    deadline = request.deadline.ToDatetime(tzinfo=UTC) if request.HasField("deadline") else None
    if deadline is not None:
        application.current_deadline = deadline
    elif waiting_before != (request.status, step_index, step_role):
        application.current_deadline = None
    # else: a reminder without a new deadline; the one known still holds.
    if request.status != application.status or request.reason:
        # The reason belongs to the status it came with (revision, rejection, expiry, signing
        # blocked). Signing's reason is for staff: the resident's view shows a plain text
        # instead (api/schemas.py).
        application.status_reason = request.reason
    application.status = request.status
    letter_extra: dict[str, str] = {}
    if request.HasField("letter") and request.letter.number:
        application.letter_id = request.letter.letter_id
        application.letter_number = request.letter.number
        application.letter_verification_url = request.letter.verification_url
        letter_extra = {
            "letter_number": request.letter.number,
            "letter_id": request.letter.letter_id,
        }
    session.add(application)
    session.add(
        TimelineEntry(
            application_id=application.id,
            sequence=request.sequence,
            at=at,
            event=request.event,
            status=request.status,
            step_index=step_index,
            step_role=step_role,
            decision=request.decision,
            actor_role=request.actor_role,
            reason=request.reason,
            deadline=deadline,
            escalated_to_role=request.escalated_to_role,
            escalation_level=request.escalation_level,
            decided_as=request.decided_as,
        )
    )
    # The role that acted (decisions) or that must act now (step_assigned). No reason text:
    # it is meant for the resident, not for every subscriber.
    event_step_index = step_index or 0
    event_step_role = request.actor_role or step_role or ""
    if request.event == APPLICATION_CANCELLED and not event_step_role and waiting_before[2]:
        # The workflow has closed the step by the time it reports the cancellation; the step
        # that was open tells subscribers whose task went away (the notification service tells
        # its holders).
        event_step_index, event_step_role = waiting_before[1] or 0, waiting_before[2]
    # The event's id is this (application, sequence)'s: no look-up for an earlier copy. A copy
    # (recorded before, or concurrently) fails the commit on the keys and returns None.
    event = CloudEvent(
        id=deterministic_event_id(application.id, "progress", str(request.sequence)),
        source=EVENT_SOURCE,
        type=event_type(request.event),
        subject=application.id,
        time=at,
        data=application_event_data(
            application,
            status=request.status,
            step_index=event_step_index,
            step_role=event_step_role,
            decision=request.decision,
            deadline=_rfc3339(deadline),
            escalated_to_role=request.escalated_to_role,
            escalation_level=request.escalation_level,
            **letter_extra,
        ),
    )
    await stage_event(
        session, public_subject(application.desa_code, request.event), event, known_new=True
    )
    try:
        await session.commit()
    except IntegrityError:
        # The same sequence was recorded before or concurrently; that one stands.
        await session.rollback()
        return None
    log.info(
        "application %s: %s (sequence %d) -> %s",
        application.id,
        request.event,
        request.sequence,
        request.status,
    )
    return event
