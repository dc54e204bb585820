"""The approval workflow's state: one dataclass, from which the `state` query, the one-line
summary in the Temporal UI and the search attributes are all derived, so they cannot disagree.
Nothing here carries personal data (search attributes are stored unencrypted)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey

from common.domain import ApplicationStatus, Role
from workflows.approval import search_attributes as sa
from workflows.approval import wording
from workflows.approval.deadlines import escalated_to
from workflows.approval.models import (
    ApprovalInput,
    ApprovalState,
    DecisionInput,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    Route,
)


@dataclass
class LetterState:
    input: ApprovalInput
    status: ApplicationStatus = ApplicationStatus.IN_REVIEW
    route: Route | None = None
    # The step waiting for a decision: an index into the route's steps, or one past the last
    # while the letter awaits its remote signer; None when no step waits.
    step_index: int | None = None
    step_started: datetime | None = None  # when the current step was assigned (UTC)
    # When the current step is due (UTC), or, while awaiting revision, when it expires.
    deadline: datetime | None = None
    overdue: bool = False
    escalation_level: int = 0  # 0 = none, 1 = supervisor told, 2 = kabupaten operator told
    # Who is asked to act now: the step's role, after escalation whoever was told, the resident
    # while a revision is awaited, the signer while the letter awaits signature or is blocked.
    assignee: str | None = None
    revision_rounds: int = 0
    # Who signs and how, set once every step has approved.
    issue_request: IssueLetterInput | None = None
    # Whose remote signature the letter awaits when it is not the desa signer's: the camat's
    # (a kecamatan that signs through BSrE); None: the issue request's signer role.
    awaited_signer: str | None = None
    letter: LetterInfo | None = None
    # While signing refuses the letter: why, since when and when it is tried next.
    blocked_reason: str = ""
    blocked_since: datetime | None = None
    next_issue_attempt: datetime | None = None

    @property
    def step_role(self) -> str | None:
        steps = self.route.steps if self.route else []
        if self.step_index is None:
            return None
        if self.step_index < len(steps):
            return steps[self.step_index].role
        if self.status == ApplicationStatus.AWAITING_SIGNATURE and self.issue_request:
            return self.signer_role
        return None

    @property
    def signer_role(self) -> str:
        """Whose signature the letter needs now: the camat's while it awaits theirs, else
        the desa signer's (set once every step has approved)."""
        assert self.issue_request is not None
        return self.awaited_signer or self.issue_request.signer_role

    @property
    def finished(self) -> bool:
        return self.status in (
            ApplicationStatus.REJECTED,
            ApplicationStatus.ISSUED,
            ApplicationStatus.CANCELLED,
            ApplicationStatus.EXPIRED,
        )

    def view(self) -> ApprovalState:
        """What the `state` query and every Update answer."""
        return ApprovalState(
            application_id=self.input.application_id,
            status=self.status,
            route=[s.role for s in self.route.steps] if self.route else [],
            step_index=self.step_index,
            step_role=self.step_role,
            letter=self.letter,
            step_started=self.step_started,
            deadline=self.deadline,
            overdue=self.overdue,
            escalation_level=self.escalation_level,
            revision_rounds=self.revision_rounds,
            blocked_reason=self.blocked_reason,
            next_issue_attempt=self.next_issue_attempt,
            assignee_role=self.assignee,
        )

    def progress(
        self,
        sequence: int,
        event: str,
        decision: DecisionInput | None = None,
        decided_as: str = "",
        escalated_to_role: str = "",
        reason: str = "",
        step: tuple[int, str] | None = None,
    ) -> ProgressRecord:
        """What intake is told with `event`. `step` names the step when it is none of the
        route's (signing refused the letter after the last one)."""
        step_index, step_role = step or (self.step_index, self.step_role)
        return ProgressRecord(
            application_id=self.input.application_id,
            desa_code=self.input.desa_code,
            letter_type=self.input.letter_type,
            sequence=sequence,
            event=event,
            status=self.status,
            step_index=step_index,
            step_role=step_role,
            actor_role=decision.actor_role if decision else "",
            decision=decision.decision if decision else "",
            reason=decision.reason if decision else reason,
            letter=self.letter,
            deadline=self.deadline,
            escalated_to_role=escalated_to_role,
            escalation_level=self.escalation_level if escalated_to_role else 0,
            decided_as=decided_as,
        )

    def summary(self) -> str:
        return wording.summary(self)

    def search_attributes(self) -> list[tuple[SearchAttributeKey[Any], Any]]:
        """The values Diskominfo filters by, in the order they were always upserted."""
        desa = self.input.desa_code
        return [
            (sa.DESA_CODE, desa),
            (sa.KECAMATAN_CODE, sa.kecamatan_code(desa)),
            (sa.LETTER_TYPE, self.input.letter_type),
            (sa.STATUS, str(self.status)),
            (sa.STEP, self.step_role),
            (sa.ASSIGNEE_ROLE, self.assignee),
            (sa.DEADLINE, self.deadline),
            (sa.OVERDUE, self.overdue),
        ]

    def start_step(self, index: int, now: datetime | None, deadline: datetime | None) -> None:
        """`now` and `deadline` are None for letters without deadlines (the skeleton's)."""
        self.step_index = index
        self.step_started = now
        self.deadline = deadline
        self.overdue = False
        self.escalation_level = 0
        self.assignee = self.step_role

    def escalate(self) -> Role:
        """The current step's deadline passed (again): who is told now."""
        assert self.step_role is not None
        self.escalation_level += 1
        self.overdue = True
        self.assignee = escalated_to(self.step_role, self.escalation_level)
        return self.assignee

    def return_to_resident(self, expiry: datetime | None) -> None:
        """Returned for revision: the resident acts next, until `expiry` (None: no expiry)."""
        self.revision_rounds += 1
        self.status = ApplicationStatus.REVISION_REQUESTED
        self.end_step()
        self.assignee = Role.RESIDENT
        self.deadline = expiry

    def block(self, signer_role: str, reason: str, now: datetime) -> bool:
        """Signing refused the letter: True the first time (to be recorded), False when it was
        blocked already (only the reason shown is refreshed)."""
        self.blocked_reason = reason
        if self.status == ApplicationStatus.SIGNING_BLOCKED:
            return False
        self.status = ApplicationStatus.SIGNING_BLOCKED
        self.assignee = signer_role
        self.blocked_since = now
        return True

    def signing_step(self) -> tuple[int, str]:
        """The signing "step" after the route's last one; its role is the signer's."""
        assert self.route is not None and self.issue_request is not None
        return len(self.route.steps), self.issue_request.signer_role

    def end_step(self) -> None:
        self.step_index = None
        self.step_started = None
        self.deadline = None
        self.overdue = False
        self.escalation_level = 0
        self.assignee = None


@dataclass
class AttributesSent:
    """Search attribute values last upserted, so only changes are sent."""

    values: dict[str, object] = field(default_factory=dict)

    def changes(self, wanted: list[tuple[SearchAttributeKey[Any], Any]]) -> list[Any]:
        updates: list[Any] = []
        for key, value in wanted:
            if key.name in self.values and self.values[key.name] == value:
                continue
            if key.name not in self.values and value is None:
                continue  # never set: nothing to unset
            self.values[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))
        return updates
