"""Every timer of the workflow on Temporal's time-skipping test server: reminders, the first
and second escalation, expiry of an unrevised letter, and deadlines that skip days off.

The test server's clock starts at the real time, so expected moments are computed from the
step's start as the workflow reports it; the working-time arithmetic itself is covered by
test_working_time. When the workflow acted is read from the test server's clock when each
progress record ran (a local activity: its own scheduled time is the worker's clock).
"""

import uuid
from datetime import date, datetime, timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from common.domain import ApplicationStatus, ApprovalErrorCode, Role
from common.wib import WIB
from tests.support.waiting import eventually
from tests.workflows.conftest import (
    SKD_ROUTE,
    RecordingActivities,
    running_letter,
    wait_for_step,
)
from tests.workflows.test_approval_paths import decide, decision
from workflows.approval import search_attributes as sa
from workflows.approval.models import (
    ApprovalState,
    CancelInput,
    ResubmitInput,
    Route,
    RouteStep,
    WorkingCalendar,
)
from workflows.approval.workflows import LetterApprovalWorkflow
from workflows.approval.working_time import add_working_hours, parse_days_off

Handle = WorkflowHandle[LetterApprovalWorkflow, ApprovalState]


def skd_route(hours: int = 8, **kwargs: object) -> Route:
    return Route(
        steps=[RouteStep(role=r, deadline_working_hours=hours) for r in SKD_ROUTE],
        signer_role="kades",
        **kwargs,  # type: ignore[arg-type]
    )


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Moves the test server's clock to just past `moment`."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now + timedelta(minutes=1))


async def refusal(handle: Handle, update: object, arg: object) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(update, arg)  # type: ignore[call-overload]
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_reminders_then_two_escalations_then_the_supervisor_decides(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    route = skd_route()
    activities = RecordingActivities(route, clock=env.get_current_time)
    async with running_letter(env.client, activities) as handle:
        state = await wait_for_step(handle, 0)
        assert state.step_started is not None and state.deadline is not None
        days_off = parse_days_off(route.days_off)
        start, deadline = state.step_started, state.deadline
        assert deadline == add_working_hours(start, 8, route.calendar, days_off)
        half = add_working_hours(start, 4, route.calendar, days_off)
        last_hour = add_working_hours(start, 7, route.calendar, days_off)
        second = add_working_hours(deadline, 8, route.calendar, days_off)

        await skip_to(env, second)
        await eventually(lambda: len(activities.of("application.escalated")) == 2, "escalations")

        reminded = activities.of("application.reminded")
        assert [
            activities.scheduled[r.sequence] >= t
            for r, t in zip(reminded, [half, last_hour], strict=True)
        ] == [True, True]
        assert all(r.step_role == "kasi_pemerintahan" and r.deadline == deadline for r in reminded)
        first, then = activities.of("application.escalated")
        assert (first.escalation_level, first.escalated_to_role) == (1, "sekdes")
        assert (then.escalation_level, then.escalated_to_role) == (2, Role.KABUPATEN_OPERATOR)
        assert activities.scheduled[first.sequence] >= deadline
        assert activities.scheduled[then.sequence] >= second
        # Reminders come before the deadline, the escalations in order after it.
        order = [activities.scheduled[r.sequence] for r in [*reminded, first, then]]
        assert order == sorted(order)

        # What the Temporal UI shows: overdue, now with the kabupaten operator.
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.OVERDUE) is True
        assert attributes.get(sa.ASSIGNEE_ROLE) == Role.KABUPATEN_OPERATOR
        assert attributes.get(sa.STEP) == "kasi_pemerintahan"
        assert attributes.get(sa.DEADLINE) == deadline
        state = await handle.query(LetterApprovalWorkflow.state)
        assert (state.overdue, state.escalation_level, state.step_role) == (
            True,
            2,
            "kasi_pemerintahan",
        )
        # Someone else's role is still refused; the Sekdes (supervisor) decides. (The kabupaten
        # operator could too, now: tests/workflows/test_kabupaten_decides.py.)
        cause = await refusal(handle, LetterApprovalWorkflow.decide, decision(0, "kades"))
        assert cause.type == ApprovalErrorCode.WRONG_ROLE
        after = await decide(handle, decision(0, "sekdes"))
        assert (after.step_role, after.overdue, after.escalation_level) == ("sekdes", False, 0)
        # Fresh deadline for the next step.
        assert after.deadline is not None and after.deadline > deadline
        await decide(handle, decision(1, "sekdes"))
        plt = decision(2, "kades")
        plt.actor_is_plt = True
        plt.actor_username = "plt.kades.pamanukan"
        await decide(handle, plt)
        result = await handle.result()

    assert result.status == ApplicationStatus.ISSUED
    decided = activities.of("application.decided")
    assert [(d.actor_role, d.decided_as) for d in decided] == [
        ("sekdes", "supervisor"),
        ("sekdes", ""),
        ("kades", "plt"),
    ]
    (issued,) = activities.issued
    assert (issued.signer_role, issued.signer_username, issued.signer_is_plt) == (
        "kades",
        "plt.kades.pamanukan",
        True,
    )
    assert [r.sequence for r in activities.records] == list(range(1, len(activities.records) + 1))


async def test_a_supervisor_who_decides_the_last_step_signs_as_themself(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # This desa lets the Sekdes sign SKD "a.n. Kepala Desa".
    route = Route(
        steps=[RouteStep("kasi_pemerintahan", 4), RouteStep("sekdes", 4)],
        signer_role="sekdes",
        on_behalf_of_role="kades",
    )
    activities = RecordingActivities(route)
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        await decide(handle, decision(0, "kasi_pemerintahan"))
        state = await wait_for_step(handle, 1)
        assert state.deadline is not None
        await skip_to(time_skipping_env, state.deadline)
        await eventually(lambda: bool(activities.of("application.escalated")), "escalation")
        assert activities.of("application.escalated")[0].escalated_to_role == "kades"
        await decide(handle, decision(1, "kades"))
        await handle.result()
    (issued,) = activities.issued
    assert (issued.signer_role, issued.on_behalf_of_role, issued.signer_username) == (
        "kades",
        "",
        "kades.pamanukan",
    )

    # The same route decided by the Sekdes in time: signed a.n. Kepala Desa.
    activities = RecordingActivities(route)
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        await decide(handle, decision(0, "kasi_pemerintahan"))
        await decide(handle, decision(1, "sekdes"))
        await handle.result()
    (issued,) = activities.issued
    assert (issued.signer_role, issued.on_behalf_of_role) == ("sekdes", "kades")


async def test_deadlines_skip_days_off(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    today = (await env.get_current_time()).astimezone(WIB).date()
    # The desa closes today and the next ten days (on top of national holidays): the deadline
    # moves past. (Today too: a letter assigned before opening time would be due today.)
    closed = [(today + timedelta(days=n)).isoformat() for n in range(0, 11)]
    route = skd_route(calendar=WorkingCalendar(local_days_off=closed))
    activities = RecordingActivities(route, clock=env.get_current_time)
    async with running_letter(env.client, activities) as handle:
        state = await wait_for_step(handle, 0)
        assert state.step_started is not None and state.deadline is not None
        without_days_off = add_working_hours(state.step_started, 8, WorkingCalendar(), frozenset())
        assert state.deadline.astimezone(WIB).date() > date.fromisoformat(closed[-1])
        assert state.deadline > without_days_off + timedelta(days=5)

        await skip_to(env, state.deadline)
        await eventually(lambda: bool(activities.of("application.escalated")), "escalation")
        escalated = activities.of("application.escalated")[0]
        # It did not fire when the deadline would have been without the days off.
        assert activities.scheduled[escalated.sequence] >= state.deadline
        reminders = [
            activities.scheduled[r.sequence] for r in activities.of("application.reminded")
        ]
        assert len(reminders) == 2
        assert all(t.astimezone(WIB).date().isoformat() not in closed for t in reminders)
        await handle.terminate("test done")


async def test_an_unrevised_letter_expires(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    activities = RecordingActivities(skd_route(resubmit_days=7), clock=env.get_current_time)
    async with running_letter(env.client, activities) as handle:
        await wait_for_step(handle, 0)
        returned = await decide(handle, decision(0, "kasi_pemerintahan", "revise", "KK buram"))
        assert returned.status == "revision_requested"
        revised_at = activities.scheduled[
            activities.of("application.revision_requested")[0].sequence
        ]
        assert returned.deadline is not None
        assert returned.deadline - revised_at < timedelta(days=7, minutes=1)
        assert returned.deadline - revised_at >= timedelta(days=7) - timedelta(minutes=1)

        await skip_to(env, returned.deadline)
        result = await handle.result()

    assert result.status == ApplicationStatus.EXPIRED
    assert activities.events()[-1] == "application.expired"
    expired = activities.of("application.expired")[0]
    assert activities.scheduled[expired.sequence] >= returned.deadline
    assert activities.issued == []


async def test_resubmitted_in_time_gets_a_fresh_deadline_and_no_expiry(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    route = skd_route(hours=2, resubmit_days=3)
    activities = RecordingActivities(route)
    async with running_letter(env.client, activities) as handle:
        first = await wait_for_step(handle, 0)
        returned = await decide(handle, decision(0, "kasi_pemerintahan", "revise", "KK buram"))
        assert returned.deadline is not None
        await env.sleep(timedelta(days=2))
        again = await handle.execute_update(
            LetterApprovalWorkflow.resubmit, ResubmitInput(request_id=str(uuid.uuid4()))
        )
        assert (again.step_index, again.overdue, again.revision_rounds) == (0, False, 1)
        assert again.deadline is not None and first.deadline is not None
        assert again.step_started is not None and first.step_started is not None
        # The step starts again at the resubmission, two days later, and its deadline counts
        # from then. (The test server's clock is shared and may land on a weekend, where both
        # deadlines can be the same Monday morning: compare with the computed value, not ">".)
        assert again.step_started >= first.step_started + timedelta(days=2)
        days_off = parse_days_off(route.days_off)
        assert again.deadline == add_working_hours(again.step_started, 2, route.calendar, days_off)
        assert again.deadline >= first.deadline
        # Past the old resubmission deadline: nothing expires, the step is simply overdue.
        await skip_to(env, returned.deadline + timedelta(days=1))
        await eventually(lambda: bool(activities.of("application.escalated")), "escalation")
        state = await handle.query(LetterApprovalWorkflow.state)
        assert state.status == "in_review" and state.overdue
        await handle.terminate("test done")
    assert "application.expired" not in activities.events()


async def test_revision_rounds_are_limited(time_skipping_env: WorkflowEnvironment) -> None:
    activities = RecordingActivities(skd_route(max_revision_rounds=1))
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        await decide(handle, decision(0, "kasi_pemerintahan", "revise", "KK buram"))
        await handle.execute_update(
            LetterApprovalWorkflow.resubmit, ResubmitInput(request_id=str(uuid.uuid4()))
        )
        cause = await refusal(
            handle,
            LetterApprovalWorkflow.decide,
            decision(0, "kasi_pemerintahan", "revise", "Masih buram"),
        )
        assert cause.type == ApprovalErrorCode.INVALID and "batas 1 kali" in cause.message
        # Reject stays possible.
        state = await decide(handle, decision(0, "kasi_pemerintahan", "reject", "Tidak sesuai"))
        assert state.status == "rejected"
        await handle.result()


async def test_the_resident_cancels_while_waiting(time_skipping_env: WorkflowEnvironment) -> None:
    for revise_first in (False, True):
        activities = RecordingActivities(skd_route())
        async with running_letter(time_skipping_env.client, activities) as handle:
            await wait_for_step(handle, 0)
            if revise_first:
                await decide(handle, decision(0, "kasi_pemerintahan", "revise", "KK buram"))
            request = CancelInput(request_id=str(uuid.uuid4()))
            cancelled = await handle.execute_update(LetterApprovalWorkflow.cancel, request)
            assert (cancelled.status, cancelled.step_index, cancelled.deadline) == (
                ApplicationStatus.CANCELLED,
                None,
                None,
            )
            result = await handle.result()
        assert result.status == ApplicationStatus.CANCELLED
        assert activities.events()[-1] == "application.cancelled"
        assert activities.events().count("application.cancelled") == 1
        assert activities.issued == []


async def test_no_cancel_once_every_step_is_approved(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    activities = RecordingActivities(skd_route())
    async with running_letter(time_skipping_env.client, activities) as handle:
        await wait_for_step(handle, 0)
        await decide(handle, decision(0, "kasi_pemerintahan"))
        await decide(handle, decision(1, "sekdes"))
        await decide(handle, decision(2, "kades"))
        # The workflow may still be issuing (the validator refuses) or already have finished
        # (the server refuses); either way nothing is cancelled.
        try:
            got = await handle.execute_update(
                LetterApprovalWorkflow.cancel, CancelInput(request_id=str(uuid.uuid4()))
            )
        except WorkflowUpdateFailedError as refused:
            assert isinstance(refused.cause, ApplicationError)
            assert refused.cause.type == ApprovalErrorCode.FINISHED
        except RPCError as closed:
            assert closed.status == RPCStatusCode.NOT_FOUND
        else:
            raise AssertionError(f"a letter being issued was cancelled: {got}")
        result = await handle.result()
    assert result.status == ApplicationStatus.ISSUED
    assert "application.cancelled" not in activities.events()


async def test_a_kecamatan_step_counts_its_deadline_in_the_kecamatan_calendar(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Issue 18: the desa works as usual, the kecamatan office is closed for the next eleven
    days. The Kades' step is due on the desa's calendar; the camat's only after the
    kecamatan reopens, and it escalates then, not when the desa's calendar would say."""
    env = time_skipping_env
    today = (await env.get_current_time()).astimezone(WIB).date()
    closed = [(today + timedelta(days=n)).isoformat() for n in range(0, 11)]
    desa_calendar = WorkingCalendar()
    kecamatan_calendar = WorkingCalendar(local_days_off=closed)
    route = Route(
        steps=[RouteStep(role="kades"), RouteStep(role="camat")],
        signer_role="kades",
        calendar=desa_calendar,
        kecamatan_calendar=kecamatan_calendar,
    )
    activities = RecordingActivities(route, clock=env.get_current_time)
    national = parse_days_off(route.days_off)
    async with running_letter(env.client, activities) as handle:
        kades = await wait_for_step(handle, 0)
        assert kades.step_started is not None
        assert kades.deadline == add_working_hours(kades.step_started, 8, desa_calendar, national)
        await decide(handle, decision(0, "kades"))
        camat = await wait_for_step(handle, 1)
        assert camat.step_started is not None and camat.deadline is not None
        on_desa_calendar = add_working_hours(camat.step_started, 8, desa_calendar, national)
        assert camat.deadline == add_working_hours(
            camat.step_started, 8, kecamatan_calendar, parse_days_off(closed)
        )
        assert camat.deadline.astimezone(WIB).date() > date.fromisoformat(closed[-1])
        assert camat.deadline > on_desa_calendar + timedelta(days=5)

        await skip_to(env, camat.deadline)
        await eventually(lambda: bool(activities.of("application.escalated")), "escalation")
        escalated = activities.of("application.escalated")[0]
        assert activities.scheduled[escalated.sequence] >= camat.deadline
        await handle.terminate("test done")
