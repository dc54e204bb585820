"""Tables of the notification service. Times are stored in UTC (naive in SQLite)."""

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; ours are all UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Delivery statuses, after GOV.UK Notify's state machine.
CREATED = "created"
SENDING = "sending"
DELIVERED = "delivered"
TEMPORARY_FAILURE = "temporary-failure"
PERMANENT_FAILURE = "permanent-failure"
TECHNICAL_FAILURE = "technical-failure"  # retries exhausted
EXPIRED = "expired"  # e.g. a one-time code whose validity ended before it could be sent

PENDING_STATUSES = (CREATED, TEMPORARY_FAILURE)


class ProcessedEvent(SQLModel, table=True):
    """An event whose effects are stored; written in the same transaction as those effects."""

    __tablename__ = "notification_processed_event"

    event_id: str = Field(primary_key=True)
    event_type: str
    processed_at: datetime = Field(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """An in-app inbox entry. `recipient` is "staff:<username>" or "resident:<resident id>"."""

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
    """One message to send on a channel (WhatsApp, SMS) and where it stands."""

    __tablename__ = "notification_delivery"
    __table_args__ = (UniqueConstraint("event_id", "channel", "to_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    recipient: str  # who it is for, as in Notification.recipient
    to_address: str  # personal data: phone number in E.164 without '+'
    body: str
    template: str
    template_version: str
    event_id: str = Field(index=True)
    status: str = Field(default=CREATED, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    # Not worth sending after this (one-time codes).
    expires_at: datetime | None = None
    # The body holds a secret (a one-time code): blank it once the delivery is final.
    redact_when_final: bool = False
    provider_message_id: str | None = None
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


class DevMessage(SQLModel, table=True):
    """What the dev profile's WhatsApp/SMS sink "received": the developer's readable inbox."""

    __tablename__ = "notification_dev_message"

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    to_address: str = Field(index=True)
    body: str
    created_at: datetime = Field(default_factory=utcnow, index=True)


TABLES: list[type[SQLModel]] = [
    ProcessedEvent,
    Notification,
    Delivery,
    DeliveryAttempt,
    DevMessage,
]
