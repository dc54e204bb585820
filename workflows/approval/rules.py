"""Who may do what to a letter, and when: the checks behind the workflow's Update validators.
A refusal is an ApplicationError whose type is an ApprovalErrorCode (the client maps it to one
domain error) and whose message is for the person who asked. Validators run before anything
enters the workflow's history, so a refused request leaves no trace. Pure: they read the state
and the request only."""

from typing import NoReturn

from temporalio.exceptions import ApplicationError

from common.domain import (
    ApplicationStatus,
    ApprovalErrorCode,
    DecidedAs,
    Decision,
    Role,
    is_kecamatan_role,
    supervisor_of,
    who_may_sign,
)
from workflows.approval import wording
from workflows.approval.inbox import Inbox, Kind
from workflows.approval.models import DecisionInput, LetterSignedInput, RetryIssueInput
from workflows.approval.state import LetterState


def refuse(code: ApprovalErrorCode, message: str) -> NoReturn:
    raise ApplicationError(message, type=code, non_retryable=True)


def check_request(inbox: Inbox, request_id: str, actor: str) -> bool:
    """True when `request_id` was accepted before from `actor` (answer it again, check
    nothing); refuses it when it came from someone else; False for a new request."""
    owner = inbox.owner(request_id)
    if owner is None:
        return False
    if owner != actor:
        refuse(ApprovalErrorCode.REQUEST_REUSED, wording.REQUEST_REUSED)
    return True


def check_running(letter: LetterState) -> None:
    if letter.finished:
        refuse(ApprovalErrorCode.FINISHED, wording.FINISHED)


def check_desa(letter: LetterState, desa_code: str) -> None:
    if desa_code != letter.input.desa_code:
        refuse(ApprovalErrorCode.WRONG_DESA, wording.OTHER_DESA)


def deciders(letter: LetterState, role: str) -> list[str]:
    """The step's role (or its Plt); after escalation also whoever it was escalated to, who
    may decide the step themself: the supervisor, and the kabupaten operator once it reaches
    them (a Kades step past its deadline, any step past its second one; issue 15)."""
    allowed = [role]
    if letter.escalation_level >= 1:
        allowed.append(supervisor_of(role))
    if letter.escalation_level >= 2:
        allowed.append(Role.KABUPATEN_OPERATOR)
    return list(dict.fromkeys(allowed))


def signing_steps(roles: list[str]) -> set[int]:
    """The steps whose approval signs: the last desa step (the letter's signer) and a camat
    step (the "mengetahui"). Without kecamatan steps: the last step, as always."""
    desa = [i for i, role in enumerate(roles) if not is_kecamatan_role(role)]
    steps = {desa[-1]} if desa else set()
    return steps | {i for i, role in enumerate(roles) if role == Role.CAMAT}


def check_decision(letter: LetterState, inbox: Inbox, decision: DecisionInput) -> None:
    check_running(letter)
    if decision.decision not in tuple(Decision):
        refuse(ApprovalErrorCode.INVALID, wording.INVALID_DECISION)
    check_desa(letter, decision.actor_desa_code)
    role = letter.step_role
    if (
        role is None
        or letter.status != ApplicationStatus.IN_REVIEW
        or decision.step_index != letter.step_index
        or inbox.busy
    ):
        refuse(ApprovalErrorCode.STALE_STEP, wording.STALE_STEP)
    allowed = deciders(letter, role)
    if decision.actor_role not in allowed:
        refuse(ApprovalErrorCode.WRONG_ROLE, wording.wrong_role(allowed))
    if (
        decision.actor_role == Role.KABUPATEN_OPERATOR
        and decision.decision == Decision.APPROVE
        and letter.route is not None
        and letter.step_index in signing_steps([s.role for s in letter.route.steps])
    ):
        # Approving the last desa step signs the letter, under a desa signer's certificate
        # only; approving the camat's step adds the camat's signature, under theirs only.
        refuse(
            ApprovalErrorCode.WRONG_ROLE,
            wording.KABUPATEN_MAY_NOT_SIGN_FOR_CAMAT
            if role == Role.CAMAT
            else wording.KABUPATEN_MAY_NOT_SIGN,
        )
    if decision.decision in (Decision.REVISE, Decision.REJECT) and not decision.reason.strip():
        refuse(ApprovalErrorCode.INVALID, wording.REASON_REQUIRED)
    limit = letter.route.max_revision_rounds if letter.route else 0
    if decision.decision == Decision.REVISE and letter.revision_rounds >= limit:
        refuse(ApprovalErrorCode.INVALID, wording.revision_limit(letter.revision_rounds, limit))


def decided_as(letter: LetterState, decision: DecisionInput) -> DecidedAs:
    if decision.actor_role != letter.step_role:
        return DecidedAs.SUPERVISOR
    return DecidedAs.PLT if decision.actor_is_plt else DecidedAs.OWN_ROLE


def check_resubmit(letter: LetterState, inbox: Inbox) -> None:
    check_running(letter)
    if letter.status != ApplicationStatus.REVISION_REQUESTED or inbox.busy:
        refuse(ApprovalErrorCode.NOT_AWAITING_RESUBMIT, wording.NOT_AWAITING_RESUBMIT)


def check_cancel(letter: LetterState, inbox: Inbox) -> None:
    """The resident may cancel while the letter waits on staff or on them, not once every step
    has approved it."""
    check_running(letter)
    if letter.issue_request is not None or inbox.has(Kind.CANCEL):
        refuse(ApprovalErrorCode.FINISHED, wording.NOT_CANCELLABLE)
    if inbox.busy:
        refuse(ApprovalErrorCode.STALE_STEP, wording.BUSY)


def check_signer(letter: LetterState, actor_role: str, actor_desa_code: str) -> None:
    """Who may sign the letter or ask to issue it again: one rule (common.domain.who_may_sign)."""
    check_desa(letter, actor_desa_code)
    assert letter.issue_request is not None
    allowed = who_may_sign(letter.signer_role)
    if actor_role not in allowed:
        refuse(ApprovalErrorCode.WRONG_ROLE, wording.may_not_sign(allowed))


def check_retry_issue(letter: LetterState, inbox: Inbox, request: RetryIssueInput) -> None:
    check_running(letter)
    check_desa(letter, request.actor_desa_code)
    if (
        letter.status != ApplicationStatus.SIGNING_BLOCKED
        or letter.issue_request is None
        or inbox.busy
    ):
        refuse(ApprovalErrorCode.NOT_BLOCKED, wording.NOT_BLOCKED)
    check_signer(letter, request.actor_role, request.actor_desa_code)


def check_letter_signed(letter: LetterState, inbox: Inbox, signed: LetterSignedInput) -> None:
    check_running(letter)
    check_desa(letter, signed.actor_desa_code)
    if (
        letter.status != ApplicationStatus.AWAITING_SIGNATURE
        or letter.issue_request is None
        or inbox.busy
    ):
        refuse(ApprovalErrorCode.NOT_AWAITING_SIGNATURE, wording.NOT_AWAITING_SIGNATURE)
    check_signer(letter, signed.actor_role, signed.actor_desa_code)
    if not (signed.letter.letter_id and signed.letter.number):
        refuse(ApprovalErrorCode.INVALID, wording.NO_LETTER)
