"""Tables of the verification service: staff accounts, the task inbox projection, and the
events that projection has already applied."""

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

# Task statuses. A task is "open" while the workflow waits on its step; "done" once the step was
# decided or the application moved on; "revision_requested" while it is back with the resident.
TASK_OPEN = "open"
TASK_DONE = "done"
TASK_REVISION_REQUESTED = "revision_requested"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; we only ever store UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str  # argon2id, PHC string
    role: str  # operator | kasi_pemerintahan | kasi_kesra | kasi_pelayanan | sekdes | kades
    desa_code: str = Field(index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    """One step of one application as the staff inbox sees it; rebuilt from public events."""

    __tablename__ = "verification_task"
    __table_args__ = (UniqueConstraint("application_id", "step_index"),)

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    step_index: int
    role: str
    desa_code: str
    letter_type: str
    status: str = Field(default=TASK_OPEN, index=True)
    assigned_at: datetime
    closed_at: datetime | None = None


class ProcessedEvent(SQLModel, table=True):
    """Events the task projection applied, so a redelivery changes nothing and an event older
    than what we already know of its application is not applied over newer state."""

    __tablename__ = "verification_processed_event"

    event_id: str = Field(primary_key=True)
    application_id: str = Field(index=True)
    occurred_at: datetime
    processed_at: datetime = Field(default_factory=utcnow)


TABLES: list[type[SQLModel]] = [Staff, Task, ProcessedEvent]
