"""A staff decision travels to the application's approval workflow as the Temporal Update
`decide` (a request to issue a letter signing refused again: `retry_issue`). The workflow's validator is the authority on role, desa, step and reasons: what it
refuses never enters the workflow's history, and we pass its (Indonesian) message on."""

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from common.domain import ApprovalErrorCode, role_label
from common.http import Problem
from services.verification.models import Task
from workflows.approval import workflow_id
from workflows.approval.models import ApprovalState, DecisionInput, RetryIssueInput

log = logging.getLogger(__name__)

DECIDE_UPDATE = "decide"
RETRY_ISSUE_UPDATE = "retry_issue"

# Validator refusals -> (HTTP status, problem code).
_REFUSALS: dict[str, tuple[int, str]] = {
    ApprovalErrorCode.WRONG_ROLE: (403, "wrong-role"),
    ApprovalErrorCode.WRONG_DESA: (403, "wrong-desa"),
    ApprovalErrorCode.STALE_STEP: (409, "stale-step"),
    ApprovalErrorCode.FINISHED: (409, "finished"),
    ApprovalErrorCode.NOT_AWAITING_RESUBMIT: (409, "not-awaiting-resubmit"),
    ApprovalErrorCode.NOT_BLOCKED: (409, "not-blocked"),
    ApprovalErrorCode.INVALID: (422, "invalid-decision"),
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
            raise Problem(
                403,
                f"Anda tidak sedang memegang peran {role_label(act_as)}.",
                code="role-not-held",
            )
        return act_as
    candidates = (
        (open_task.role, open_task.supervisor_role, open_task.escalated_to_role)
        if open_task is not None
        else ()
    )
    return next((r for r in candidates if r and r in roles_held), own_role)


async def send_decision(
    client: Client, application_id: str, decision: DecisionInput, rpc_timeout: timedelta
) -> ApprovalState:
    """Deliver `decision` and return the workflow's state after it; raises Problem on refusal."""
    return await _update(client, application_id, DECIDE_UPDATE, decision, rpc_timeout)


async def send_retry_issue(
    client: Client, application_id: str, request: RetryIssueInput, rpc_timeout: timedelta
) -> ApprovalState:
    """Ask the workflow to try issuing a letter signing refused now; returns the state after
    that attempt (issued, or still signing_blocked)."""
    return await _update(client, application_id, RETRY_ISSUE_UPDATE, request, rpc_timeout)


async def _update(
    client: Client,
    application_id: str,
    name: str,
    arg: DecisionInput | RetryIssueInput,
    rpc_timeout: timedelta,
) -> ApprovalState:
    handle = client.get_workflow_handle(workflow_id(application_id))
    try:
        state: ApprovalState = await handle.execute_update(
            name, arg, result_type=ApprovalState, rpc_timeout=rpc_timeout
        )
        return state
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in _REFUSALS:
            status, code = _REFUSALS[cause.type]
            raise Problem(status, cause.message, code=code) from exc
        log.error("%s update on application %s failed: %r", name, application_id, cause)
        raise Problem(
            500,
            "Keputusan tidak dapat diproses karena kesalahan pada server.",
            code="decide-failed",
        ) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        log.warning("%s update on application %s timed out", name, application_id)
        raise Problem(503, _UNAVAILABLE, code="workflow-unavailable") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise await _not_running(client, application_id) from exc
        log.warning("%s update on application %s: %s %s", name, application_id, exc.status, exc)
        raise Problem(503, _UNAVAILABLE, code="workflow-unavailable") from exc


async def _not_running(client: Client, application_id: str) -> Problem:
    """The server found no running workflow: either there never was one, or it has finished
    (the validator can only refuse while the workflow runs)."""
    try:
        description = await client.get_workflow_handle(workflow_id(application_id)).describe()
    except RPCError:
        return Problem(
            404, "Proses persetujuan untuk permohonan ini tidak ditemukan.", code="no-workflow"
        )
    if description.status != WorkflowExecutionStatus.RUNNING:
        return Problem(409, "Proses persetujuan permohonan ini sudah selesai.", code="finished")
    return Problem(503, _UNAVAILABLE, code="workflow-unavailable")
