"""Replays stored histories of every path of a letter against the current workflow code. A
change that would make running letters replay differently (a nondeterminism error) fails here.
The skeleton-* histories come from the first version of the workflow, before deadlines and
search attributes, the activities-* ones from before the route and the progress records were
local activities: they replay through the `workflow.patched` branches. To record the current
paths again: `make record-histories` (see tests/workflows/record_histories.py)."""

import json

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflows.record_histories import HISTORIES, PATHS
from workflows.approval.workflows import LetterApprovalWorkflow

pytestmark = pytest.mark.unit

STORED = sorted(HISTORIES.glob("*.json"))
TEXTS = {p.stem: p.read_text() for p in STORED}


def test_every_path_has_a_stored_history() -> None:
    assert {p.stem for p in STORED} >= set(PATHS)
    assert any(p.stem.startswith("skeleton-") for p in STORED)


@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_history_replays(name: str) -> None:
    text = TEXTS[name]
    workflow_id = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"].get(
        "workflowId", name
    )
    history = WorkflowHistory.from_json(workflow_id, text)
    await Replayer(workflows=[LetterApprovalWorkflow]).replay_workflow(history)
