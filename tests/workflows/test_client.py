"""The approval client on a real Temporal dev server: typed calls, the request id as the Update
id (a repeat by the same actor adds nothing to history; the same request id from another actor
is refused), and the three domain errors every caller sees."""

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from temporalio import workflow as temporal_workflow
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from common.domain import ApplicationStatus, ApprovalErrorCode
from tests.support.processes import free_port
from tests.workflows.conftest import PAMANUKAN, RecordingActivities, running_letter, wait_for_step
from tests.workflows.test_approval_paths import decision
from workflows.approval import contract
from workflows.approval.client import ApprovalClient
from workflows.approval.errors import ApprovalNotRunning, ApprovalRefused, ApprovalUnavailable
from workflows.approval.models import ApprovalInput
from workflows.approval.workflows import LetterApprovalWorkflow

WAIT = timedelta(seconds=10)


async def history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len((await handle.fetch_history()).events)


def test_the_workflow_answers_every_definition_of_the_contract() -> None:
    defn = temporal_workflow._Definition.must_from_class(LetterApprovalWorkflow)
    assert set(defn.updates) == {u.name for u in contract.UPDATES}
    for update in contract.UPDATES:
        handler = defn.updates[update.name]
        assert handler.arg_types == [update.arg] and handler.ret_type == update.result
    assert set(defn.queries) >= {q.name for q in contract.QUERIES}
    for query in contract.QUERIES:
        assert defn.queries[query.name].ret_type == query.result


async def test_a_repeated_decision_adds_nothing_and_another_actor_is_refused(
    temporal_client: Client,
) -> None:
    approvals = ApprovalClient(temporal_client, WAIT)
    activities = RecordingActivities(["kasi_pemerintahan", "sekdes", "kades"])
    async with running_letter(temporal_client, activities) as handle:
        application_id = (await handle.query(LetterApprovalWorkflow.state)).application_id
        await wait_for_step(handle, 0)
        first = decision(0, "kasi_pemerintahan")
        state = await approvals.decide(application_id, first)
        assert state.step_role == "sekdes"
        events = await history_length(handle)

        # The same actor sends the same request again (a double click, a network retry): the
        # same answer, and the workflow's history does not grow.
        assert await approvals.decide(application_id, first) == state
        assert await history_length(handle) == events

        # Another staff member re-sends that request id (as another Update): refused by the
        # validator, and nothing enters the history. The Sekdes is who the step waits on now,
        # so only the request id's owner makes this a refusal.
        stolen = replace(decision(1, "sekdes"), request_id=first.request_id)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                LetterApprovalWorkflow.decide, stolen, id=f"another-{uuid.uuid4()}"
            )
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == ApprovalErrorCode.REQUEST_REUSED
        assert await history_length(handle) == events
        assert activities.events().count("application.decided") == 1

        # Through the client, a refusal is one domain error with the validator's message.
        with pytest.raises(ApprovalRefused) as wrong_role:
            await approvals.decide(application_id, decision(1, "kades"))
        assert wrong_role.value.code == ApprovalErrorCode.WRONG_ROLE
        assert "Sekretaris Desa" in wrong_role.value.message


async def test_not_running_and_unavailable(temporal_client: Client) -> None:
    approvals = ApprovalClient(temporal_client, WAIT)
    with pytest.raises(ApprovalNotRunning) as never:
        await approvals.decide(str(uuid.uuid4()), decision(0, "kasi_pemerintahan"))
    assert never.value.finished is False

    activities = RecordingActivities(["kasi_pemerintahan"])
    async with running_letter(temporal_client, activities) as handle:
        application_id = (await handle.query(LetterApprovalWorkflow.state)).application_id
        await wait_for_step(handle, 0)
        await approvals.decide(application_id, decision(0, "kasi_pemerintahan"))
        assert (await handle.result()).status == ApplicationStatus.ISSUED
    with pytest.raises(ApprovalNotRunning) as ended:
        await approvals.cancel(application_id, "batal-1")
    assert ended.value.finished is True

    nowhere = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    unreachable = ApprovalClient(nowhere, timedelta(seconds=2))
    with pytest.raises(ApprovalUnavailable):
        await unreachable.start("antrean", ApprovalInput(str(uuid.uuid4()), PAMANUKAN, "SKD"))
    with pytest.raises(ApprovalUnavailable):
        await unreachable.state(str(uuid.uuid4()))
