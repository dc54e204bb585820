"""What each event produces: who hears about it, on which channel, with which template.

The rules only decide; `event_handler` stores what they decide (`add_plan`) and `dispatcher`
sends it. Events carry no personal data, so contacts come from intake, role holders (Plt
included) from verification's directory, and each person's channels and quiet hours from this
service's preferences.

| event | who | outside channels |
|---|---|---|
| application.decided (approve), resubmitted | the applicant | in-app only |
| application.submitted | the applicant, with the application's number and page (walk-in: the portal's address) | yes |
| application.step_assigned | holders of `step_role` | yes |
| application.step_assigned, from the second step on | the applicant, one line | yes, unless switched off (`step_updates`) |
| application.reminded | holders of `step_role` (the assignee) | yes |
| application.escalated | holders of `escalated_to_role` (level 2: kabupaten_operator) | yes |
| application.escalated, first level | the applicant ("sedang kami percepat") | yes |
| application.revision_requested, rejected | the applicant, with the reason (asked of intake) and the page | yes |
| application.expired | the applicant | yes |
| application.cancelled | the applicant; holders of `step_role` | in-app only; pending messages about the application are cancelled |
| application.signing_blocked | holders of `step_role` (the signer role); the kabupaten operator | yes |
| letter.issued | the applicant, with a short-lived signed download link | yes |
| letter.issued, application.rejected | the applicant, once more: the satisfaction survey's single-use link (30 days) | yes |
| letter.revoked | the applicant | yes |
| complaint.received | holders of sekdes in the desa (why: `COMPLAINT_STAFF_ROLE`) | yes |
| complaint.escalated | the kabupaten operators | yes |
| complaint.answered | the complainant, if they filed signed in (the public form keeps no contact) | yes |
| resident.otp_requested | the resident (urgent: ignores quiet hours) | WhatsApp, SMS fallback |
| resident.sign_in_notice, bound | the desa's operators (a phone bound by family knowledge) | yes |
| resident.sign_in_notice, phone_changed | the old number (asked of intake) | WhatsApp, SMS fallback |

WhatsApp messages carry an SMS twin on standby that goes out only if WhatsApp fails. What the
resident reads is worded in common.domain.resident_wording, as on the portal's page; docs/messages.md
lists every message.

The step message starts at the second step: the first one is reached as the application is
submitted, and the submission message already went out. The reason for a revision or rejection
is not in the event (every subscriber reads events); intake answers it with the contact, for the
application's current status. If the application moved on before the message is made, the
message says where to read the reason instead of quoting a reason that belongs elsewhere.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from smartdesa.v1 import events_pb2
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Decision, Role, role_label
from common.domain import resident_wording as say
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_REJECTED,
    APPLICATION_REMINDED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    COMPLAINT_ANSWERED,
    COMPLAINT_RECEIVED,
    LETTER_ISSUED,
    OTP_REQUESTED,
    SIGN_IN_NOTICE,
)
from common.events import COMPLAINT_EVENT_NAMES, PUBLIC_EVENT_NAMES, CloudEvent
from common.messaging import PermanentEventError
from common.signed_links import sign_path
from common.wib import wib_datetime
from common.wilayah import find_desa
from services.notification import templates as t
from services.notification.channels import EMAIL, SMS, WHATSAPP
from services.notification.dispatcher import cancel_pending
from services.notification.models import STANDBY, Delivery, Notification
from services.notification.preferences import Preferences
from services.notification.recipients import RESIDENT_PREFIX, RecipientLookup, ResidentContact

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

# application.submitted's `channel` for an application desa staff filed at the office.
WALK_IN_CHANNEL = "walk_in"
# The resident portal's list of applications (intake serves it; it asks to sign in first).
PORTAL_PATH = "/permohonan"


_STAFF_EVENTS = (APPLICATION_STEP_ASSIGNED, APPLICATION_REMINDED, APPLICATION_ESCALATED)


def staff_recipient(username: str) -> str:
    return f"staff:{username}"


def resident_recipient(resident_id: str) -> str:
    return f"{RESIDENT_PREFIX}{resident_id}"


def sign_in_recipient(sign_in_id: str) -> str:
    """Whoever asked for a sign-in code with a NIK that has no resident yet."""
    return f"sign-in:{sign_in_id}"


def staff_task_link(application_id: str) -> str:
    return f"/api/v1/tasks/{application_id}"  # the staff API (verification)


def resident_application_link(application_id: str) -> str:
    return f"/api/v1/applications/{application_id}"  # the resident API (intake)


def resident_page_path(application_id: str) -> str:
    """The application's page on the portal (intake serves it after sign-in)."""
    return f"{PORTAL_PATH}/{application_id}"


def letter_download_path(application_id: str) -> str:
    """Intake serves it and checks the signature (common.signed_links)."""
    return f"/api/v1/letter-links/{application_id}/letter.pdf"


@dataclass(frozen=True)
class LetterLinks:
    """Makes the short-lived signed links to a letter that messages carry (never the file)."""

    key: bytes
    base_url: str
    lifetime: timedelta

    def link(self, application_id: str, now: datetime) -> tuple[str, datetime]:
        expires_at = now + self.lifetime
        path = sign_path(self.key, letter_download_path(application_id), expires_at)
        return f"{self.base_url.rstrip('/')}{path}", expires_at


@dataclass(frozen=True)
class InAppMessage:
    recipient: str
    title: str
    body: str
    link: str | None
    template: t.Template
    # A second message about the same event (the survey invitation) is stored under the
    # event's id plus this suffix: one message per event, recipient and address holds.
    event_key: str = ""


@dataclass(frozen=True)
class ChannelMessage:
    channel: str
    recipient: str
    to: str  # personal data
    body: str
    template: t.Template
    subject: str | None = None
    params: tuple[str, ...] = ()
    application_id: str | None = None
    not_before: datetime | None = None  # quiet hours
    expires_at: datetime | None = None
    redact_when_final: bool = False
    # Sent only if this one fails for good (SMS for WhatsApp).
    fallback: "ChannelMessage | None" = None
    event_key: str = ""  # as InAppMessage's


@dataclass
class Plan:
    in_app: list[InAppMessage] = field(default_factory=list)
    outgoing: list[ChannelMessage] = field(default_factory=list)
    # Withdraws what is still pending for this application (application.cancelled).
    cancel_application: str | None = None


async def plan_for(event: CloudEvent, recipients: RecipientLookup, now: datetime) -> Plan:
    """The messages `event` calls for. Raises PermanentEventError for an event that can never be
    handled; other errors (a peer unavailable) are worth a redelivery."""
    if event.name == OTP_REQUESTED:
        return await _otp_requested(event, recipients, now)
    if event.name == SIGN_IN_NOTICE:
        return await _sign_in_notice(event, recipients, now)
    if event.name in COMPLAINT_EVENT_NAMES:
        return await _complaint(event, recipients, now)
    if event.name not in PUBLIC_EVENT_NAMES:
        raise PermanentEventError(f"no rule for event type {event.type}")
    data = _application_event(event)
    if event.name in _STAFF_EVENTS:
        plan = await _to_staff(event.name, data, recipients, now)
        try:
            if event.name == APPLICATION_STEP_ASSIGNED and data.step_index > 0:
                await _tell_applicant(plan, t.STEP_REACHED, data, recipients, now, step=True)
            elif event.name == APPLICATION_ESCALATED and data.escalation_level <= 1:
                await _tell_applicant(plan, t.ESCALATED_RESIDENT, data, recipients, now)
        except PermanentEventError as exc:
            # The staff's messages still go: the resident's line is the lesser loss.
            log.warning("event %s: no message to the applicant: %s", event.id, exc)
        return plan
    if event.name == APPLICATION_SIGNING_BLOCKED:
        return await _signing_blocked(data, recipients, now)
    return await _to_applicant(event.name, data, recipients, now)


async def _otp_requested(event: CloudEvent, recipients: RecipientLookup, now: datetime) -> Plan:
    data = _parse(event, events_pb2.OtpRequested())
    if not (data.sign_in_id or data.resident_id) or not data.code.isdigit():
        raise PermanentEventError("otp_requested without sign_in_id or code")
    try:
        expires_at = datetime.fromisoformat(data.expires_at)
    except ValueError as exc:
        raise PermanentEventError("otp_requested with an unreadable expires_at") from exc
    if expires_at.tzinfo is None:
        raise PermanentEventError("otp_requested expires_at has no time zone")
    if expires_at <= now:
        log.info("dropping one-time code event %s: already expired", event.id)
        return Plan()
    if data.sign_in_id:
        found = await recipients.contact_of_sign_in(data.sign_in_id)
        if found is None:  # nobody may receive this code: intake answered all the same
            log.info("one-time code event %s: nobody to send it to", event.id)
            return Plan()
        contact = found
    else:  # staged before sign-in codes were pending requests
        contact = await recipients.contact_of_resident(data.resident_id)
    if not contact.phone:
        log.warning("resident of one-time code event %s has no phone", event.id)
        return Plan()
    # Validity as issued (not what is left of it), so the text reads "Berlaku 5 menit".
    minutes = max(1, round((expires_at - event.time).total_seconds() / 60))
    values = {"code": data.code, "minutes": str(minutes)}
    recipient = (
        resident_recipient(contact.resident_id)
        if contact.resident_id
        else sign_in_recipient(data.sign_in_id)
    )
    # Signing in needs the code: urgent (no quiet hours), and by SMS alone for a resident who
    # turned WhatsApp off, never not at all.
    _, sms_body = t.OTP_SMS.render(**values)
    sms = ChannelMessage(
        channel=SMS,
        recipient=recipient,
        to=contact.phone,
        body=sms_body,
        template=t.OTP_SMS,
        expires_at=expires_at,
        redact_when_final=True,
    )
    if not (await recipients.preferences(recipient)).allows(WHATSAPP):
        return Plan(outgoing=[sms])
    _, body = t.OTP_WHATSAPP.render(**values)
    message = ChannelMessage(
        channel=WHATSAPP,
        recipient=recipient,
        to=contact.phone,
        body=body,
        template=t.OTP_WHATSAPP,
        params=t.OTP_WHATSAPP.params(**values),
        expires_at=expires_at,
        redact_when_final=True,
        fallback=sms,
    )
    return Plan(outgoing=[message])


# The operator's page of sign-in bindings on the staff client (verification).
BINDINGS_PAGE = "/masuk-warga"


async def _sign_in_notice(event: CloudEvent, recipients: RecipientLookup, now: datetime) -> Plan:
    """A phone bound by family knowledge: the desa's operators are told (issue 13 item 6). A
    phone changed at the office: the old number is told, whoever holds it now."""
    data = _parse(event, events_pb2.SignInNotice())
    if not data.notice_id or not data.desa_code:
        raise PermanentEventError("sign_in_notice without notice_id or desa_code")
    plan = Plan()
    if data.kind == "bound":
        holders = await recipients.role_holders(data.desa_code, Role.OPERATOR)
        if not holders:
            log.warning("nobody holds operator in desa %s (sign-in binding)", data.desa_code)
        for holder in holders:
            await _tell(
                plan,
                recipients,
                t.SIGN_IN_BOUND,
                {},
                recipient=staff_recipient(holder.username),
                phone=None,
                link=BINDINGS_PAGE,
                application_id=None,
                now=now,
            )
        return plan
    if data.kind != "phone_changed":
        raise PermanentEventError(f"sign_in_notice of unknown kind {data.kind!r}")
    phone = await recipients.phone_of_sign_in_notice(data.notice_id)
    if not phone:
        return plan
    recipient = sign_in_recipient(data.notice_id)
    sms = ChannelMessage(
        channel=SMS, recipient=recipient, to=phone, body=t.PHONE_CHANGED_SMS.render()[1],
        template=t.PHONE_CHANGED_SMS,
    )  # fmt: skip
    plan.outgoing.append(
        ChannelMessage(
            channel=WHATSAPP,
            recipient=recipient,
            to=phone,
            body=t.PHONE_CHANGED_WHATSAPP.render()[1],
            template=t.PHONE_CHANGED_WHATSAPP,
            fallback=sms,
        )
    )
    return plan


async def _to_staff(
    name: str, data: events_pb2.ApplicationEvent, recipients: RecipientLookup, now: datetime
) -> Plan:
    values = {"letter_type": _letter_type_name(data)}
    if name == APPLICATION_ESCALATED:
        role = data.escalated_to_role or (
            Role.KABUPATEN_OPERATOR if data.escalation_level >= 2 else ""
        )
        if not role:
            raise PermanentEventError("application.escalated without escalated_to_role")
        values["from_role"] = role_label(data.step_role) if data.step_role else "sebelumnya"
    else:
        role = data.step_role
        if not role:
            raise PermanentEventError(f"{name} without step_role")
    if name == APPLICATION_REMINDED:
        values["deadline"] = _deadline_text(data.deadline)
    if not data.desa_code:
        raise PermanentEventError(f"{name} without desa_code")
    holders = await recipients.role_holders(data.desa_code, role)
    if not holders:
        log.warning("nobody holds %s in desa %s (%s)", role, data.desa_code, name)
    plan = Plan()
    for holder in holders:
        await _tell(
            plan,
            recipients,
            t.BY_EVENT[name],
            {**values, "role": role_label(role, holder.acting)},
            recipient=staff_recipient(holder.username),
            phone=None,
            link=staff_task_link(data.application_id),
            application_id=data.application_id,
            now=now,
        )
    return plan


async def _signing_blocked(
    data: events_pb2.ApplicationEvent, recipients: RecipientLookup, now: datetime
) -> Plan:
    """The signer role's holders must fix the cause (the reason is in their task); the
    kabupaten operator follows it up with the desa."""
    if not data.step_role or not data.desa_code:
        raise PermanentEventError("signing_blocked without step_role or desa_code")
    values = {"letter_type": _letter_type_name(data)}
    plan = Plan()
    signers = await recipients.role_holders(data.desa_code, data.step_role)
    operators = await recipients.role_holders(data.desa_code, Role.KABUPATEN_OPERATOR)
    if not signers:
        log.warning("nobody holds %s in desa %s (signing blocked)", data.step_role, data.desa_code)
    for holder in signers:
        await _tell(
            plan,
            recipients,
            t.SIGNING_BLOCKED,
            {**values, "role": role_label(data.step_role, holder.acting)},
            recipient=staff_recipient(holder.username),
            phone=None,
            link=staff_task_link(data.application_id),
            application_id=data.application_id,
            now=now,
        )
    for operator in operators:
        await _tell(
            plan,
            recipients,
            t.SIGNING_BLOCKED_KABUPATEN,
            {**values, "desa_code": data.desa_code, "signer": role_label(data.step_role)},
            recipient=staff_recipient(operator.username),
            phone=None,
            link=None,
            application_id=data.application_id,
            now=now,
        )
    return plan


async def _to_applicant(
    name: str, data: events_pb2.ApplicationEvent, recipients: RecipientLookup, now: datetime
) -> Plan:
    if name == APPLICATION_DECIDED and data.decision not in ("", Decision.APPROVE):
        return Plan()  # revise and reject have events of their own
    group = t.BY_EVENT[name]
    if name == APPLICATION_SUBMITTED and data.channel == WALK_IN_CHANNEL:
        group = t.SUBMITTED_WALK_IN
    plan = Plan()
    await _tell_applicant(plan, group, data, recipients, now)
    if name in SURVEYED_EVENTS:
        await _invite_to_survey(plan, data, recipients, now)
    if name == APPLICATION_CANCELLED:
        plan.cancel_application = data.application_id
        values = {"letter_type": _letter_type_name(data)}
        if data.step_role and data.desa_code:
            for holder in await recipients.role_holders(data.desa_code, data.step_role):
                await _tell(
                    plan,
                    recipients,
                    t.CANCELLED_STAFF,
                    {**values, "role": role_label(data.step_role, holder.acting)},
                    recipient=staff_recipient(holder.username),
                    phone=None,
                    link=None,
                    application_id=None,  # must not be cancelled by its own event
                    now=now,
                )
    return plan


# A new complaint goes to the desa's Sekdes: the Sekdes runs the desa's administration and its
# staff (the sekretariat), so can answer or hand it to whoever can, and is not the Kasi or
# operator whose own handling a complaint is often about; the Kades, the other answering role,
# is told by the Sekdes or sees the inbox. An escalation goes to the kabupaten's operators, who
# answer what reached the kabupaten. The answer goes to the complainant only if they filed
# signed in: the public form keeps no contact.
COMPLAINT_STAFF_ROLE = Role.SEKDES
# The staff client's complaint page (verification) and the resident's on the portal (intake).
STAFF_COMPLAINT_PATH = "/pengaduan"
RESIDENT_COMPLAINT_PATH = "/pengaduan/saya"


async def _complaint(event: CloudEvent, recipients: RecipientLookup, now: datetime) -> Plan:
    data = _parse(event, events_pb2.ComplaintEvent())
    if not data.complaint_id or not data.desa_code:
        raise PermanentEventError(f"{event.name} without complaint_id or desa_code")
    desa = find_desa(data.desa_code)
    values = {
        "desa": desa.name if desa is not None else data.desa_code,
        "deadline": _deadline_text(data.deadline),
    }
    plan = Plan()
    if event.name == COMPLAINT_ANSWERED:
        contact = await recipients.contact_of_complainant(data.complaint_id)
        if contact is None:
            log.info("complaint event %s: filed without signing in, nobody to tell", event.id)
            return plan
        links = recipients.letter_links
        if links is None:
            raise PermanentEventError("no portal address configured")
        path = f"{RESIDENT_COMPLAINT_PATH}/{data.complaint_id}"
        await _tell(
            plan,
            recipients,
            t.COMPLAINT_ANSWERED_RESIDENT,
            {
                **values,
                "by": "oleh kabupaten" if data.answered_by == "kabupaten" else "oleh desa",
                "page": f"{links.base_url.rstrip('/')}{path}",
            },
            recipient=resident_recipient(contact.resident_id),
            phone=contact.phone or None,
            link=path,
            application_id=None,
            now=now,
        )
        return plan
    if event.name == COMPLAINT_RECEIVED:
        role, group = COMPLAINT_STAFF_ROLE, t.COMPLAINT_RECEIVED_STAFF
    else:
        role, group = Role.KABUPATEN_OPERATOR, t.COMPLAINT_ESCALATED_KABUPATEN
    holders = await recipients.role_holders(data.desa_code, role)
    if not holders:
        log.warning("nobody holds %s in desa %s (%s)", role, data.desa_code, event.name)
    for holder in holders:
        await _tell(
            plan,
            recipients,
            group,
            values,
            recipient=staff_recipient(holder.username),
            phone=None,
            link=f"{STAFF_COMPLAINT_PATH}/{data.complaint_id}",
            application_id=None,
            now=now,
        )
    return plan


# The service ended, either way: the resident is asked once how it went (Permenpan-RB 14/2017).
SURVEYED_EVENTS = (LETTER_ISSUED, APPLICATION_REJECTED)
SURVEY_LINK_LIFETIME = timedelta(days=30)
SURVEY_EVENT_KEY = ":survei"


def survey_path(application_id: str) -> str:
    """Intake serves it and checks the signature (services/intake/survey.py)."""
    return f"/survei/{application_id}"


async def _invite_to_survey(
    plan: Plan, data: events_pb2.ApplicationEvent, recipients: RecipientLookup, now: datetime
) -> None:
    links = recipients.letter_links
    if links is None:
        log.warning("no link signer configured: no survey invitation")
        return
    contact = await recipients.contact_of_applicant(data.application_id)
    expires_at = now + SURVEY_LINK_LIFETIME
    path = sign_path(links.key, survey_path(data.application_id), expires_at)
    values = {
        "number": contact.application_number or data.application_number or _letter_type_name(data),
        "survey_link": f"{links.base_url.rstrip('/')}{path}",
        "survey_expires": wib_datetime(expires_at),
    }
    await _tell(
        plan,
        recipients,
        t.SURVEY_INVITATION,
        values,
        recipient=resident_recipient(contact.resident_id),
        phone=contact.phone or None,
        link=None,
        application_id=data.application_id,
        now=now,
        event_key=SURVEY_EVENT_KEY,
    )


async def _tell_applicant(
    plan: Plan,
    group: t.EventTemplates,
    data: events_pb2.ApplicationEvent,
    recipients: RecipientLookup,
    now: datetime,
    *,
    step: bool = False,
) -> None:
    """The applicant's message about `data`, with what it quotes: the application's number and
    page, the step's role and deadline, and (from intake) the reason for the current status.
    `step`: a step update, which the resident may have switched to in-app only."""
    contact: ResidentContact | None = None
    if _in_app_without_contact(group):
        # Said in the app only, with nothing intake answers: who the applicant is suffices
        # (application.decided, resubmitted, cancelled; three calls to intake per letter).
        contact = await recipients.known_applicant(data.application_id)
    if contact is None:
        contact = await recipients.contact_of_applicant(data.application_id)
    values = {
        "letter_type": _letter_type_name(data),
        # An application submitted before numbers existed is named by its letter type.
        "number": contact.application_number or data.application_number or _letter_type_name(data),
        "deadline": _deadline_text(data.deadline) if data.deadline else say.NO_DEADLINE,
    }
    if data.step_role:
        values["role"] = role_label(data.step_role)
    if contact.status == data.status:
        values["reason"] = say.reason_text(contact.status_reason)
    else:
        values["reason"] = say.NO_REASON
    links = recipients.letter_links
    if links is not None:
        base = links.base_url.rstrip("/")
        values["page"] = f"{base}{resident_page_path(data.application_id)}"
        values["portal"] = f"{base}{PORTAL_PATH}"
    elif any(
        "page" in tpl.placeholders() or "portal" in tpl.placeholders()
        for tpl in (group.inapp, group.email, group.whatsapp, group.sms)
        if tpl is not None
    ):
        raise PermanentEventError("no portal address configured")
    if group is t.LETTER_ISSUED_EVENT or group is t.LETTER_REVOKED_EVENT:
        if not data.letter_number:
            raise PermanentEventError("letter event without letter_number")
        values["letter_number"] = data.letter_number
    if group is t.LETTER_ISSUED_EVENT:
        if links is None:
            raise PermanentEventError("no letter link signer configured")
        link, expires_at = links.link(data.application_id, now)
        values["link"] = link
        values["link_expires"] = wib_datetime(expires_at)
    recipient = resident_recipient(contact.resident_id)
    # A step update reads the preferences first (switched off?); _tell uses the same read.
    prefs = await recipients.preferences(recipient) if step else None
    await _tell(
        plan,
        recipients,
        group,
        values,
        recipient=recipient,
        phone=contact.phone or None,
        link=resident_application_link(data.application_id),
        application_id=data.application_id,
        now=now,
        outside=prefs is None or prefs.step_updates,
        prefs=prefs,
    )


# What the applicant's message quotes from intake's answer (beside the phone).
_FROM_CONTACT = frozenset({"number", "reason"})


def _in_app_without_contact(group: t.EventTemplates) -> bool:
    """Whether `group` goes to the app only and quotes nothing intake answers."""
    outside = (group.email, group.whatsapp, group.sms)
    return all(tpl is None for tpl in outside) and not group.inapp.placeholders() & _FROM_CONTACT


async def _tell(
    plan: Plan,
    recipients: RecipientLookup,
    group: t.EventTemplates,
    values: dict[str, str],
    *,
    recipient: str,
    phone: str | None,
    link: str | None,
    application_id: str | None,
    now: datetime,
    urgent: bool = False,
    outside: bool = True,
    event_key: str = "",
    prefs: Preferences | None = None,
) -> None:
    """In-app always; then (unless not `outside`) each outside channel the person allows and
    has an address for (`prefs`: the person's preferences when already read)."""
    title, body = group.inapp.render(**values)
    plan.in_app.append(
        InAppMessage(
            recipient=recipient,
            title=title,
            body=body,
            link=link,
            template=group.inapp,
            event_key=event_key,
        )
    )
    if not outside or (group.whatsapp is None and group.email is None and group.sms is None):
        return
    if prefs is None:
        prefs = await recipients.preferences(recipient)
    not_before = prefs.send_after(now, urgent=urgent)
    common: dict[str, Any] = {
        "recipient": recipient,
        "application_id": application_id,
        "not_before": not_before,
        "event_key": event_key,
    }
    if group.email is not None and prefs.email and prefs.allows(EMAIL):
        subject, text = group.email.render(**values)
        plan.outgoing.append(
            ChannelMessage(
                channel=EMAIL,
                to=prefs.email,
                body=text,
                subject=subject,
                template=group.email,
                **common,
            )
        )
    phone = phone or prefs.phone
    if not phone:
        return
    sms: ChannelMessage | None = None
    if group.sms is not None and prefs.allows(SMS):
        _, text = group.sms.render(**values)
        sms = ChannelMessage(channel=SMS, to=phone, body=text, template=group.sms, **common)
    if group.whatsapp is not None and prefs.allows(WHATSAPP):
        _, text = group.whatsapp.render(**values)
        plan.outgoing.append(
            ChannelMessage(
                channel=WHATSAPP,
                to=phone,
                body=text,
                template=group.whatsapp,
                params=group.whatsapp.params(**values),
                fallback=sms,
                **common,
            )
        )
    elif sms is not None:
        plan.outgoing.append(sms)


async def store_plan(session: AsyncSession, event_id: str, plan: Plan, now: datetime) -> None:
    """Stage what `plan` decided in `session`: the caller's transaction, with the processed
    event (the hook `event_handler` calls). Each fallback is linked to its primary."""
    if plan.cancel_application:
        await cancel_pending(session, plan.cancel_application, now)
    for note in plan.in_app:
        session.add(
            Notification(
                recipient=note.recipient,
                title=note.title,
                body=note.body,
                link=note.link,
                template=note.template.name,
                template_version=note.template.version,
                event_id=event_id + note.event_key,
            )
        )
    pairs: list[tuple[Delivery, ChannelMessage]] = []
    # One message per address and channel: two staff sharing the desa office's email or phone
    # get it once (and the table's uniqueness holds).
    seen: set[tuple[str, str, str]] = set()
    for message in plan.outgoing:
        if (message.event_key, message.channel, message.to) in seen:
            continue
        seen.add((message.event_key, message.channel, message.to))
        primary = _delivery(event_id, message)
        session.add(primary)
        if message.fallback is not None:
            pairs.append((primary, message.fallback))
    if pairs:
        await session.flush()  # the primaries get their ids
    for primary, fallback in pairs:
        if (fallback.event_key, fallback.channel, fallback.to) in seen:
            continue  # the address already gets this message on that channel
        seen.add((fallback.event_key, fallback.channel, fallback.to))
        standby = _delivery(event_id, fallback, status=STANDBY)
        standby.fallback_for = primary.id
        session.add(standby)


def _delivery(event_id: str, message: ChannelMessage, status: str | None = None) -> Delivery:
    values: dict[str, Any] = {}
    if message.not_before is not None:
        values["next_attempt_at"] = message.not_before
    if status is not None:
        values["status"] = status
    return Delivery(
        channel=message.channel,
        recipient=message.recipient,
        to_address=message.to,
        body=message.body,
        subject=message.subject,
        template_params=json.dumps(list(message.params)) if message.params else None,
        template=message.template.name,
        template_version=message.template.version,
        event_id=event_id + message.event_key,
        application_id=message.application_id,
        expires_at=message.expires_at,
        redact_when_final=message.redact_when_final,
        **values,
    )


def _deadline_text(raw: str) -> str:
    if not raw:
        return "hari ini"
    try:
        deadline = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise PermanentEventError("unreadable deadline") from exc
    if deadline.tzinfo is None:
        raise PermanentEventError("deadline has no time zone")
    return wib_datetime(deadline)


def _letter_type_name(data: events_pb2.ApplicationEvent) -> str:
    """The name intake put in the event; an event from before names were carried shows the code
    ("Surat SKD") rather than a name from a second catalogue here."""
    return data.letter_type_name or f"Surat {data.letter_type}"


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
