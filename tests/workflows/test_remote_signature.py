"""A desa whose signer signs remotely (BSrE): after the last approval the letter waits for the
signer's signature like one more step (awaiting_signature: status, assignee, deadlines and
escalation), and is issued when the `letter_signed` Update brings the issued letter. Signing
is never asked by the workflow, so it never refuses, and nothing says the letter is stuck."""

import uuid
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from common.domain import ApplicationStatus, ApprovalErrorCode, Role
from common.domain.events import (
    APPLICATION_ESCALATED,
    APPLICATION_REMINDED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
)
from tests.support.temporal import accepted_updates
from tests.support.waiting import eventually
from tests.workflows.conftest import (
    PAMANUKAN,
    SKD_ROUTE,
    RecordingActivities,
    running_letter,
    wait_for_step,
)
from tests.workflows.test_approval_paths import decide, decision
from tests.workflows.test_signing_blocked import approve_all, keyword_attributes, refused
from tests.workflows.test_timers import skip_to
from workflows.approval.models import (
    ApprovalState,
    CancelInput,
    LetterInfo,
    LetterSignedInput,
    RetryIssueInput,
    Route,
    RouteStep,
)
from workflows.approval.workflows import LetterApprovalWorkflow

Handle = WorkflowHandle[LetterApprovalWorkflow, ApprovalState]
LETTER = LetterInfo("letter-bsre-1", "470/001/32.13.11.2004/XII/2026", "http://x/verifikasi/c")


def remote_route() -> Route:
    return Route(
        steps=[RouteStep(role=r) for r in SKD_ROUTE], signer_role="kades", remote_signature=True
    )


async def approve_all_but_last(handle: Handle) -> None:
    await wait_for_step(handle, 0)
    await decide(handle, decision(0, "kasi_pemerintahan"))
    await decide(handle, decision(1, "sekdes"))


def signed(
    role: str = "kades", desa: str = PAMANUKAN, letter: LetterInfo = LETTER
) -> LetterSignedInput:
    return LetterSignedInput(str(uuid.uuid4()), f"{role}.pamanukan", role, desa, letter)


async def test_the_letter_waits_for_its_signer_and_is_issued_when_signed(
    temporal_client: Client,
) -> None:
    activities = RecordingActivities(remote_route())
    async with running_letter(temporal_client, activities) as handle:
        # Signed before every step approved: nothing waits for a signature yet.
        await approve_all_but_last(handle)
        cause = await refused(handle, LetterApprovalWorkflow.letter_signed, signed())
        assert cause.type == ApprovalErrorCode.NOT_AWAITING_SIGNATURE

        state = await decide(handle, decision(2, "kades"))
        # The Kades's approval is answered with the letter waiting for their signature.
        assert state.status == ApplicationStatus.AWAITING_SIGNATURE
        assert (state.step_index, state.step_role, state.assignee_role) == (3, "kades", "kades")
        assert state.deadline is not None and state.step_started is not None
        request = await handle.query(LetterApprovalWorkflow.issue_request)
        assert request is not None and request.signer_role == "kades"
        assigned = activities.of(APPLICATION_STEP_ASSIGNED)[-1]
        assert (assigned.status, assigned.step_index, assigned.step_role) == (
            ApplicationStatus.AWAITING_SIGNATURE,
            3,
            "kades",
        )
        assert await keyword_attributes(handle) == {
            "Status": ApplicationStatus.AWAITING_SIGNATURE,
            "AssigneeRole": "kades",
            "Step": "kades",
        }

        # Who may sign: the signer role, Sekdes, Kades of the desa (one rule with retry_issue);
        # a letter reference is required; the resident can no longer cancel; it is not blocked.
        before = await accepted_updates(handle)
        for wrong, code in (
            (signed("kasi_pemerintahan"), ApprovalErrorCode.WRONG_ROLE),
            (signed(desa="32.13.11.2002"), ApprovalErrorCode.WRONG_DESA),
            (signed(letter=LetterInfo("", "", "")), ApprovalErrorCode.INVALID),
        ):
            cause = await refused(handle, LetterApprovalWorkflow.letter_signed, wrong)
            assert cause.type == code and cause.message
        cause = await refused(handle, LetterApprovalWorkflow.cancel, CancelInput("batal"))
        assert cause.type == ApprovalErrorCode.FINISHED
        retry = RetryIssueInput(str(uuid.uuid4()), "kades.pamanukan", "kades", PAMANUKAN)
        cause = await refused(handle, LetterApprovalWorkflow.retry_issue, retry)
        assert cause.type == ApprovalErrorCode.NOT_BLOCKED
        assert await accepted_updates(handle) == before

        state = await handle.execute_update(LetterApprovalWorkflow.letter_signed, signed())
        assert state.status == ApplicationStatus.ISSUED and state.letter == LETTER
        assert (await handle.result()).status == ApplicationStatus.ISSUED

    # The workflow never asked signing to issue (verification did, with the passphrase), and
    # nothing on the way said the letter was stuck.
    assert activities.issue_attempts == []
    assert APPLICATION_SIGNING_BLOCKED not in activities.events()
    (issued,) = activities.of(LETTER_ISSUED)
    assert issued.letter == LETTER
    assert activities.events()[-3:] == [
        "application.decided",
        "application.step_assigned",
        "letter.issued",
    ]


async def test_a_signature_not_given_is_reminded_and_escalated(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    activities = RecordingActivities(remote_route())
    async with running_letter(env.client, activities) as handle:
        await approve_all(handle)
        state = await handle.query(LetterApprovalWorkflow.state)
        assert state.status == ApplicationStatus.AWAITING_SIGNATURE and state.deadline
        reminders_before = len(activities.of(APPLICATION_REMINDED))

        await skip_to(env, state.deadline)
        await eventually(lambda: bool(activities.of(APPLICATION_ESCALATED)), "escalation")
        assert len(activities.of(APPLICATION_REMINDED)) > reminders_before
        (escalated,) = activities.of(APPLICATION_ESCALATED)
        # The Kades answers to the kabupaten operator, who follows the letter up.
        assert (escalated.status, escalated.step_role, escalated.escalated_to_role) == (
            ApplicationStatus.AWAITING_SIGNATURE,
            "kades",
            Role.KABUPATEN_OPERATOR,
        )
        state = await handle.query(LetterApprovalWorkflow.state)
        assert state.overdue and state.assignee_role == Role.KABUPATEN_OPERATOR

        # Signed late: issued all the same, still never blocked.
        await env.sleep(timedelta(hours=1))
        state = await handle.execute_update(LetterApprovalWorkflow.letter_signed, signed())
        assert state.status == ApplicationStatus.ISSUED
        await handle.result()
    assert APPLICATION_SIGNING_BLOCKED not in activities.events()
    assert activities.issue_attempts == []
