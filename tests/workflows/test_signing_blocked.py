"""A letter signing refuses (a business error: no certificate for the signer, a Plt's printed
name missing, ...) is kept, shown as signing_blocked, and issued once signing accepts it: on
the workflow's retry timer or at once when desa staff ask (the retry_issue Update). Time-skipping
test server; signing is a double that refuses N times, then issues."""

import json
import uuid
from datetime import timedelta
from itertools import pairwise

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from common.domain import ApplicationStatus, ApprovalErrorCode
from tests.support.waiting import eventually
from tests.workflows.conftest import (
    PAMANUKAN,
    SKD_ROUTE,
    RecordingActivities,
    running_letter,
    wait_for_step,
)
from tests.workflows.test_approval_paths import decide, decision
from workflows.approval import search_attributes as sa
from workflows.approval.models import ApprovalState, CancelInput, RetryIssueInput
from workflows.approval.workflows import LetterApprovalWorkflow

Handle = WorkflowHandle[LetterApprovalWorkflow, ApprovalState]
BLOCKED = "application.signing_blocked"
REASON = "Penandatangan belum memiliki sertifikat."


def retry(role: str, desa: str = PAMANUKAN) -> RetryIssueInput:
    return RetryIssueInput(
        request_id=str(uuid.uuid4()),
        actor_username=f"{role}.pamanukan",
        actor_role=role,
        actor_desa_code=desa,
    )


async def refused(handle: Handle, update: object, arg: object) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(update, arg)  # type: ignore[call-overload]
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def keyword_attributes(handle: Handle) -> dict[str, str | None]:
    """Status, AssigneeRole and Step as stored. Read raw: the test server keeps an unset
    Datetime attribute in a form the SDK's typed decoding refuses."""
    client = handle._client
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    info = described.workflow_execution_info
    fields = info.search_attributes.indexed_fields
    found: dict[str, str | None] = {}
    for key in (sa.STATUS, sa.ASSIGNEE_ROLE, sa.STEP):
        data = fields[key.name].data if key.name in fields else b""
        value = json.loads(data) if data else None  # unset: empty
        found[key.name] = value[0] if isinstance(value, list) and value else value or None
    return found


async def approve_all(handle: Handle) -> None:
    await wait_for_step(handle, 0)
    for index, role in enumerate(SKD_ROUTE):
        await decide(handle, decision(index, role))


async def blocked_state(handle: Handle, activities: RecordingActivities) -> ApprovalState:
    await eventually(lambda: bool(activities.of(BLOCKED)), "signing_blocked recorded")
    state = await handle.query(LetterApprovalWorkflow.state)
    assert state.status == ApplicationStatus.SIGNING_BLOCKED
    return state


async def test_a_refused_letter_waits_visibly_and_is_issued_on_the_retry_timer(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    activities = RecordingActivities(SKD_ROUTE, refuse_issue_times=3)
    async with running_letter(time_skipping_env.client, activities) as handle:
        await approve_all(handle)
        state = await blocked_state(handle, activities)
        assert (state.blocked_reason, state.step_index) == (REASON, None)
        assert state.next_issue_attempt is not None
        # What Diskominfo finds in the Temporal UI: blocked, waiting on the signer role.
        attributes = await keyword_attributes(handle)
        assert attributes == {
            "Status": ApplicationStatus.SIGNING_BLOCKED,
            "AssigneeRole": "kades",
            "Step": None,
        }
        # The resident cannot cancel an approved letter; no decision is open.
        cause = await refused(
            handle, LetterApprovalWorkflow.cancel, CancelInput(request_id=str(uuid.uuid4()))
        )
        assert cause.type == ApprovalErrorCode.FINISHED
        cause = await refused(handle, LetterApprovalWorkflow.decide, decision(2, "kades"))
        assert cause.type == ApprovalErrorCode.STALE_STEP
        result = await handle.result()  # the test server skips through the retry timers
        attributes = await keyword_attributes(handle)

    assert result.status == ApplicationStatus.ISSUED and result.letter is not None
    assert (result.blocked_reason, result.next_issue_attempt) == ("", None)
    assert (attributes["Status"], attributes["AssigneeRole"]) == (ApplicationStatus.ISSUED, None)
    # Refused three times, issued on the fourth attempt, each one a retry interval later.
    assert len(activities.issue_attempts) == 4 and len(activities.issued) == 1
    gaps = [b - a for a, b in pairwise(activities.issue_attempts)]
    assert all(timedelta(minutes=15) <= gap < timedelta(minutes=16) for gap in gaps), gaps
    # Recorded once, with signing's reason and the signer as the role that must act.
    (blocked,) = activities.of(BLOCKED)
    assert (blocked.status, blocked.reason) == (ApplicationStatus.SIGNING_BLOCKED, REASON)
    assert (blocked.step_index, blocked.step_role) == (len(SKD_ROUTE), "kades")
    assert activities.events()[-2:] == [BLOCKED, "letter.issued"]
    assert [r.sequence for r in activities.records] == list(range(1, len(activities.records) + 1))


async def test_staff_retry_at_once_after_fixing_the_cause(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    activities = RecordingActivities(SKD_ROUTE, refuse_issue_times=2)
    async with running_letter(time_skipping_env.client, activities) as handle:
        # Nothing to retry while the letter is still in review.
        await wait_for_step(handle, 0)
        cause = await refused(handle, LetterApprovalWorkflow.retry_issue, retry("kades"))
        assert cause.type == ApprovalErrorCode.NOT_BLOCKED
        for index, role in enumerate(SKD_ROUTE):
            await decide(handle, decision(index, role))
        await blocked_state(handle, activities)

        cause = await refused(handle, LetterApprovalWorkflow.retry_issue, retry("kasi_kesra"))
        assert cause.type == ApprovalErrorCode.WRONG_ROLE and "Kepala Desa" in cause.message
        cause = await refused(
            handle, LetterApprovalWorkflow.retry_issue, retry("kades", "32.13.11.2005")
        )
        assert cause.type == ApprovalErrorCode.WRONG_DESA

        # The Sekdes asks before the cause is fixed: refused again, still blocked, told so.
        again = await handle.execute_update(LetterApprovalWorkflow.retry_issue, retry("sekdes"))
        assert (again.status, again.blocked_reason) == (ApplicationStatus.SIGNING_BLOCKED, REASON)
        # Fixed now: the Kades's retry issues it, long before the retry timer would.
        request = retry("kades")
        issued = await handle.execute_update(LetterApprovalWorkflow.retry_issue, request)
        assert issued.status == ApplicationStatus.ISSUED and issued.letter is not None
        result = await handle.result()

    assert result.status == ApplicationStatus.ISSUED
    assert len(activities.issue_attempts) == 3
    assert activities.issue_attempts[-1] - activities.issue_attempts[0] < timedelta(minutes=15)
    assert activities.events().count(BLOCKED) == 1
    assert activities.events()[-1] == "letter.issued"
