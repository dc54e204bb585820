"""Tables of the notification service. Times are stored in UTC (naive in SQLite)."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from common.db import utcnow

# Delivery statuses, after GOV.UK Notify's state machine.
CREATED = "created"
SENDING = "sending"
DELIVERED = "delivered"
TEMPORARY_FAILURE = "temporary-failure"
PERMANENT_FAILURE = "permanent-failure"
TECHNICAL_FAILURE = "technical-failure"  # retries exhausted
EXPIRED = "expired"  # e.g. a one-time code whose validity ended before it could be sent
CANCELLED = "cancelled"  # its application was withdrawn before it went out
# A fallback (SMS for a WhatsApp message) that goes out only if its primary fails.
STANDBY = "standby"

PENDING_STATUSES = (CREATED, TEMPORARY_FAILURE)

# WhatsApp's own delivery statuses (webhook), in the only order they may advance.
PROVIDER_STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3}
PROVIDER_FAILED = "failed"


class ProcessedEvent(SQLModel, table=True):
    """An event whose effects are stored; written in the same transaction as those effects."""

    __tablename__ = "notification_processed_event"

    event_id: str = Field(primary_key=True)
    event_type: str
    processed_at: datetime = Field(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """An in-app inbox entry. `recipient` is "staff:<username>", "resident:<resident id>" or,
    for a sign-in code to a NIK with no resident yet, "sign-in:<sign-in id>"."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("event_id", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(index=True)
    title: str
    body: str
    link: str | None = None
    template: str
    template_version: str
    event_id: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    read_at: datetime | None = None


class Delivery(SQLModel, table=True):
    """One message to send on a channel (WhatsApp, SMS, email) and where it stands."""

    __tablename__ = "notification_delivery"
    __table_args__ = (UniqueConstraint("event_id", "channel", "to_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    recipient: str  # who it is for, as in Notification.recipient
    to_address: str  # personal data: phone number in E.164 without '+', or an email address
    body: str
    subject: str | None = None  # email only
    # The template's values in the provider's order (WhatsApp approved templates), as JSON.
    template_params: str | None = None
    template: str
    template_version: str
    event_id: str = Field(index=True)
    # Set for messages about one application, so withdrawing it cancels what is still pending.
    application_id: str | None = Field(default=None, index=True)
    # For a fallback: the delivery it stands in for (status STANDBY until that one fails).
    fallback_for: int | None = Field(default=None, index=True)
    status: str = Field(default=CREATED, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    # Not worth sending after this (one-time codes).
    expires_at: datetime | None = None
    # The body holds a secret (a one-time code): blank it once the delivery is final.
    redact_when_final: bool = False
    provider_message_id: str | None = Field(default=None, index=True)
    # What the provider reported later (WhatsApp webhook: sent, delivered, read, failed).
    provider_status: str | None = None
    provider_status_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DeliveryAttempt(SQLModel, table=True):
    """A record of every attempt to hand a delivery to its channel."""

    __tablename__ = "notification_delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="notification_delivery.id", index=True)
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str  # delivered | temporary-failure | permanent-failure
    provider_message_id: str | None = None
    error: str | None = None


class Preference(SQLModel, table=True):
    """How one person wants to hear from us. `recipient` as in Notification.recipient.

    In-app is always on. `channels` lists the outside channels allowed (comma-separated);
    an address is needed too: a resident's phone comes from intake, a staff member gives theirs
    here (staff accounts carry no contact details). Quiet hours are WIB wall-clock times; only
    what is not urgent waits for them to end.
    """

    __tablename__ = "notification_preference"

    recipient: str = Field(primary_key=True)
    channels: str
    email: str | None = None  # personal data
    phone: str | None = None  # personal data, staff only
    quiet_start: str | None = None  # "HH:MM" WIB
    quiet_end: str | None = None
    # A resident's message at each step reached (WhatsApp/SMS); off: in-app only.
    step_updates: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class DevMessage(SQLModel, table=True):
    """What the dev profile's WhatsApp/SMS/email sink "received": the developer's readable
    inbox."""

    __tablename__ = "notification_dev_message"

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    to_address: str = Field(index=True)
    body: str
    subject: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WhatsAppChat(SQLModel, table=True):
    """A number that wrote to the desa's WhatsApp number. `key` (a keyed hash of the number)
    names its conversation workflow, so no number reaches Temporal; the number stays here."""

    __tablename__ = "notification_whatsapp_chat"

    key: str = Field(primary_key=True)
    phone: str  # personal data: E.164 without '+'
    # The resident's latest message as the Cloud API timed it: free-form replies only within
    # 24 hours of it, approved templates after.
    last_inbound_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    # The conversation asks for a NIK, KK number or mother's name (linking an unknown number):
    # such answers are kept here (WhatsAppSecretAnswer), only a reference goes to Temporal.
    expects_secret: bool = False
    link_failures: int = 0  # failed links since the last success or lock
    link_locked_until: datetime | None = None
    # The register's resident this number linked itself to (once, by family knowledge), their
    # desa (whose operators see and may undo the link) and when.
    linked_resident_id: str | None = None
    linked_desa_code: str | None = Field(default=None, index=True)
    linked_at: datetime | None = None


class WhatsAppSecretAnswer(SQLModel, table=True):
    """An answer that is personal data (NIK, KK number, mother's name), read once by the
    linking activity and deleted."""

    __tablename__ = "notification_whatsapp_secret_answer"

    ref: str = Field(primary_key=True)
    key: str = Field(index=True)
    text: str
    created_at: datetime = Field(default_factory=utcnow)


class WhatsAppInbound(SQLModel, table=True):
    """A message id taken from the webhook: a redelivery of the same id is not passed on."""

    __tablename__ = "notification_whatsapp_inbound"

    message_id: str = Field(primary_key=True)
    key: str = Field(index=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class WhatsAppMedia(SQLModel, table=True):
    """A syarat a resident sent by chat, downloaded and checked, kept until the application it
    belongs to is filed (then intake holds it) or the conversation drops it."""

    __tablename__ = "notification_whatsapp_media"

    ref: str = Field(primary_key=True)
    key: str = Field(index=True)
    content: bytes
    content_type: str
    created_at: datetime = Field(default_factory=utcnow, index=True)


class OfficeMessage(SQLModel, table=True):
    """A resident's message for the desa office ("petugas"), and the staff answer sent back."""

    __tablename__ = "notification_office_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)  # the conversation, to answer into
    # The workflow's id for this message: a retried activity finds it and stores nothing.
    request_id: str | None = Field(default=None, index=True, unique=True)
    desa_code: str = Field(index=True)
    resident_id: str  # the register's opaque id
    resident_name: str  # personal data: shown to the desa's staff only
    text: str
    created_at: datetime = Field(default_factory=utcnow, index=True)
    answer: str | None = None
    answered_by: str | None = None  # staff username
    answered_at: datetime | None = None


TABLES: list[type[SQLModel]] = [
    ProcessedEvent,
    Notification,
    Delivery,
    DeliveryAttempt,
    Preference,
    DevMessage,
    WhatsAppChat,
    WhatsAppSecretAnswer,
    WhatsAppInbound,
    WhatsAppMedia,
    OfficeMessage,
]
