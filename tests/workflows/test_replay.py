"""Replays stored histories of every path of a letter against the current workflow code. A
change that would make running letters replay differently (a nondeterminism error) fails here.
The skeleton-* histories come from the first version of the workflow, before deadlines and
search attributes, the activities-* ones from before the route and the progress records were
local activities: they replay through the `workflow.patched` branches. To record the current
paths again: `make record-histories` (see tests/workflows/record_histories.py)."""

import importlib.abc
import json
import sys

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from tests.workflows.record_histories import HISTORIES, PATHS
from workflows.approval.workflows import LetterApprovalWorkflow

pytestmark = pytest.mark.unit

STORED = sorted(HISTORIES.glob("*.json"))
TEXTS = {p.stem: p.read_text() for p in STORED}


def test_every_path_has_a_stored_history() -> None:
    assert {p.stem for p in STORED} >= set(PATHS)
    assert any(p.stem.startswith("skeleton-") for p in STORED)


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_history_replays(name: str, sandboxed: bool) -> None:
    """Unsandboxed too: the worker may run letters outside the sandbox
    (SMARTDESA_WORKER_WORKFLOW_SANDBOX=false), where one run's module state is the next's."""
    text = TEXTS[name]
    workflow_id = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"].get(
        "workflowId", name
    )
    history = WorkflowHistory.from_json(workflow_id, text)
    runner = SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()
    await Replayer(workflows=[LetterApprovalWorkflow], workflow_runner=runner).replay_workflow(
        history
    )


class _Recorder(importlib.abc.MetaPathFinder):
    """Names every module imported afresh (found on the path, not in sys.modules)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        self.names.append(fullname)


async def test_a_letter_loads_only_the_workflow_module_in_the_sandbox() -> None:
    """The sandbox runs the workflow's own module again for every letter; everything it uses
    is passed through. A submodule imported by a from-list of its package (`from
    workflows.approval import rules`) would be run again per letter (docs/performance.md)."""
    text = TEXTS["approved"]
    replayer = Replayer(workflows=[LetterApprovalWorkflow])
    await replayer.replay_workflow(WorkflowHistory.from_json("first", text))
    recorder = _Recorder()
    sys.meta_path.insert(0, recorder)
    try:
        await replayer.replay_workflow(WorkflowHistory.from_json("second", text))
    finally:
        sys.meta_path.remove(recorder)
    assert sorted(set(recorder.names)) == [
        "workflows",
        "workflows.approval",
        "workflows.approval.workflows",
    ]
