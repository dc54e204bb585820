"""Inputs, outputs and state of the approval workflow (the words they use, statuses, roles and
decisions, are common.domain's). Plain dataclasses: they cross the
Temporal boundary through the default data converter, and importing them pulls in no I/O.

Nothing here carries personal data: the workflow knows application ids, desa codes, letter
types and roles; names and NIKs stay in intake.
"""

from dataclasses import dataclass, field
from datetime import datetime

# Route defaults for values a directory leaves unset (proto3 zero values).
DEFAULT_DEADLINE_WORKING_HOURS = 8
DEFAULT_MAX_REVISION_ROUNDS = 3
DEFAULT_RESUBMIT_DAYS = 14


@dataclass
class ApprovalInput:
    application_id: str
    desa_code: str
    letter_type: str
    # The area's names for the Temporal UI's summary line (the client fills them in from
    # common/wilayah.py when it starts the workflow; "" in letters started before).
    desa_name: str = ""
    kecamatan_name: str = ""
    # The catalogue version the application keeps (`<code>-v<n>`): its default route is that
    # version's (docs/letter-catalogue.md#routes-and-versions); "" in letters started before.
    letter_type_version: str = ""


@dataclass
class RouteStep:
    role: str
    deadline_working_hours: int = 8
    skippable: bool = False


@dataclass
class WorkingDay:
    """One weekday's working hours (WIB), in minutes after midnight: 07:30-11:00 is 450-660."""

    weekday: int  # ISO, Monday = 1
    start_minute: int
    end_minute: int  # at most 24 * 60


@dataclass
class WorkingCalendar:
    """When a desa works (WIB). Deadlines count only these hours.

    `days`, when set, gives each working weekday its own hours (Friday shorter, to the half
    hour) and is what counts; start_hour, end_hour and workdays then only summarise it. Routes
    resolved before `days` existed carry none and keep one schedule for every workday."""

    start_hour: int = 8
    end_hour: int = 16
    workdays: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])  # ISO, Monday = 1
    local_days_off: list[str] = field(default_factory=list)  # ISO dates
    days: list[WorkingDay] = field(default_factory=list)


@dataclass
class Route:
    steps: list[RouteStep]
    signer_role: str
    on_behalf_of_role: str = ""  # the signer signs "a.n." this role
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    max_revision_rounds: int = 3
    resubmit_days: int = 14
    # National holidays and cuti bersama (ISO dates) for the next years, computed once by the
    # resolve_route activity so the workflow never needs the holidays package.
    days_off: list[str] = field(default_factory=list)
    # The desa's signer signs remotely (BSrE): after the last approval the letter waits for
    # their signature instead of being issued at once. Asked of signing by resolve_route; False
    # in histories recorded before it existed, which keeps those letters on their old path.
    remote_signature: bool = False
    # When the kecamatan works: its steps' deadlines count in it (issue 18). None in routes
    # without kecamatan steps and in histories recorded before it existed: the desa's calendar.
    kecamatan_calendar: WorkingCalendar | None = None
    # The camat signs "mengetahui" through BSrE (signing's setting for the kecamatan's code):
    # after the last approval the letter waits for the camat's signature. False in routes
    # without a camat step and in histories recorded before it existed.
    camat_remote_signature: bool = False


@dataclass
class DecisionInput:
    request_id: str
    decision: str  # approve | revise | reject
    step_index: int  # the step the staff member saw when deciding
    actor_username: str
    actor_role: str
    actor_desa_code: str
    reason: str = ""
    actor_is_plt: bool = False  # the actor holds actor_role as Plt


@dataclass
class CancelInput:
    request_id: str


@dataclass
class ResubmitInput:
    request_id: str


@dataclass
class RetryIssueInput:
    """A staff member asks to try issuing a blocked letter again now (after fixing the cause)."""

    request_id: str
    actor_username: str
    actor_role: str
    actor_desa_code: str


@dataclass
class LetterInfo:
    letter_id: str
    number: str
    verification_url: str


@dataclass
class LetterSignedInput:
    """The signer signed (verification had signing issue the letter with their passphrase);
    carries the issued letter's reference, never the passphrase."""

    request_id: str
    actor_username: str
    actor_role: str
    actor_desa_code: str
    letter: LetterInfo


@dataclass
class ApprovalState:
    application_id: str
    status: str
    route: list[str] = field(default_factory=list)
    step_index: int | None = None  # None when no step waits (finished or awaiting resubmit)
    step_role: str | None = None
    letter: LetterInfo | None = None
    step_started: datetime | None = None  # when the current step was assigned (UTC)
    # When the current step is due (UTC), or, while awaiting revision, when it expires.
    deadline: datetime | None = None
    overdue: bool = False
    escalation_level: int = 0  # 0 = none, 1 = supervisor told, 2 = kabupaten operator told
    revision_rounds: int = 0  # how often the letter went back to the resident
    blocked_reason: str = ""  # signing_blocked: signing's reason (for staff)
    next_issue_attempt: datetime | None = None  # signing_blocked: when issuing is tried again
    # Who is asked to act now: the step's role, after escalation whoever was told, the resident
    # while a revision is awaited, the signer while the letter awaits signature or is blocked.
    assignee_role: str | None = None


@dataclass
class ProgressRecord:
    """What the workflow tells intake (and through intake's outbox, everyone) after a change."""

    application_id: str
    desa_code: str
    letter_type: str
    sequence: int
    event: str
    status: str
    step_index: int | None = None
    step_role: str | None = None
    actor_role: str = ""
    decision: str = ""
    reason: str = ""
    letter: LetterInfo | None = None
    deadline: datetime | None = None  # of the current step (or of the resubmission)
    escalated_to_role: str = ""  # application.escalated: who is told now
    escalation_level: int = 0
    decided_as: str = ""  # "" (own role), "plt" or "supervisor"


@dataclass
class IssueLetterInput:
    application_id: str
    signer_role: str
    signer_username: str = ""
    on_behalf_of_role: str = ""
    signer_is_plt: bool = False
    # The kecamatan whose camat signs "mengetahui" after the certification; "" for none.
    kecamatan_code: str = ""
    # The desa's and the camat's signatures both come through BSrE, in two calls: the desa
    # signer's certifies, the camat's approves later (False in older histories).
    camat_signs_later: bool = False


# Activity names: the workflow calls activities by name so it imports no I/O code.
ACTIVITY_RESOLVE_ROUTE = "resolve_route"
ACTIVITY_RECORD_PROGRESS = "record_progress"
ACTIVITY_ISSUE_LETTER = "issue_letter"
