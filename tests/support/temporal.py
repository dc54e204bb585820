"""Reading a workflow's history in tests."""

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle


async def accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    """How many Updates (decisions, resubmissions, cancellations) entered the history: a refused
    one leaves none."""
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return len([e async for e in handle.fetch_history_events() if e.event_type == accepted])
