"""What each event produces: who hears about it, on which channel, with which template.

The rules only decide; `event_handler` stores what they decide and `dispatcher` sends it.
Events carry no personal data, so contacts come from intake and role holders from verification.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from smartdesa.v1 import events_pb2

from common.event_names import (
    APPLICATION_REJECTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
    OTP_REQUESTED,
)
from common.events import CloudEvent
from common.messaging import PermanentEventError
from services.notification import templates as t
from services.notification.channels import WHATSAPP
from services.notification.recipients import RecipientLookup

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

HANDLED_EVENTS = (
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_REJECTED,
    LETTER_ISSUED,
    OTP_REQUESTED,
)


def staff_recipient(username: str) -> str:
    return f"staff:{username}"


def resident_recipient(resident_id: str) -> str:
    return f"resident:{resident_id}"


def staff_task_link(application_id: str) -> str:
    return f"/api/v1/tasks/{application_id}"  # the staff API (verification)


def resident_application_link(application_id: str) -> str:
    return f"/api/v1/applications/{application_id}"  # the resident API (intake)


@dataclass(frozen=True)
class InAppMessage:
    recipient: str
    title: str
    body: str
    link: str | None
    template: t.Template


@dataclass(frozen=True)
class ChannelMessage:
    channel: str
    recipient: str
    to: str  # personal data
    body: str
    template: t.Template
    expires_at: datetime | None = None
    redact_when_final: bool = False


@dataclass
class Plan:
    in_app: list[InAppMessage] = field(default_factory=list)
    outgoing: list[ChannelMessage] = field(default_factory=list)


_RESIDENT_TEMPLATES = {
    LETTER_ISSUED: (t.LETTER_ISSUED_INAPP, t.LETTER_ISSUED_WHATSAPP),
    APPLICATION_REVISION_REQUESTED: (t.REVISION_REQUESTED_INAPP, t.REVISION_REQUESTED_WHATSAPP),
    APPLICATION_REJECTED: (t.REJECTED_INAPP, t.REJECTED_WHATSAPP),
}


async def plan_for(event: CloudEvent, recipients: RecipientLookup, now: datetime) -> Plan:
    """The messages `event` calls for. Raises PermanentEventError for an event that can never be
    handled; other errors (a peer unavailable) are worth a redelivery."""
    if event.name == OTP_REQUESTED:
        return await _otp_requested(event, recipients, now)
    if event.name == APPLICATION_STEP_ASSIGNED:
        return await _step_assigned(event, recipients)
    if event.name in _RESIDENT_TEMPLATES:
        return await _resident_outcome(event, recipients)
    raise PermanentEventError(f"no rule for event type {event.type}")


async def _otp_requested(event: CloudEvent, recipients: RecipientLookup, now: datetime) -> Plan:
    data = _parse(event, events_pb2.OtpRequested())
    if not data.resident_id or not data.code.isdigit():
        raise PermanentEventError("otp_requested without resident_id or code")
    try:
        expires_at = datetime.fromisoformat(data.expires_at)
    except ValueError as exc:
        raise PermanentEventError("otp_requested with an unreadable expires_at") from exc
    if expires_at.tzinfo is None:
        raise PermanentEventError("otp_requested expires_at has no time zone")
    if expires_at <= now:
        log.info("dropping one-time code event %s: already expired", event.id)
        return Plan()
    contact = await recipients.contact_of_resident(data.resident_id)
    if not contact.phone:
        log.warning("resident of one-time code event %s has no phone", event.id)
        return Plan()
    # Validity as issued (not what is left of it), so the text reads "Berlaku 5 menit".
    minutes = max(1, round((expires_at - event.time).total_seconds() / 60))
    _, body = t.OTP_WHATSAPP.render(code=data.code, minutes=str(minutes))
    message = ChannelMessage(
        channel=WHATSAPP,
        recipient=resident_recipient(contact.resident_id),
        to=contact.phone,
        body=body,
        template=t.OTP_WHATSAPP,
        expires_at=expires_at,
        redact_when_final=True,
    )
    return Plan(outgoing=[message])


async def _step_assigned(event: CloudEvent, recipients: RecipientLookup) -> Plan:
    data = _application_event(event)
    if not data.desa_code or not data.step_role:
        raise PermanentEventError("step_assigned without desa_code or step_role")
    holders = await recipients.role_holders(data.desa_code, data.step_role)
    if not holders:
        log.warning(
            "nobody holds %s in desa %s for event %s", data.step_role, data.desa_code, event.id
        )
    title, body = t.STEP_ASSIGNED_INAPP.render(
        letter_type=t.letter_type_name(data.letter_type), role=t.role_name(data.step_role)
    )
    return Plan(
        in_app=[
            InAppMessage(
                recipient=staff_recipient(username),
                title=title,
                body=body,
                link=staff_task_link(data.application_id),
                template=t.STEP_ASSIGNED_INAPP,
            )
            for username in holders
        ]
    )


async def _resident_outcome(event: CloudEvent, recipients: RecipientLookup) -> Plan:
    data = _application_event(event)
    in_app_template, whatsapp_template = _RESIDENT_TEMPLATES[event.name]
    values = {"letter_type": t.letter_type_name(data.letter_type)}
    if event.name == LETTER_ISSUED:
        if not data.letter_number:
            raise PermanentEventError("letter.issued without letter_number")
        values["letter_number"] = data.letter_number
    contact = await recipients.contact_of_applicant(data.application_id)
    recipient = resident_recipient(contact.resident_id)
    title, body = in_app_template.render(**values)
    plan = Plan(
        in_app=[
            InAppMessage(
                recipient=recipient,
                title=title,
                body=body,
                link=resident_application_link(data.application_id),
                template=in_app_template,
            )
        ]
    )
    if contact.phone:
        _, text = whatsapp_template.render(**values)
        plan.outgoing.append(
            ChannelMessage(
                channel=WHATSAPP,
                recipient=recipient,
                to=contact.phone,
                body=text,
                template=whatsapp_template,
            )
        )
    return plan


def _application_event(event: CloudEvent) -> events_pb2.ApplicationEvent:
    data = _parse(event, events_pb2.ApplicationEvent())
    if not data.application_id or not data.letter_type:
        raise PermanentEventError(f"{event.name} without application_id or letter_type")
    return data


def _parse(event: CloudEvent, message: M) -> M:
    payload: Any = event.data
    if not isinstance(payload, dict):
        raise PermanentEventError(f"{event.name} data is not an object")
    try:
        json_format.ParseDict(payload, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise PermanentEventError(f"{event.name} data does not match its schema") from exc
    return message
