"""Starting a complaint's workflow and telling it about the answer: what intake calls (it never
imports the workflow's code or its activities)."""

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from workflows.complaint import SIGNAL_ANSWERED, WORKFLOW_NAME, workflow_id
from workflows.complaint.models import ComplaintInput

if TYPE_CHECKING:
    from temporalio.client import Client

log = logging.getLogger(__name__)

RPC_TIMEOUT = timedelta(seconds=10)


class ComplaintWorkflowUnavailable(Exception):
    """Temporal did not answer; nothing was started."""


# temporalio is imported in the functions: intake imports this module at start, and loads
# temporalio only with its first call to Temporal (common/temporal_client.py).


async def start_complaint(client: "Client", queue: str, input: ComplaintInput) -> None:
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.service import RPCError

    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            input,
            id=workflow_id(input.complaint_id),
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            rpc_timeout=RPC_TIMEOUT,
        )
    except (RPCError, RuntimeError) as exc:
        log.warning("cannot start the workflow of complaint %s: %s", input.complaint_id, exc)
        raise ComplaintWorkflowUnavailable() from exc


async def tell_answered(client: "Client", complaint_id: str) -> bool:
    """False when Temporal did not take it: the answer is stored all the same, and at the
    deadline intake's escalation finds it answered and does nothing."""
    from temporalio.service import RPCError

    try:
        await client.get_workflow_handle(workflow_id(complaint_id)).signal(
            SIGNAL_ANSWERED, rpc_timeout=RPC_TIMEOUT
        )
    except (RPCError, RuntimeError) as exc:
        log.warning("cannot signal the workflow of complaint %s: %s", complaint_id, exc)
        return False
    return True
