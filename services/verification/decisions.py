"""Verification's side of the approval workflow, through its one client
(workflows.approval.client): a staff decision (the Update `decide`), a request to issue a letter
signing refused again (`retry_issue`), a remote signer's signed letter (`letter_signed`). The
workflow's validator is the authority on role, desa, step and reasons: what it refuses never
enters the workflow's history, and we pass its (Indonesian) message on as a domain refusal
(common.domain.errors), which the API and the pages each show in their own way.

A request id is bound to the staff member who sent it: the id a client gives is scoped by the
username before it becomes the Update id, so another staff member re-sending it makes a request
of their own (checked like any other) instead of receiving someone else's answer, and the same
staff member re-sending it gets the first answer from Temporal without any new history."""

import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, NoReturn

from common.domain import ApprovalErrorCode, role_label
from common.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from services.verification.models import Task
from workflows.approval.errors import ApprovalError, ApprovalNotRunning, ApprovalRefused
from workflows.approval.models import (
    ApprovalState,
    DecisionInput,
    IssueLetterInput,
    LetterSignedInput,
    RetryIssueInput,
)

if TYPE_CHECKING:
    from temporalio.client import Client

    from workflows.approval.client import ApprovalClient

log = logging.getLogger(__name__)

# Validator refusals -> (kind of domain refusal, its code).
_REFUSALS: dict[str, tuple[type[DomainError], str]] = {
    ApprovalErrorCode.WRONG_ROLE: (Forbidden, "wrong-role"),
    ApprovalErrorCode.WRONG_DESA: (Forbidden, "wrong-desa"),
    ApprovalErrorCode.STALE_STEP: (Conflict, "stale-step"),
    ApprovalErrorCode.FINISHED: (Conflict, "finished"),
    ApprovalErrorCode.NOT_AWAITING_RESUBMIT: (Conflict, "not-awaiting-resubmit"),
    ApprovalErrorCode.NOT_BLOCKED: (Conflict, "not-blocked"),
    ApprovalErrorCode.NOT_AWAITING_SIGNATURE: (Conflict, "not-awaiting-signature"),
    ApprovalErrorCode.REQUEST_REUSED: (Conflict, "request-reused"),
    ApprovalErrorCode.INVALID: (Invalid, "invalid-decision"),
}

_UNAVAILABLE = "Layanan persetujuan sedang tidak dapat dihubungi. Silakan coba lagi sebentar lagi."


def actor_role_for(
    own_role: str, roles_held: list[str], open_task: Task | None, act_as: str | None
) -> str:
    """The role a staff member decides in. `act_as` must be one they hold now (own or Plt);
    without it: the open step's role if they hold it (maybe as Plt), else the role the step was
    escalated to if they hold that, else their own role (the workflow judges that one)."""
    if act_as is not None:
        if act_as not in roles_held:
            raise Forbidden(
                "role-not-held", f"Anda tidak sedang memegang peran {role_label(act_as)}."
            )
        return act_as
    candidates = (
        (open_task.role, open_task.supervisor_role, open_task.escalated_to_role)
        if open_task is not None
        else ()
    )
    return next((r for r in candidates if r and r in roles_held), own_role)


def request_id_of(username: str, client_request_id: str) -> str:
    """The workflow's request id (and Update id) for a staff member's request."""
    return f"{username}/{client_request_id}"


async def send_decision(
    client: "Client", application_id: str, decision: DecisionInput, rpc_timeout: timedelta
) -> ApprovalState:
    """Deliver `decision` (its request_id as the client gave it) and return the workflow's state
    after it; raises a domain refusal (common.domain.errors) when it is refused."""
    bound = replace(
        decision, request_id=request_id_of(decision.actor_username, decision.request_id)
    )
    try:
        return await _approvals(client, rpc_timeout).decide(application_id, bound)
    except ApprovalError as exc:
        _raise_refusal(exc)


async def issuing_outcome(
    client: "Client", application_id: str, approved: ApprovalState, wait: timedelta
) -> ApprovalState:
    """After the last approval of a letter signed at once, the workflow answers before it
    signs; this waits (at most `wait`) for the letter to be issued, so the signer can be told
    it was signed, and otherwise answers the state then (signing_blocked, or still issuing).
    The decision stands either way: a failure to look is answered with `approved`."""
    approvals = _approvals(client, wait)
    try:
        ended = await approvals.outcome(application_id, wait)
        return ended if ended is not None else await approvals.state(application_id)
    except ApprovalError:
        return approved
    except Exception as exc:  # the workflow failed; its own alerts report that
        log.warning("outcome of %s after the last approval: %r", application_id, exc)
        return approved


async def send_retry_issue(
    client: "Client", application_id: str, request: RetryIssueInput, rpc_timeout: timedelta
) -> ApprovalState:
    """Ask the workflow to try issuing a letter signing refused now; returns the state after
    that attempt (issued, or still signing_blocked)."""
    bound = replace(request, request_id=request_id_of(request.actor_username, request.request_id))
    try:
        return await _approvals(client, rpc_timeout).retry_issue(application_id, bound)
    except ApprovalError as exc:
        _raise_refusal(exc)


async def send_letter_signed(
    client: "Client", application_id: str, signed: LetterSignedInput, rpc_timeout: timedelta
) -> ApprovalState:
    """Tell the workflow the remote signer signed (the letter is issued); returns its state."""
    bound = replace(signed, request_id=request_id_of(signed.actor_username, signed.request_id))
    try:
        return await _approvals(client, rpc_timeout).letter_signed(application_id, bound)
    except ApprovalError as exc:
        _raise_refusal(exc)


async def approval_state(
    client: "Client", application_id: str, rpc_timeout: timedelta
) -> ApprovalState:
    try:
        return await _approvals(client, rpc_timeout).state(application_id)
    except ApprovalError as exc:
        _raise_refusal(exc)


async def issue_request_of(
    client: "Client", application_id: str, rpc_timeout: timedelta
) -> IssueLetterInput | None:
    """Who signs the letter and how, once every step has approved (None before)."""
    try:
        return await _approvals(client, rpc_timeout).issue_request(application_id)
    except ApprovalError as exc:
        _raise_refusal(exc)


def _approvals(client: "Client", rpc_timeout: timedelta) -> "ApprovalClient":
    # Imported here, like temporalio (which a `client` has loaded already): an idle
    # verification that has not yet called the workflow does without them.
    from workflows.approval.client import ApprovalClient

    return ApprovalClient(client, rpc_timeout)


def _raise_refusal(exc: ApprovalError) -> NoReturn:
    if isinstance(exc, ApprovalRefused):
        kind, code = _REFUSALS.get(exc.code, (Conflict, "refused"))
        raise kind(code, exc.message) from exc
    if isinstance(exc, ApprovalNotRunning):
        if exc.finished:
            raise Conflict("finished", "Proses persetujuan permohonan ini sudah selesai.") from exc
        raise NotFound(
            "no-workflow", "Proses persetujuan untuk permohonan ini tidak ditemukan."
        ) from exc
    raise Unavailable("workflow-unavailable", _UNAVAILABLE) from exc
