"""Intake's side of the approval workflow: starting it on submit, passing on a resubmission and
the resident's cancellation, through the workflow's one client (workflows.approval.client).
Intake never imports the workflow's code or its activities, and imports the client (with
temporalio) only at its first call to the workflow (common/temporal_client.py)."""

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from common.domain import ApprovalErrorCode
from common.temporal_client import TemporalConnection
from workflows.approval.errors import ApprovalNotRunning, ApprovalRefused, ApprovalUnavailable
from workflows.approval.models import ApprovalInput, ApprovalState

if TYPE_CHECKING:
    from workflows.approval.client import ApprovalClient

log = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=10)

__all__ = [
    "NOT_CANCELLABLE",
    "ApprovalUnavailable",
    "NotAwaitingResubmit",
    "NotCancellable",
    "cancel",
    "resubmit",
    "start_approval",
]


class NotAwaitingResubmit(Exception):
    """The workflow refused the resubmission: it is not waiting for one."""


class NotCancellable(Exception):
    """The workflow refused the cancellation; `str(exc)` is its (Indonesian) reason."""


NOT_CANCELLABLE = "Permohonan ini sudah selesai diproses sehingga tidak dapat dibatalkan."


async def _approvals(temporal: TemporalConnection) -> "ApprovalClient":
    client = await temporal.client()
    from workflows.approval.client import ApprovalClient  # temporalio is loaded by now

    return ApprovalClient(client, RPC_TIMEOUT)


async def start_approval(
    temporal: TemporalConnection, task_queue: str, approval: ApprovalInput
) -> str:
    """Starts the application's workflow, or finds the one already running; returns its run id.
    Raises ApprovalUnavailable when Temporal cannot be reached."""
    run_id = await (await _approvals(temporal)).start(task_queue, approval)
    log.info("workflow for application %s started (run %s)", approval.application_id, run_id)
    return run_id


async def resubmit(
    temporal: TemporalConnection, application_id: str, request_id: str
) -> ApprovalState:
    try:
        return await (await _approvals(temporal)).resubmit(application_id, request_id)
    except ApprovalRefused as exc:
        if exc.code in (ApprovalErrorCode.NOT_AWAITING_RESUBMIT, ApprovalErrorCode.FINISHED):
            raise NotAwaitingResubmit() from exc
        raise
    except ApprovalNotRunning as exc:
        raise NotAwaitingResubmit() from exc


async def cancel(
    temporal: TemporalConnection, application_id: str, request_id: str
) -> ApprovalState:
    """Asks the workflow to end the application at the resident's request. The workflow's
    validator decides whether it still may; a retry with the same request id gets the same
    answer and changes nothing."""
    try:
        return await (await _approvals(temporal)).cancel(application_id, request_id)
    except ApprovalRefused as exc:
        # A validator refusal: its message is written for the resident.
        raise NotCancellable(exc.message or NOT_CANCELLABLE) from exc
    except ApprovalNotRunning as exc:  # the workflow has already finished
        raise NotCancellable(NOT_CANCELLABLE) from exc
