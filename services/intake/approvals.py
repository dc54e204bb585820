"""Intake's side of the approval workflow: starting it on submit, passing on a resubmission and
the resident's cancellation. The workflow is addressed by name and id only; intake never imports
its code."""

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    RPCError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCStatusCode

from common.domain import ApprovalErrorCode
from common.tracing import temporal_interceptors
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.models import ApprovalInput, ApprovalState, CancelInput, ResubmitInput

log = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=10)


class ApprovalUnavailable(Exception):
    """Temporal cannot be reached; nothing was started or changed."""


class NotAwaitingResubmit(Exception):
    """The workflow refused the resubmission: it is not waiting for one."""


class NotCancellable(Exception):
    """The workflow refused the cancellation; `str(exc)` is its (Indonesian) reason."""


CANCEL_UPDATE = "cancel"
NOT_CANCELLABLE = "Permohonan ini sudah selesai diproses sehingga tidak dapat dibatalkan."


async def connect(address: str, namespace: str) -> Client:
    # Lazy: intake serves sign-in and drafts while Temporal is still starting or briefly away;
    # submitting then answers 503 instead of the whole gateway being down.
    return await Client.connect(
        address, namespace=namespace, lazy=True, interceptors=temporal_interceptors()
    )


def _is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, RPCError):
        return True
    # A lazy client that cannot connect raises a bare RuntimeError.
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


async def start_approval(client: Client, task_queue: str, approval: ApprovalInput) -> str:
    """Starts the application's workflow, or finds the one already running; returns its run id."""
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            approval,
            id=workflow_id(approval.application_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            rpc_timeout=RPC_TIMEOUT,
        )
    except Exception as exc:
        if _is_unreachable(exc):
            log.warning(
                "cannot start workflow for application %s: %s", approval.application_id, exc
            )
            raise ApprovalUnavailable() from exc
        raise
    log.info("workflow for application %s started (run %s)", approval.application_id, handle.run_id)
    return handle.result_run_id or ""


async def resubmit(client: Client, application_id: str, request_id: str) -> ApprovalState:
    handle = client.get_workflow_handle(workflow_id(application_id))
    try:
        state: ApprovalState = await handle.execute_update(
            "resubmit",
            ResubmitInput(request_id=request_id),
            id=request_id,
            result_type=ApprovalState,
            rpc_timeout=RPC_TIMEOUT,
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in (
            ApprovalErrorCode.NOT_AWAITING_RESUBMIT,
            ApprovalErrorCode.FINISHED,
        ):
            raise NotAwaitingResubmit() from exc
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        # No worker took the update in time; the resident may simply try again.
        log.warning("resubmit of application %s timed out", application_id)
        raise ApprovalUnavailable() from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotAwaitingResubmit() from exc
        log.warning("cannot resubmit application %s: %s", application_id, exc)
        raise ApprovalUnavailable() from exc
    except Exception as exc:
        if _is_unreachable(exc):
            log.warning("cannot resubmit application %s: %s", application_id, exc)
            raise ApprovalUnavailable() from exc
        raise
    return state


async def cancel(client: Client, application_id: str, request_id: str) -> ApprovalState:
    """Asks the workflow to end the application at the resident's request. The workflow's
    validator decides whether it still may; a retry with the same request id gets the same
    answer and changes nothing."""
    handle = client.get_workflow_handle(workflow_id(application_id))
    try:
        state: ApprovalState = await handle.execute_update(
            CANCEL_UPDATE,
            CancelInput(request_id=request_id),
            # The update id too: Temporal itself then answers a repeat with the first outcome.
            id=request_id,
            result_type=ApprovalState,
            rpc_timeout=RPC_TIMEOUT,
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            # A validator refusal: its message is written for the resident.
            raise NotCancellable(cause.message or NOT_CANCELLABLE) from exc
        log.error("cancel update on application %s failed: %r", application_id, cause)
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        log.warning("cancel of application %s timed out", application_id)
        raise ApprovalUnavailable() from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # the workflow has already finished
            raise NotCancellable(NOT_CANCELLABLE) from exc
        log.warning("cannot cancel application %s: %s", application_id, exc)
        raise ApprovalUnavailable() from exc
    except Exception as exc:
        if _is_unreachable(exc):
            log.warning("cannot cancel application %s: %s", application_id, exc)
            raise ApprovalUnavailable() from exc
        raise
    return state
