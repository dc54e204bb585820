"""Inputs, outputs and state of the approval workflow. Plain dataclasses: they cross the
Temporal boundary through the default data converter, and importing them pulls in no I/O.

Nothing here carries personal data: the workflow knows application ids, desa codes, letter
types and roles; names and NIKs stay in intake.
"""

from dataclasses import dataclass, field

# Application statuses, as intake shows them to the resident.
DRAFT = "draft"
IN_REVIEW = "in_review"
REVISION_REQUESTED = "revision_requested"
REJECTED = "rejected"
CANCELLED = "cancelled"
EXPIRED = "expired"  # the resident did not resubmit in time
ISSUED = "issued"

APPROVE = "approve"
REVISE = "revise"
REJECT = "reject"
DECISIONS = (APPROVE, REVISE, REJECT)

# ApplicationError types raised by the decide validator; clients map them to HTTP statuses.
ERR_WRONG_ROLE = "WrongRole"  # 403
ERR_WRONG_DESA = "WrongDesa"  # 403
ERR_STALE_STEP = "StaleStep"  # 409
ERR_FINISHED = "Finished"  # 409
ERR_NOT_AWAITING_RESUBMIT = "NotAwaitingResubmit"  # 409
ERR_INVALID = "InvalidDecision"  # 422


@dataclass
class ApprovalInput:
    application_id: str
    desa_code: str
    letter_type: str


@dataclass
class RouteStep:
    role: str
    deadline_working_hours: int = 8
    skippable: bool = False


@dataclass
class WorkingCalendar:
    """When a desa works (WIB). Deadlines count only these hours."""

    start_hour: int = 8
    end_hour: int = 16
    workdays: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])  # ISO, Monday = 1
    local_days_off: list[str] = field(default_factory=list)  # ISO dates


@dataclass
class Route:
    steps: list[RouteStep]
    signer_role: str
    on_behalf_of_role: str = ""  # the signer signs "a.n." this role
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    max_revision_rounds: int = 3
    resubmit_days: int = 14


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
class LetterInfo:
    letter_id: str
    number: str
    verification_url: str


@dataclass
class ApprovalState:
    application_id: str
    status: str
    route: list[str] = field(default_factory=list)
    step_index: int | None = None  # None when no step waits (finished or awaiting resubmit)
    step_role: str | None = None
    letter: LetterInfo | None = None


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


@dataclass
class IssueLetterInput:
    application_id: str
    signer_role: str
    signer_username: str = ""
    on_behalf_of_role: str = ""
    signer_is_plt: bool = False


# Activity names: the workflow calls activities by name so it imports no I/O code.
ACTIVITY_RESOLVE_ROUTE = "resolve_route"
ACTIVITY_RECORD_PROGRESS = "record_progress"
ACTIVITY_ISSUE_LETTER = "issue_letter"

# How roles are named to people (validator messages, summaries).
ROLE_LABELS = {
    "operator": "Operator Desa",
    "kasi_pemerintahan": "Kasi Pemerintahan",
    "kasi_kesra": "Kasi Kesejahteraan",
    "kasi_pelayanan": "Kasi Pelayanan",
    "sekdes": "Sekretaris Desa",
    "kades": "Kepala Desa",
}


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)
