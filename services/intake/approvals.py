"""Intake's side of the approval workflow: starting it on submit, passing on a resubmission and
the resident's cancellation, through the workflow's one client (workflows.approval.client).
Intake never imports the workflow's code or its activities."""

import logging
from datetime import timedelta

from temporalio.client import Client

from common.domain import ApprovalErrorCode
from common.tracing import temporal_interceptors
from workflows.approval.client import (
    ApprovalClient,
    ApprovalNotRunning,
    ApprovalRefused,
    ApprovalUnavailable,
)
from workflows.approval.models import ApprovalInput, ApprovalState

log = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=10)

__all__ = [
    "NOT_CANCELLABLE",
    "ApprovalUnavailable",
    "NotAwaitingResubmit",
    "NotCancellable",
    "cancel",
    "connect",
    "resubmit",
    "start_approval",
]


class NotAwaitingResubmit(Exception):
    """The workflow refused the resubmission: it is not waiting for one."""


class NotCancellable(Exception):
    """The workflow refused the cancellation; `str(exc)` is its (Indonesian) reason."""


NOT_CANCELLABLE = "Permohonan ini sudah selesai diproses sehingga tidak dapat dibatalkan."


async def connect(address: str, namespace: str) -> Client:
    # Lazy: intake serves sign-in and drafts while Temporal is still starting or briefly away;
    # submitting then answers 503 instead of the whole gateway being down.
    return await Client.connect(
        address, namespace=namespace, lazy=True, interceptors=temporal_interceptors()
    )


async def start_approval(client: Client, task_queue: str, approval: ApprovalInput) -> str:
    """Starts the application's workflow, or finds the one already running; returns its run id.
    Raises ApprovalUnavailable when Temporal cannot be reached."""
    run_id = await ApprovalClient(client, RPC_TIMEOUT).start(task_queue, approval)
    log.info("workflow for application %s started (run %s)", approval.application_id, run_id)
    return run_id


async def resubmit(client: Client, application_id: str, request_id: str) -> ApprovalState:
    try:
        return await ApprovalClient(client, RPC_TIMEOUT).resubmit(application_id, request_id)
    except ApprovalRefused as exc:
        if exc.code in (ApprovalErrorCode.NOT_AWAITING_RESUBMIT, ApprovalErrorCode.FINISHED):
            raise NotAwaitingResubmit() from exc
        raise
    except ApprovalNotRunning as exc:
        raise NotAwaitingResubmit() from exc


async def cancel(client: Client, application_id: str, request_id: str) -> ApprovalState:
    """Asks the workflow to end the application at the resident's request. The workflow's
    validator decides whether it still may; a retry with the same request id gets the same
    answer and changes nothing."""
    try:
        return await ApprovalClient(client, RPC_TIMEOUT).cancel(application_id, request_id)
    except ApprovalRefused as exc:
        # A validator refusal: its message is written for the resident.
        raise NotCancellable(exc.message or NOT_CANCELLABLE) from exc
    except ApprovalNotRunning as exc:  # the workflow has already finished
        raise NotCancellable(NOT_CANCELLABLE) from exc
