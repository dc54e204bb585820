"""The workflow's paths on Temporal's time-skipping test server."""

import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from common.domain import ApplicationStatus
from tests.workflows.conftest import (
    PAMANUKAN,
    SKD_ROUTE,
    RecordingActivities,
    running_letter,
    wait_for_step,
)
from workflows.approval.models import (
    ApprovalState,
    DecisionInput,
    ResubmitInput,
    Route,
    RouteStep,
)
from workflows.approval.rules import signing_steps
from workflows.approval.workflows import LetterApprovalWorkflow


def decision(step: int, role: str, verdict: str = "approve", reason: str = "") -> DecisionInput:
    return DecisionInput(
        request_id=str(uuid.uuid4()),
        decision=verdict,
        step_index=step,
        actor_username=f"{role}.pamanukan",
        actor_role=role,
        actor_desa_code=PAMANUKAN,
        reason=reason,
    )


async def decide(
    handle: WorkflowHandle[LetterApprovalWorkflow, ApprovalState], d: DecisionInput
) -> ApprovalState:
    return await handle.execute_update(LetterApprovalWorkflow.decide, d)


async def test_three_approvals_issue_the_letter(
    time_skipping_env: WorkflowEnvironment, activities: RecordingActivities
) -> None:
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        after_kasi = await decide(handle, decision(0, "kasi_pemerintahan"))
        assert (after_kasi.step_index, after_kasi.step_role) == (1, "sekdes")
        after_sekdes = await decide(handle, decision(1, "sekdes"))
        assert (after_sekdes.step_index, after_sekdes.step_role) == (2, "kades")
        after_kades = await decide(handle, decision(2, "kades"))
        assert after_kades.step_index is None
        result = await handle.result()

    assert result.status == ApplicationStatus.ISSUED
    assert result.letter is not None and result.letter.number.startswith("470/001/")
    assert [i.signer_role for i in activities.issued] == ["kades"]
    assert activities.events() == [
        "application.step_assigned",
        "application.decided",
        "application.step_assigned",
        "application.decided",
        "application.step_assigned",
        "application.decided",
        "letter.issued",
    ]
    assert [r.sequence for r in activities.records] == list(range(1, 8))
    assigned = [r.step_role for r in activities.records if r.event == "application.step_assigned"]
    assert assigned == SKD_ROUTE
    decided_by = [r.actor_role for r in activities.records if r.event == "application.decided"]
    assert decided_by == SKD_ROUTE
    assert activities.records[-1].letter == result.letter


async def test_revision_returns_to_the_same_step(
    time_skipping_env: WorkflowEnvironment, activities: RecordingActivities
) -> None:
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        await decide(handle, decision(0, "kasi_pemerintahan"))
        returned = await decide(handle, decision(1, "sekdes", "revise", "Foto KK tidak terbaca"))
        assert returned.status == "revision_requested"
        assert returned.step_index is None
        resumed = await handle.execute_update(
            LetterApprovalWorkflow.resubmit, ResubmitInput(request_id=str(uuid.uuid4()))
        )
        # Back at the Sekdes, not at the start of the route.
        assert (resumed.status, resumed.step_index, resumed.step_role) == ("in_review", 1, "sekdes")
        await decide(handle, decision(1, "sekdes"))
        await decide(handle, decision(2, "kades"))
        result = await handle.result()

    assert result.status == ApplicationStatus.ISSUED
    revision = next(r for r in activities.records if r.event == "application.revision_requested")
    assert (revision.reason, revision.actor_role, revision.decision) == (
        "Foto KK tidak terbaca",
        "sekdes",
        "revise",
    )
    assert "application.resubmitted" in activities.events()
    assigned = [r.step_role for r in activities.records if r.event == "application.step_assigned"]
    assert assigned == ["kasi_pemerintahan", "sekdes", "sekdes", "kades"]


async def test_reject_ends_without_a_letter(
    time_skipping_env: WorkflowEnvironment, activities: RecordingActivities
) -> None:
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        rejected = await decide(
            handle, decision(0, "kasi_pemerintahan", "reject", "Bukan warga desa ini")
        )
        assert rejected.status == ApplicationStatus.REJECTED
        result = await handle.result()

    assert result.status == ApplicationStatus.REJECTED
    assert activities.issued == []
    assert activities.events()[-1] == "application.rejected"
    assert activities.records[-1].reason == "Bukan warga desa ini"


async def test_progress_is_retried_with_backoff_until_intake_answers(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Intake fails the first three calls; the retry timers are skipped by the test server.
    activities = RecordingActivities(SKD_ROUTE, fail_record_times=3)
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        state = await decide(handle, decision(0, "kasi_pemerintahan"))
        assert state.step_role == "sekdes"
        await handle.terminate("test done")

    assert activities.record_attempts >= 3 + 3
    assert [r.sequence for r in activities.records] == [1, 2, 3]


def _scheduled_activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def _local_activities(history: WorkflowHistory) -> int:
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


async def test_route_and_progress_are_local_activities(
    time_skipping_env: WorkflowEnvironment, activities: RecordingActivities
) -> None:
    # Only signing's call is an activity task; the route and the seven records run in the
    # worker's workflow tasks (docs/performance.md, "Cost per letter").
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        for index, role in enumerate(SKD_ROUTE):
            await decide(handle, decision(index, role))
        assert (await handle.result()).status == ApplicationStatus.ISSUED
        history = await handle.fetch_history()

    assert _scheduled_activities(history) == ["issue_letter"]
    assert _local_activities(history) == 1 + 7
    assert [r.sequence for r in activities.records] == list(range(1, 8))


async def test_progress_goes_on_as_an_activity_while_intake_stays_down(
    temporal_client: Client,
) -> None:
    # Intake fails more calls than the local tries: the record becomes a regular activity,
    # retried by the server until intake answers, with the same sequence (intake's idempotency).
    # The decision comes while the first record is still being tried (the real server, which
    # keeps an Update that arrives during a workflow task for the next one).
    activities = RecordingActivities(SKD_ROUTE, fail_record_times=6)
    async with running_letter(temporal_client, activities) as handle:
        await wait_for_step(handle, 0)
        state = await decide(handle, decision(0, "kasi_pemerintahan"))
        assert state.step_role == "sekdes"
        history = await handle.fetch_history()
        await handle.terminate("test done")

    assert _scheduled_activities(history) == ["record_progress"]
    assert activities.record_attempts >= 6 + 3
    assert [r.sequence for r in activities.records] == [1, 2, 3]
    assert [r.event for r in activities.records][:1] == ["application.step_assigned"]


async def test_kecamatan_steps_follow_the_desa_and_the_kades_still_signs(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """A route through the kecamatan (issue 18): the kasi pelayanan of the kecamatan and the
    camat decide after the Kades, at the letter's desa; the letter is signed as the Kades
    approved it, and signing is told the kecamatan for the camat's "mengetahui"."""
    route = [*SKD_ROUTE, "kasi_pelayanan_kecamatan", "camat"]
    activities = RecordingActivities(
        Route(steps=[RouteStep(role=r) for r in route], signer_role="kades")
    )
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        for index, role in enumerate(route):
            state = await decide(handle, decision(index, role))
        assert state.step_index is None
        result = await handle.result()
    assert result.status == ApplicationStatus.ISSUED
    (issued,) = activities.issued
    assert (issued.signer_role, issued.signer_username) == ("kades", "kades.pamanukan")
    assert issued.kecamatan_code == "32.13.11"
    decided_by = [r.actor_role for r in activities.records if r.event == "application.decided"]
    assert decided_by == route


async def test_a_desa_route_tells_signing_no_kecamatan(
    time_skipping_env: WorkflowEnvironment, activities: RecordingActivities
) -> None:
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        for index, role in enumerate(SKD_ROUTE):
            await decide(handle, decision(index, role))
        await handle.result()
    assert activities.issued[0].kecamatan_code == ""


def test_signing_steps_are_the_last_desa_step_and_the_camat() -> None:
    """Steps the kabupaten operator may not approve after an escalation: their approval signs."""
    assert signing_steps(SKD_ROUTE) == {2}
    assert signing_steps([*SKD_ROUTE, "kasi_pelayanan_kecamatan", "camat"]) == {2, 4}
    assert signing_steps([*SKD_ROUTE, "sekcam"]) == {2}
