"""Intake's tables: residents, sign-in codes and their limits, applications, attachments."""

import uuid
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from common.db import utcnow
from common.domain import ApplicationStatus
from common.outbox import OutboxEvent
from common.sessions import EndedSessionBase


def new_id() -> str:
    return str(uuid.uuid4())


class Resident(SQLModel, table=True):
    __tablename__ = "resident"

    id: str = Field(default_factory=new_id, primary_key=True)
    nik: str = Field(unique=True, index=True)  # personal data: never logged
    # E.164 without '+'; personal data. "" once the desa's operator undid the binding: the NIK
    # binds again at its next sign-in (otp.code_recipient).
    phone: str
    # Raised to end every session the resident holds (a binding undone, the phone changed at
    # the office); a token carrying another `sv` (none counts as 0) is refused.
    session_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class SignInCode(SQLModel, table=True):
    """One sign-in code asked for, pending until redeemed; the resident row is made only then.

    A row is written for every request, also when nobody may receive the code (`phone` empty),
    so that every request does the same work. Only HMACs of the NIK and the code are kept."""

    __tablename__ = "sign_in_code"

    id: str = Field(default_factory=new_id, primary_key=True)
    nik_hmac: str = Field(index=True)
    phone: str  # where the code goes, E.164 without '+'; "" when nobody may receive it
    # The resident the NIK already belonged to when asked (their message preferences apply).
    resident_id: str | None = None
    code_hmac: str
    expires_at: datetime = Field(index=True)
    consumed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SignInThrottle(SQLModel, table=True):
    """How many codes one key asked for in one fixed window. The key is
    "<scope>:<window seconds>:<HMAC>" (scope: phone, nik, client) or "all:<window seconds>:"."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True)
    period: int = Field(primary_key=True)  # seconds since the epoch // window seconds
    hits: int = 0
    ends_at: datetime = Field(index=True)


class SignInGuard(SQLModel, table=True):
    """Wrong codes for one NIK (by HMAC) across all its codes, and until when it is locked."""

    __tablename__ = "sign_in_guard"

    nik_hmac: str = Field(primary_key=True)
    failures: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime = Field(default_factory=utcnow, index=True)


class SignInBinding(SQLModel, table=True):
    """A NIK the population register holds without a phone, bound to a phone by a sign-in
    that proved family knowledge (KK number and mother's name). The desa's operator is told and
    may undo it (services/intake/sign_in_bindings.py)."""

    __tablename__ = "sign_in_binding"

    id: str = Field(default_factory=new_id, primary_key=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    desa_code: str = Field(index=True)
    phone: str  # the phone bound, E.164 without '+'; personal data
    bound_at: datetime = Field(default_factory=utcnow, index=True)
    undone_at: datetime | None = None
    undone_by: str = ""  # staff username


class SignInNotice(SQLModel, table=True):
    """A notice about sign-in the notification service sends (event resident.sign_in_notice):
    "bound" to the desa's operators, "phone_changed" to `phone`, the number that no longer
    signs in. Kept so the event carries no phone number."""

    __tablename__ = "sign_in_notice"

    id: str = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(max_length=16)
    desa_code: str
    phone: str = ""  # personal data
    created_at: datetime = Field(default_factory=utcnow, index=True)


class LetterApplication(SQLModel, table=True):
    """A resident's request for one letter."""

    __tablename__ = "letter_application"

    id: str = Field(default_factory=new_id, primary_key=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    desa_code: str = Field(index=True)
    letter_type: str
    # What the resident, staff and Diskominfo call it, e.g. SKU-2026-000123 (numbering.py);
    # given when it is first submitted.
    number: str | None = Field(default=None, unique=True, max_length=32)
    purpose: str
    fields_json: str  # the letter type's form fields, JSON object of strings
    status: str = Field(default=ApplicationStatus.DRAFT, index=True)
    current_step_index: int | None = None
    current_step_role: str | None = None
    current_step_assigned_at: datetime | None = None
    # Until when the current step (or, awaiting revision, the resident) has, as the workflow
    # last said; None when nothing waits.
    current_deadline: datetime | None = None
    # Why the application was returned for revision or rejected (shown to the resident).
    status_reason: str = ""
    letter_id: str | None = None
    letter_number: str | None = None
    letter_verification_url: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    submitted_at: datetime | None = None
    # How it came in: "portal" (the resident) or "walk_in" (desa staff at the office, who is
    # `filed_by`, a staff username); a walk-in's request id makes filing it idempotent.
    channel: str = Field(default="portal", max_length=16)
    filed_by: str = ""
    walk_in_request_id: str | None = Field(default=None, unique=True, max_length=64)
    # The population register's version the fields were filled from (services/intake/
    # register_data.py), and which fields are its (comma-separated names); None and "" when
    # the register does not hold the resident, who typed everything.
    register_version: int | None = None
    register_fields: str = ""
    # A letter about a family member (letter_types.LetterType.subject): the member's opaque
    # register id, chosen from the resident's own KK, and the version of their record used.
    subject_resident_id: str | None = Field(default=None, max_length=64)
    subject_register_version: int | None = None
    # The catalogue version of the letter type the application started with
    # (`<code>-v<n>`, CatalogueService) and its name then: its form, syarat and the letter
    # signing renders stay that version's even if a newer one is published meanwhile
    # (services/intake/catalogue.py). "" only for rows from before the column, until the
    # start-up backfill pins them (docs/letter-catalogue.md#versions).
    letter_type_version: str = Field(default="", max_length=64)
    letter_type_name: str = Field(default="", max_length=200)


class ApplicationCounter(SQLModel, table=True):
    """The last application number given per letter type and year, across the kabupaten."""

    __tablename__ = "application_number_counter"

    letter_type: str = Field(primary_key=True, max_length=16)
    year: int = Field(primary_key=True)
    last: int


class Attachment(SQLModel, table=True):
    """A syarat document. The bytes live at attachments/<application_id>/<id>."""

    __tablename__ = "application_attachment"

    id: str = Field(default_factory=new_id, primary_key=True)
    application_id: str = Field(foreign_key="letter_application.id", index=True)
    kind: str  # the letter type's requirement code, e.g. KTP, KK
    content_type: str  # decided from the content
    size_bytes: int
    sha256: str
    created_at: datetime = Field(default_factory=utcnow)
    # The name the resident's file had (uploads.clean_filename), shown back to them beside a
    # PDF's badge. Personal data: never logged, never in a URL or an event. None for rows
    # stored before it was kept.
    filename: str | None = Field(default=None, max_length=200)


class KeptDocument(SQLModel, table=True):
    """A resident's KTP or KK photo kept on their record after they uploaded it, offered again
    for their next application until replaced by a newer upload or expired (kept_documents.py).
    The bytes live at documents/<resident_id>/<id>, beside the attachments folder."""

    __tablename__ = "resident_kept_document"

    id: str = Field(default_factory=new_id, primary_key=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    kind: str = Field(max_length=16)  # KTP or KK
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime = Field(default_factory=utcnow)  # expiry counts from the upload
    filename: str | None = Field(default=None, max_length=200)  # as on Attachment


class TimelineEntry(SQLModel, table=True):
    """What happened to an application, as the resident sees it. Entries the workflow records
    carry its sequence number, which makes RecordProgress idempotent."""

    __tablename__ = "application_timeline"
    __table_args__ = (UniqueConstraint("application_id", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="letter_application.id", index=True)
    sequence: int | None = None  # None for entries intake writes itself (e.g. submitted)
    at: datetime = Field(default_factory=utcnow)
    event: str
    status: str
    step_index: int | None = None
    step_role: str | None = None
    decision: str = ""
    actor_role: str = ""
    reason: str = ""
    deadline: datetime | None = None
    escalated_to_role: str = ""
    escalation_level: int = 0
    decided_as: str = ""  # "" (own role), "plt" or "supervisor"
    actor: str = ""  # the staff username, where staff acted for the resident (walk-in filing)


class UploadSession(SQLModel, table=True):
    """A resumable upload of one syarat document, sent in chunks. The bytes so far live in a
    temporary file beside the application's attachments until the last byte arrives; then the
    file is checked like a one-shot upload and becomes an Attachment (`attachment_id`)."""

    __tablename__ = "application_upload"

    id: str = Field(default_factory=new_id, primary_key=True)
    application_id: str = Field(foreign_key="letter_application.id", index=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    kind: str
    filename: str  # as the phone named it; personal data, never logged
    declared_type: str  # what the client claims; the content decides
    total_bytes: int
    received_bytes: int = 0
    # While a chunk is being written: until when that request holds the upload.
    writing_until: datetime | None = None
    attachment_id: str | None = None  # set once complete
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class ResidentEndedSession(EndedSessionBase, table=True):
    """Resident tokens signed out before they expired (common.sessions)."""

    __tablename__ = "intake_ended_session"


TABLES: list[type[SQLModel]] = [
    Resident,
    SignInCode,
    SignInThrottle,
    SignInGuard,
    LetterApplication,
    ApplicationCounter,
    Attachment,
    KeptDocument,
    TimelineEntry,
    UploadSession,
    ResidentEndedSession,
    OutboxEvent,
    SignInBinding,
    SignInNotice,
]

# The public-service duties (survey, complaints) are in their own module, in the same schema.
from services.intake.duties_models import DUTY_TABLES  # noqa: E402

TABLES.extend(DUTY_TABLES)
