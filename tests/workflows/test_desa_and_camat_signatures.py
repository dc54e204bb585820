"""A BSrE desa in a BSrE kecamatan (issue 18): two people's passphrases for one letter, so two
signature steps after the last approval. The desa signer's comes first (the certification and
the number; the issue request says the camat signs later), then the camat's, at a step of its
own (one index further, its own task), counted in the kecamatan's calendar, reminded and
escalated like any step. The letter is issued only with the camat's signature; the workflow
never asks signing itself (verification does, with each passphrase)."""

from temporalio.testing import WorkflowEnvironment

from common.domain import ApplicationStatus, ApprovalErrorCode, Role
from common.domain.events import (
    APPLICATION_ESCALATED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
)
from tests.support.waiting import eventually
from tests.workflows.conftest import SKD_ROUTE, RecordingActivities, running_letter, wait_for_step
from tests.workflows.test_approval_paths import decide, decision
from tests.workflows.test_remote_signature import LETTER, signed
from tests.workflows.test_signing_blocked import keyword_attributes, refused
from tests.workflows.test_timers import skip_to
from workflows.approval import deadlines
from workflows.approval.models import LetterInfo, Route, RouteStep, WorkingCalendar
from workflows.approval.workflows import LetterApprovalWorkflow
from workflows.approval.working_time import parse_days_off

ROUTE = [*SKD_ROUTE, "kasi_pelayanan_kecamatan", "camat"]
KECAMATAN = WorkingCalendar(workdays=[1, 2, 3, 4], local_days_off=["2026-12-23"])
DAYS_OFF = ["2026-12-24", "2026-12-25"]


def both_remote() -> Route:
    return Route(
        steps=[RouteStep(role=r) for r in ROUTE],
        signer_role="kades",
        days_off=DAYS_OFF,
        remote_signature=True,
        kecamatan_calendar=KECAMATAN,
        camat_remote_signature=True,
    )


async def test_the_desa_signer_then_the_camat_sign_and_only_then_is_it_issued(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    activities = RecordingActivities(both_remote())
    async with running_letter(env.client, activities) as handle:
        await wait_for_step(handle, 0)
        for index, role in enumerate(ROUTE[:-1]):
            await decide(handle, decision(index, role))
        state = await decide(handle, decision(len(ROUTE) - 1, "camat"))
        # The camat's approval is answered with the letter waiting for the desa signer first.
        assert state.status == ApplicationStatus.AWAITING_SIGNATURE
        assert (state.step_index, state.step_role, state.assignee_role) == (5, "kades", "kades")
        request = await handle.query(LetterApprovalWorkflow.issue_request)
        assert request is not None and request.camat_signs_later
        assert request.kecamatan_code == "32.13.11" and request.signer_role == "kades"
        # The camat cannot sign before the desa's certification.
        cause = await refused(handle, LetterApprovalWorkflow.letter_signed, signed("camat"))
        assert cause.type == ApprovalErrorCode.WRONG_ROLE

        state = await handle.execute_update(LetterApprovalWorkflow.letter_signed, signed())
        # Certified, not issued: the camat's own signature step, one index further.
        assert state.status == ApplicationStatus.AWAITING_SIGNATURE and state.letter is None
        assert (state.step_index, state.step_role, state.assignee_role) == (6, "camat", "camat")
        assert await keyword_attributes(handle) == {
            "Status": ApplicationStatus.AWAITING_SIGNATURE,
            "AssigneeRole": "camat",
            "Step": "camat",
        }
        # Its deadline counts in the kecamatan's calendar (Monday to Thursday, its own day off).
        assert state.step_started is not None and state.deadline is not None
        assert state.deadline == deadlines.step_deadline(
            state.step_started,
            deadlines.SIGNATURE_WORKING_HOURS,
            KECAMATAN,
            parse_days_off([*DAYS_OFF, *KECAMATAN.local_days_off]),
        )
        # Nobody in the desa signs the camat's "mengetahui"; a letter reference is required.
        for wrong, code in (
            (signed("kades"), ApprovalErrorCode.WRONG_ROLE),
            (signed("sekdes"), ApprovalErrorCode.WRONG_ROLE),
            (signed("camat", letter=LetterInfo("", "", "")), ApprovalErrorCode.INVALID),
        ):
            cause = await refused(handle, LetterApprovalWorkflow.letter_signed, wrong)
            assert cause.type == code and cause.message

        # Not signed in time: escalated like any camat step (to the kabupaten operator).
        await skip_to(env, state.deadline)
        await eventually(lambda: bool(activities.of(APPLICATION_ESCALATED)), "escalation")
        (escalated,) = activities.of(APPLICATION_ESCALATED)
        assert (escalated.status, escalated.step_index, escalated.step_role) == (
            ApplicationStatus.AWAITING_SIGNATURE,
            6,
            "camat",
        )
        assert escalated.escalated_to_role == Role.KABUPATEN_OPERATOR

        state = await handle.execute_update(LetterApprovalWorkflow.letter_signed, signed("camat"))
        assert state.status == ApplicationStatus.ISSUED and state.letter == LETTER
        assert (await handle.result()).status == ApplicationStatus.ISSUED

    # Two signature tasks, the desa signer's then the camat's; issued once, at the end.
    assigned = [
        (r.status, r.step_index, r.step_role) for r in activities.of(APPLICATION_STEP_ASSIGNED)
    ]
    assert assigned[-2:] == [
        (ApplicationStatus.AWAITING_SIGNATURE, 5, "kades"),
        (ApplicationStatus.AWAITING_SIGNATURE, 6, "camat"),
    ]
    (issued,) = activities.of(LETTER_ISSUED)
    assert issued.letter == LETTER
    assert activities.issue_attempts == []
    assert APPLICATION_SIGNING_BLOCKED not in activities.events()
