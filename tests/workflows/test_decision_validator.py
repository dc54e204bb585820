"""The decide/resubmit validators on a real Temporal dev server: refusals are synchronous, carry
a typed ApplicationError the APIs map to 403/409/422, and never enter workflow history."""

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from common.domain import ApprovalErrorCode
from tests.support.temporal import accepted_updates
from tests.workflows.conftest import PAMANUKAN, RecordingActivities, running_letter, wait_for_step
from tests.workflows.test_approval_paths import decision
from workflows.approval import search_attributes as sa
from workflows.approval.models import ApprovalState, CancelInput, DecisionInput, ResubmitInput
from workflows.approval.workflows import LetterApprovalWorkflow

Handle = WorkflowHandle[LetterApprovalWorkflow, ApprovalState]


async def refused_with(handle: Handle, d: DecisionInput) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(LetterApprovalWorkflow.decide, d)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message  # read by staff, in Bahasa Indonesia
    return str(cause.type)


async def test_refusals_are_typed_and_leave_no_history(temporal_client: Client) -> None:
    activities = RecordingActivities(["kasi_pemerintahan", "sekdes", "kades"])
    async with running_letter(temporal_client, activities) as handle:
        await wait_for_step(handle, 0)

        assert await refused_with(handle, decision(0, "sekdes")) == ApprovalErrorCode.WRONG_ROLE
        other_desa = decision(0, "kasi_pemerintahan")
        other_desa.actor_desa_code = "32.13.11.2002"
        assert await refused_with(handle, other_desa) == ApprovalErrorCode.WRONG_DESA
        assert (
            await refused_with(handle, decision(1, "kasi_pemerintahan"))
            == ApprovalErrorCode.STALE_STEP
        )
        assert (
            await refused_with(handle, decision(0, "kasi_pemerintahan", "revise", "  "))
            == ApprovalErrorCode.INVALID
        )
        assert (
            await refused_with(handle, decision(0, "kasi_pemerintahan", "maybe"))
            == ApprovalErrorCode.INVALID
        )
        assert await accepted_updates(handle) == 0

        first = decision(0, "kasi_pemerintahan")
        state = await handle.execute_update(LetterApprovalWorkflow.decide, first)
        assert state.step_role == "sekdes"
        # The Kasi's screen is now stale: a second decision on step 0 is refused.
        assert (
            await refused_with(handle, decision(0, "kasi_pemerintahan"))
            == ApprovalErrorCode.STALE_STEP
        )
        with pytest.raises(WorkflowUpdateFailedError) as not_waiting:
            await handle.execute_update(
                LetterApprovalWorkflow.resubmit, ResubmitInput(request_id=str(uuid.uuid4()))
            )
        assert isinstance(not_waiting.value.cause, ApplicationError)
        assert not_waiting.value.cause.type == ApprovalErrorCode.NOT_AWAITING_RESUBMIT
        assert await accepted_updates(handle) == 1

        # Retrying the same request (a double click, a network retry) answers the same and
        # changes nothing.
        again = await handle.execute_update(LetterApprovalWorkflow.decide, first)
        assert again == state
        assert [r.event for r in activities.records].count("application.decided") == 1

        await handle.execute_update(LetterApprovalWorkflow.decide, decision(1, "sekdes"))
        await handle.execute_update(LetterApprovalWorkflow.decide, decision(2, "kades"))
        result = await handle.result()
        assert result.status == "issued"
        # A finished workflow takes no Update at all: the server refuses it.
        with pytest.raises(RPCError) as finished:
            await handle.execute_update(LetterApprovalWorkflow.decide, decision(2, "kades"))
        assert finished.value.status == RPCStatusCode.NOT_FOUND, finished.value.status

    assert activities.records[0].desa_code == PAMANUKAN


async def test_search_attributes_follow_the_letter(temporal_client: Client) -> None:
    """What Diskominfo filters by in the Temporal UI: codes and roles, kept current."""
    activities = RecordingActivities(["kasi_pemerintahan", "sekdes", "kades"])
    async with running_letter(temporal_client, activities) as handle:
        state = await wait_for_step(handle, 0)
        in_kecamatan = (
            f'WorkflowId = "{handle.id}" AND KecamatanCode = "32.13.11" '
            'AND DesaCode = "32.13.11.2004" AND LetterType = "SKD" AND Overdue = false '
            'AND Step = "kasi_pemerintahan" AND AssigneeRole = "kasi_pemerintahan" '
            'AND `Status` = "in_review"'
        )
        await eventually_listed(temporal_client, in_kecamatan)
        description = await handle.describe()
        attributes = description.typed_search_attributes
        assert attributes.get(sa.DEADLINE) == state.deadline
        assert description.raw_description.workflow_extended_info is not None
        # The one-line summary for the UI: role, since when, due when, in WIB; no personal data.
        details = await current_details(handle)
        assert details.startswith("SKD desa 32.13.11.2004: Menunggu Kasi Pemerintahan sejak ")
        assert ", tenggat " in details and details.endswith("WIB")

        await handle.execute_update(
            LetterApprovalWorkflow.decide, decision(0, "kasi_pemerintahan", "revise", "KK buram")
        )
        await eventually_listed(
            temporal_client,
            f'WorkflowId = "{handle.id}" AND `Status` = "revision_requested" '
            'AND AssigneeRole = "pemohon" AND Step IS NULL',
        )
        await handle.execute_update(
            LetterApprovalWorkflow.cancel, CancelInput(request_id=str(uuid.uuid4()))
        )
        await handle.result()
        await eventually_listed(
            temporal_client,
            f'WorkflowId = "{handle.id}" AND `Status` = "cancelled" AND AssigneeRole IS NULL '
            "AND Deadline IS NULL",
        )


async def test_finished_letters_take_no_decision_or_cancel(temporal_client: Client) -> None:
    activities = RecordingActivities(["kasi_pemerintahan"])
    async with running_letter(temporal_client, activities) as handle:
        await wait_for_step(handle, 0)
        cancel = CancelInput(request_id=str(uuid.uuid4()))
        cancelled = await handle.execute_update(LetterApprovalWorkflow.cancel, cancel)
        assert cancelled.status == "cancelled"
        assert (await handle.result()).status == "cancelled"
        # A closed workflow takes no Update at all, not even a retry: the server refuses it
        # (intake and verification then answer from their own records).
        for update, arg in (
            (LetterApprovalWorkflow.decide, decision(0, "kasi_pemerintahan")),
            (LetterApprovalWorkflow.cancel, CancelInput(request_id=str(uuid.uuid4()))),
        ):
            with pytest.raises(RPCError) as finished:
                await handle.execute_update(update, arg)  # type: ignore[arg-type]
            assert finished.value.status == RPCStatusCode.NOT_FOUND, finished.value.status
        with pytest.raises(RPCError):
            await handle.execute_update(LetterApprovalWorkflow.cancel, cancel)
    assert activities.events().count("application.cancelled") == 1


async def eventually_listed(client: Client, query: str, within: float = 60) -> None:
    """Visibility is eventually consistent: poll the list until the query matches."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = [w.id async for w in client.list_workflows(query)]
        if found:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no workflow matches {query}")
        await asyncio.sleep(0.2)


async def current_details(handle: Handle) -> str:
    """The text workflow.set_current_details shows in the UI, read through the system query."""
    metadata = await handle.query("__temporal_workflow_metadata")
    return str(metadata.current_details)
