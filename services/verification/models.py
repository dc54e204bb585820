"""Tables of the verification service: staff accounts, Plt periods, the desa's own routes and
working calendar, the task inbox projection, and the events that projection has applied."""

from datetime import date, datetime

from sqlalchemy import ARRAY, JSON, Column, Float, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from common.db import utcnow
from common.sessions import EndedSessionBase
from services.verification.population.models import TABLES as POPULATION_TABLES

# Task statuses. A task is "open" while the workflow waits on its step; "done" once the step was
# decided or the application moved on; "revision_requested" while it is back with the resident.
TASK_OPEN = "open"
TASK_DONE = "done"
TASK_REVISION_REQUESTED = "revision_requested"
TASK_CANCELLED = "cancelled"
TASK_EXPIRED = "expired"
# What a task asks for: a decision on a route step, or (after every step approved) fixing why
# signing refuses the letter and asking for it to be issued again.
TASK_KIND_DECISION = "decision"
TASK_KIND_SIGNING_BLOCKED = "signing_blocked"
# Every step approved; the signer signs remotely (BSrE) and gives the passphrase on this task.
TASK_KIND_SIGNATURE = "signature"


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str  # argon2id, PHC string
    # operator | kasi_pemerintahan | kasi_kesra | kasi_pelayanan | sekdes | kades, or
    # kabupaten_operator (Diskominfo: desa_code "", kabupaten_code set; an escalation target) or
    # kabupaten_viewer (DPMD: the same kabupaten view, read-only, never escalated to).
    role: str
    desa_code: str = Field(index=True)
    kabupaten_code: str = ""  # for kabupaten and kecamatan roles; desa staff derive it
    # Kecamatan staff (camat, sekcam, kasi_pelayanan_kecamatan): desa_code "", their kecamatan
    # here; they see only that kecamatan's desa (services/verification/kecamatan.py).
    kecamatan_code: str = Field(default="", index=True)
    # Kecamatan accounts: the holder's name as printed on the letter (the camat's "mengetahui"
    # stamp, taken when their certificate is installed). Desa officials' names are in the desa
    # profile.
    full_name: str = ""
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Raised by a password change or reset, a role change and a deactivation: every token
    # issued before carries an older version and is refused (common.auth.staff_session_current).
    session_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class StaffEndedSession(EndedSessionBase, table=True):
    """Staff tokens signed out before they expired (common.sessions)."""

    __tablename__ = "verification_ended_session"


class SignInFailure(SQLModel, table=True):
    """One failed staff sign-in, counted against the account and against the client address
    (sign_in_throttle.py). Kept in the database so a restart or another replica sees them."""

    __tablename__ = "verification_sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, max_length=160)  # "akun:<username>" or "alamat:<address>"
    failed_at: datetime = Field(default_factory=utcnow, index=True)


class Task(SQLModel, table=True):
    """One step of one application as the staff inbox sees it; rebuilt from public events."""

    __tablename__ = "verification_task"
    __table_args__ = (
        UniqueConstraint("application_id", "step_index"),
        # A desa's inbox (open tasks of one desa) and the kabupaten view's steps decided in a
        # period: a million applications make millions of rows (docs/performance.md).
        Index("ix_verification_task_desa_status", "desa_code", "status"),
        # PostgreSQL reads the step times from the index alone (INCLUDE; SQLite ignores it).
        Index(
            "ix_verification_task_kabupaten_closed",
            "kabupaten_code",
            "closed_at",
            postgresql_include=[
                "kind",
                "status",
                "role",
                "desa_code",
                "assigned_at",
                "working_seconds",
            ],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    # What everyone calls the application, e.g. SKU-2026-000123 (from its events; "" for one
    # submitted before numbers existed).
    application_number: str = Field(default="", index=True, max_length=32)
    step_index: int
    role: str
    desa_code: str
    letter_type: str
    status: str = Field(default=TASK_OPEN, index=True)
    assigned_at: datetime
    closed_at: datetime | None = None
    deadline: datetime | None = None  # of this step, in UTC; None if the workflow set none
    escalated_to_role: str = ""  # who was told last after a deadline (supervisor, then kabupaten)
    supervisor_role: str = ""  # the first escalation's role: keeps the task after a second one
    escalation_level: int = 0  # 0 none, 1 supervisor, 2 kabupaten operator
    reminders: int = 0
    kecamatan_code: str = Field(default="", index=True)
    kabupaten_code: str = Field(default="", index=True)
    kind: str = TASK_KIND_DECISION
    # A decided step's (done, revision_requested) working time from assigned_at to closed_at
    # in its desa's calendar as set when it was decided (calendars.step_working_seconds), for
    # the kabupaten view's step times; None while open and for cancelled or expired steps.
    working_seconds: float | None = None


# A list of seconds: float8[] on PostgreSQL, a JSON list on SQLite (dev, tests).
SECONDS = ARRAY(Float).with_variant(JSON(), "sqlite")


class StepRollup(SQLModel, table=True):
    """The decided route steps (Task: decision, done or revision_requested) of one kecamatan
    decided on one WIB day, per role group, with each step's time as the kabupaten view
    aggregates it: the task projection keeps it in the transaction that changes a step
    (step_rollup.py), so a month of a kabupaten is a few thousand rows, not 75,000 steps
    (docs/performance.md)."""

    __tablename__ = "verification_step_rollup"

    # Key in this order: the kabupaten view reads a kabupaten's days in a period.
    kabupaten_code: str = Field(primary_key=True)
    day: date = Field(primary_key=True)  # of the decision (closed_at), in WIB
    kecamatan_code: str = Field(primary_key=True)
    role_group: str = Field(primary_key=True)  # kabupaten_view.role_group: every Kasi is "kasi"
    decided: int = 0
    # Task.working_seconds of each step that has it, ascending.
    working_seconds: list[float] = Field(
        default_factory=list, sa_column=Column(SECONDS, nullable=False)
    )
    # Calendar seconds from assignment to decision (0 if the clocks say otherwise), ascending.
    elapsed_seconds: list[float] = Field(
        default_factory=list, sa_column=Column(SECONDS, nullable=False)
    )


class ApplicationRecord(SQLModel, table=True):
    """One submitted application as the kabupaten view counts it: where it is, when it came in,
    and the state its latest event left it in (in_review, revision_requested, awaiting_signature,
    signing_blocked, issued, rejected, cancelled, expired). Rebuilt from the same public events as the tasks;
    codes and times only, no personal data."""

    __tablename__ = "verification_application"
    # The kabupaten view's letters submitted in a period, counted from the index alone on
    # PostgreSQL (docs/performance.md).
    __table_args__ = (
        Index(
            "ix_verification_application_kabupaten_submitted",
            "kabupaten_code",
            "submitted_at",
            postgresql_include=["kecamatan_code", "desa_code", "status", "application_id"],
        ),
    )

    application_id: str = Field(primary_key=True)
    desa_code: str = Field(index=True)
    kecamatan_code: str = Field(default="", index=True)
    kabupaten_code: str = Field(default="", index=True)
    letter_type: str = ""
    status: str = ""
    # The first submission (application.submitted), else the earliest event seen of it.
    submitted_at: datetime = Field(index=True)
    status_at: datetime  # when the event that set `status` happened
    closed_at: datetime | None = None  # issued, rejected, cancelled or expired


class ProcessedEvent(SQLModel, table=True):
    """Events the task projection applied, so a redelivery changes nothing and an event older
    than what we already know of its application is not applied over newer state."""

    __tablename__ = "verification_processed_event"

    event_id: str = Field(primary_key=True)
    application_id: str = Field(index=True)
    occurred_at: datetime
    processed_at: datetime = Field(default_factory=utcnow)


class PltAssignment(SQLModel, table=True):
    """A staff member holds `role` in their desa as Plt (pelaksana tugas) from starts_at until
    ends_at, or until ended_at if the period was ended early."""

    __tablename__ = "verification_plt"

    id: int | None = Field(default=None, primary_key=True)
    desa_code: str = Field(index=True)
    username: str = Field(index=True)
    role: str
    starts_at: datetime
    ends_at: datetime
    reason: str = ""  # e.g. the SK number or "cuti"
    granted_by: str
    granted_at: datetime = Field(default_factory=utcnow)
    ended_by: str | None = None
    ended_at: datetime | None = None


class RouteOverride(SQLModel, table=True):
    """A desa's own route for one letter type, replacing the default route."""

    __tablename__ = "verification_route_override"
    __table_args__ = (UniqueConstraint("desa_code", "letter_type"),)

    id: int | None = Field(default=None, primary_key=True)
    desa_code: str = Field(index=True)
    letter_type: str
    steps_json: str  # [{"role", "deadline_working_hours", "skippable"}, ...]
    signer_role: str
    on_behalf_of_role: str = ""
    updated_by: str
    updated_at: datetime = Field(default_factory=utcnow)


class DesaSettings(SQLModel, table=True):
    """A desa's working calendar and revision rules; absent means the defaults."""

    __tablename__ = "verification_desa_settings"

    desa_code: str = Field(primary_key=True)
    start_hour: int
    end_hour: int
    workdays_json: str  # ISO weekdays, Monday = 1
    local_days_off_json: str  # ISO dates
    max_revision_rounds: int
    resubmit_days: int
    # Sekdes and Kades may let the desa's operator change routes as well.
    operator_may_edit_routes: bool = False
    # Each working weekday's hours, [{"weekday": 5, "start": 450, "end": 660}] in minutes
    # after midnight WIB; start_hour, end_hour and workdays_json then summarise it. "" in rows
    # written before it existed: one schedule for every workday (migration 0013 fills it in).
    hours_json: str = ""
    updated_by: str
    updated_at: datetime = Field(default_factory=utcnow)


class LetterTypeOffer(SQLModel, table=True):
    """Whether a desa offers a letter type; no row means offered (the default for every type)."""

    __tablename__ = "verification_letter_type_offer"
    __table_args__ = (UniqueConstraint("desa_code", "letter_type"),)

    id: int | None = Field(default=None, primary_key=True)
    desa_code: str = Field(index=True)
    letter_type: str
    offered: bool = True
    updated_by: str
    updated_at: datetime = Field(default_factory=utcnow)


class StaffChange(SQLModel, table=True):
    """Who changed which staff account of the desa, and how (created, role, deactivated,
    reactivated, password, own-password). Never holds a password or its hash."""

    __tablename__ = "verification_staff_change"

    id: int | None = Field(default=None, primary_key=True)
    desa_code: str = Field(index=True)
    username: str = Field(index=True)  # the account changed
    action: str  # created | role | deactivated | reactivated | password | own-password
    detail: str = ""  # e.g. "kasi_pemerintahan -> kasi_kesra"
    changed_by: str
    changed_at: datetime = Field(default_factory=utcnow)


class WalkInScan(SQLModel, table=True):
    """A scan the operator chose on the walk-in form, kept until the walk-in is filed so that a
    refusal does not make them choose every file again (walk_in_scans.py). One per token and
    syarat; removed when the walk-in is filed, and a day after it was chosen at the latest."""

    __tablename__ = "verification_walk_in_scan"
    __table_args__ = (UniqueConstraint("token", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(index=True, max_length=32)  # opaque, in the form's hidden field
    staff_id: str  # only the staff member who chose it may use it
    desa_code: str
    kind: str = Field(max_length=32)  # the letter type's requirement code
    filename: str = Field(max_length=120)  # as the browser named it, shown back to the operator
    size_bytes: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class DesaService(SQLModel, table=True):
    """Whether a desa takes new applications: the kabupaten operator's switch (onboarding.py).
    No row: the desa is served if it was served before onboarding was data (the pilot list,
    common.wilayah.pilot_codes), else not yet."""

    __tablename__ = "verification_desa_service"

    desa_code: str = Field(primary_key=True)
    serving: bool
    changed_by: str
    changed_at: datetime = Field(default_factory=utcnow)


class PasswordSetupLink(SQLModel, table=True):
    """A one-time link to set an account's first password (onboarding.py). Only the token's
    SHA-256 is kept; the link itself is shown once, to the operator who made it."""

    __tablename__ = "verification_password_setup"

    token_sha256: str = Field(primary_key=True)
    username: str = Field(index=True)
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class PersonalDataAccess(SQLModel, table=True):
    """A staff member read a resident's personal data (UU 27/2022 PDP): the resident's access
    log ("Data saya"). Append-only: rows are only ever inserted (access_log.record), never
    changed or deleted, not by the retention job either. The reader is kept as role and office
    for the resident, and as username for the kabupaten's audit; the resident is named by the
    application or the register record read, never by NIK or name."""

    __tablename__ = "personal_data_access"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    # register | application | attachment | letter_preview | inbox | walk_in (access_log.KINDS)
    kind: str = Field(max_length=32)
    application_id: str | None = Field(default=None, index=True, max_length=64)
    register_resident_id: str | None = Field(default=None, index=True, max_length=64)
    # A complaint the staff member opened (intake's complaint id; kinds complaint*).
    complaint_id: str | None = Field(default=None, index=True, max_length=64)
    # Why, as the resident reads it: the application's number, or "daftar penduduk".
    purpose: str = Field(max_length=64)
    reader_username: str  # for the kabupaten's audit only; never shown to the resident
    reader_role: str
    reader_desa_code: str = ""  # "" for a kabupaten account
    reader_kabupaten_code: str = ""


# The population register's tables live in population/models.py; the service's schema is both.
class KecamatanLetterType(SQLModel, table=True):
    """A letter type that goes through the kecamatan in one kabupaten, and the kecamatan's steps
    after the desa's (data, edited by the kabupaten operator: kecamatan.py)."""

    __tablename__ = "verification_kecamatan_letter_type"

    kabupaten_code: str = Field(primary_key=True)
    letter_type: str = Field(primary_key=True)
    steps_json: str  # [{"role", "deadline_working_hours", "skippable"}, ...]: kecamatan roles
    # ["beasiswa", ...]: only letters whose purpose names one of these go through the
    # kecamatan (common/domain/purposes.py); "[]": every letter of the type.
    purposes_json: str = "[]"
    updated_by: str = ""
    updated_at: datetime = Field(default_factory=utcnow)


TABLES: list[type[SQLModel]] = [
    *POPULATION_TABLES,
    KecamatanLetterType,
    Staff,
    StaffEndedSession,
    SignInFailure,
    LetterTypeOffer,
    StaffChange,
    PltAssignment,
    RouteOverride,
    DesaSettings,
    Task,
    StepRollup,
    ApplicationRecord,
    ProcessedEvent,
    WalkInScan,
    DesaService,
    PasswordSetupLink,
    PersonalDataAccess,
]
