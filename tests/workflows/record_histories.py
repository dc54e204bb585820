"""Records one workflow history per path of a letter into tests/workflows/histories/, for the
replay tests (test_replay.py) that make a change breaking running letters fail the build.

    make record-histories        # or: .venv/bin/python -m tests.workflows.record_histories

Run it after a deliberate change to the workflow that is guarded by `workflow.patched` (the old
histories must keep replaying: keep them, add the new ones next to them under a new name) or
when a new path is added. Never re-record to make a failing replay pass: that failure means
letters in flight would break. It drives the workflow on Temporal's time-skipping test server
with the test doubles of the activities, so it needs nothing running.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.conftest import register_search_attributes
from tests.support.processes import venv_binary
from tests.support.waiting import eventually
from tests.workflows.conftest import (
    PAMANUKAN,
    SKD_ROUTE,
    RecordingActivities,
    running_letter,
    wait_for_step,
)
from workflows.approval import deadlines
from workflows.approval.models import (
    ApprovalState,
    CancelInput,
    DecisionInput,
    LetterInfo,
    LetterSignedInput,
    ResubmitInput,
    RetryIssueInput,
    Route,
    RouteStep,
    WorkingCalendar,
)
from workflows.approval.workflows import LetterApprovalWorkflow
from workflows.approval.working_time import add_working_hours, parse_days_off

HISTORIES = Path(__file__).parent / "histories"

Handle = WorkflowHandle[LetterApprovalWorkflow, ApprovalState]


def _decision(step: int, role: str, verdict: str = "approve", reason: str = "") -> DecisionInput:
    # Fixed request ids keep recorded histories free of noise between recordings.
    return DecisionInput(
        request_id=f"{verdict}-{step}-{role}",
        decision=verdict,
        step_index=step,
        actor_username=f"{role}.pamanukan",
        actor_role=role,
        actor_desa_code=PAMANUKAN,
        reason=reason,
    )


async def _decide(handle: Handle, d: DecisionInput) -> None:
    await handle.execute_update(LetterApprovalWorkflow.decide, d)


async def approved(env: WorkflowEnvironment, handle: Handle, _: RecordingActivities) -> None:
    await wait_for_step(handle, 0)
    for index, role in enumerate(SKD_ROUTE):
        await _decide(handle, _decision(index, role))


async def revised_then_approved(
    env: WorkflowEnvironment, handle: Handle, _: RecordingActivities
) -> None:
    await wait_for_step(handle, 0)
    await _decide(handle, _decision(0, "kasi_pemerintahan"))
    await _decide(handle, _decision(1, "sekdes", "revise", "Foto KK tidak terbaca"))
    await handle.execute_update(LetterApprovalWorkflow.resubmit, ResubmitInput("resubmit-1"))
    await _decide(handle, _decision(1, "sekdes"))
    await _decide(handle, _decision(2, "kades"))


async def rejected(env: WorkflowEnvironment, handle: Handle, _: RecordingActivities) -> None:
    await wait_for_step(handle, 0)
    await _decide(handle, _decision(0, "kasi_pemerintahan", "reject", "Bukan warga desa ini"))


async def escalated_then_approved(
    env: WorkflowEnvironment, handle: Handle, activities: RecordingActivities
) -> None:
    state = await wait_for_step(handle, 0)
    assert state.deadline is not None
    # Past both deadlines of the Kasi step: reminders, escalation to the Sekdes and on to the
    # kabupaten operator; then the Sekdes decides the step themself.
    route = activities.route
    second = add_working_hours(state.deadline, 8, route.calendar, parse_days_off(route.days_off))
    await env.sleep(second - await env.get_current_time() + timedelta(minutes=1))
    await eventually(lambda: len(activities.of("application.escalated")) == 2, "escalations")
    await _decide(handle, _decision(0, "sekdes"))
    await _decide(handle, _decision(1, "sekdes"))
    plt = _decision(2, "kades")
    plt.actor_is_plt = True
    await _decide(handle, plt)


async def cancelled(env: WorkflowEnvironment, handle: Handle, _: RecordingActivities) -> None:
    await wait_for_step(handle, 0)
    await _decide(handle, _decision(0, "kasi_pemerintahan"))
    await handle.execute_update(LetterApprovalWorkflow.cancel, CancelInput("cancel-1"))


async def expired(env: WorkflowEnvironment, handle: Handle, _: RecordingActivities) -> None:
    await wait_for_step(handle, 0)
    await _decide(handle, _decision(0, "kasi_pemerintahan", "revise", "Foto KK tidak terbaca"))
    await env.sleep(timedelta(days=15))


async def signing_blocked_then_issued(
    env: WorkflowEnvironment, handle: Handle, activities: RecordingActivities
) -> None:
    # Signing refuses (no certificate for the Kades): blocked, refused again on the retry
    # timer, then issued when the Kades asks after the certificate is installed.
    await approved(env, handle, activities)
    await eventually(lambda: bool(activities.of("application.signing_blocked")), "blocked")
    await env.sleep(timedelta(minutes=16))
    await eventually(lambda: len(activities.issue_attempts) == 2, "second attempt")
    await handle.execute_update(
        LetterApprovalWorkflow.retry_issue,
        RetryIssueInput("retry-1", "kades.pamanukan", "kades", PAMANUKAN),
    )


async def remote_signature(
    env: WorkflowEnvironment, handle: Handle, activities: RecordingActivities
) -> None:
    # A BSrE desa: after the last approval the letter waits for the Kades's signature, is
    # reminded once, then signed (verification issued it with the passphrase).
    await approved(env, handle, activities)
    # Just past the first reminder, counted in working hours from whenever this is recorded
    # (five hours of the clock do not reach it when recorded after office hours).
    state = await handle.query(LetterApprovalWorkflow.state)
    assert state.step_started is not None and state.deadline is not None
    route = activities.route
    first_reminder = deadlines.step_timers(
        state.step_started,
        state.deadline,
        deadlines.SIGNATURE_WORKING_HOURS,
        route.calendar,
        parse_days_off(route.days_off),
    )[0][0]
    await env.sleep(first_reminder - await env.get_current_time() + timedelta(minutes=1))
    await eventually(lambda: bool(activities.of("application.reminded")), "reminder")
    await handle.execute_update(
        LetterApprovalWorkflow.letter_signed,
        LetterSignedInput(
            "signed-1",
            "kades.pamanukan",
            "kades",
            PAMANUKAN,
            LetterInfo("letter-1", "470/001/32.13.11.2004/XI/2026", "http://127.0.0.1:8002/v/c"),
        ),
    )


async def intake_down_at_first(
    env: WorkflowEnvironment, handle: Handle, activities: RecordingActivities
) -> None:
    # Intake fails the first record more often than the local tries: it goes on as a regular
    # activity (PATCH_LOCAL_CALLS); staff decide once their task is there (the record is in).
    await eventually(lambda: bool(activities.records), "first record")
    await approved(env, handle, activities)


async def kecamatan_approved(
    env: WorkflowEnvironment, handle: Handle, _: RecordingActivities
) -> None:
    # A letter through the kecamatan (issue 18): the desa's steps, then the kasi pelayanan and
    # the camat, whose deadlines count in the kecamatan's calendar; issued at once (the camat's
    # key is local: one IssueLetter call certifies and approves).
    await wait_for_step(handle, 0)
    for index, role in enumerate(KECAMATAN_ROUTE):
        await _decide(handle, _decision(index, role))


async def camat_remote_signature(
    env: WorkflowEnvironment, handle: Handle, activities: RecordingActivities
) -> None:
    # A kecamatan whose camat signs through BSrE: after the camat's approval the letter waits
    # for the camat's signature (the kecamatan's calendar), then is signed (verification had
    # signing certify and approve it with the camat's passphrase).
    await kecamatan_approved(env, handle, activities)
    state = await wait_for_step(handle, len(KECAMATAN_ROUTE))
    assert state.step_role == "camat" and state.status == "awaiting_signature", state
    await handle.execute_update(
        LetterApprovalWorkflow.letter_signed,
        LetterSignedInput(
            "signed-camat-1",
            "camat.pamanukan",
            "camat",
            PAMANUKAN,
            LetterInfo("letter-1", "470/001/32.13.11.2004/XI/2026", "http://127.0.0.1:8002/v/c"),
        ),
    )


async def desa_and_camat_remote_signatures(
    env: WorkflowEnvironment, handle: Handle, activities: RecordingActivities
) -> None:
    # A BSrE desa in a BSrE kecamatan: after the camat's approval the desa signer signs
    # (certified and numbered, the camat's field reserved), then the camat signs "mengetahui"
    # at a signature step of their own (one further index, the kecamatan's calendar).
    await kecamatan_approved(env, handle, activities)
    state = await wait_for_step(handle, len(KECAMATAN_ROUTE))
    assert state.step_role == "kades" and state.status == "awaiting_signature", state
    letter = LetterInfo("letter-1", "470/001/32.13.11.2004/XI/2026", "http://127.0.0.1:8002/v/c")
    await handle.execute_update(
        LetterApprovalWorkflow.letter_signed,
        LetterSignedInput("signed-1", "kades.pamanukan", "kades", PAMANUKAN, letter),
    )
    state = await wait_for_step(handle, len(KECAMATAN_ROUTE) + 1)
    assert state.step_role == "camat" and state.status == "awaiting_signature", state
    await handle.execute_update(
        LetterApprovalWorkflow.letter_signed,
        LetterSignedInput("signed-camat-1", "camat.pamanukan", "camat", PAMANUKAN, letter),
    )


PATHS: dict[str, Callable[[WorkflowEnvironment, Handle, RecordingActivities], Awaitable[None]]] = {
    "approved": approved,
    "revised-then-approved": revised_then_approved,
    "rejected": rejected,
    "escalated-then-approved": escalated_then_approved,
    "cancelled": cancelled,
    "expired": expired,
    "signing-blocked-then-issued": signing_blocked_then_issued,
    "remote-signature": remote_signature,
    "kecamatan-approved": kecamatan_approved,
    "camat-remote-signature": camat_remote_signature,
    "desa-and-camat-remote-signatures": desa_and_camat_remote_signatures,
    "intake-down-at-first": intake_down_at_first,
}
# Paths whose desa signs remotely (BSrE).
REMOTE = {"remote-signature", "desa-and-camat-remote-signatures"}
# Paths whose route goes through the kecamatan.
KECAMATAN = {"kecamatan-approved", "camat-remote-signature", "desa-and-camat-remote-signatures"}
# Paths whose kecamatan's camat signs remotely (BSrE).
CAMAT_REMOTE = {"camat-remote-signature", "desa-and-camat-remote-signatures"}
KECAMATAN_ROUTE = [*SKD_ROUTE, "kasi_pelayanan_kecamatan", "camat"]
# How often signing refuses the letter before issuing it, per path.
REFUSALS = {"signing-blocked-then-issued": 2}
# How often intake fails a record before answering, per path.
RECORD_FAILURES = {"intake-down-at-first": 6}


def _route(
    remote_signature: bool = False, kecamatan: bool = False, camat_remote: bool = False
) -> Route:
    return Route(
        steps=[
            RouteStep(role=r, deadline_working_hours=8)
            for r in (KECAMATAN_ROUTE if kecamatan else SKD_ROUTE)
        ],
        signer_role="kades",
        days_off=["2026-12-24", "2026-12-25"],
        remote_signature=remote_signature,
        # The kecamatan works Monday to Thursday, and is closed on a day the desa works.
        kecamatan_calendar=WorkingCalendar(workdays=[1, 2, 3, 4], local_days_off=["2026-12-23"])
        if kecamatan
        else None,
        camat_remote_signature=camat_remote,
    )


async def record(client: Client, env: WorkflowEnvironment, name: str, out: Path) -> Path:
    activities = RecordingActivities(
        _route(name in REMOTE, name in KECAMATAN, name in CAMAT_REMOTE),
        fail_record_times=RECORD_FAILURES.get(name, 0),
        refuse_issue_times=REFUSALS.get(name, 0),
    )
    async with running_letter(client, activities) as handle:
        await PATHS[name](env, handle, activities)
        await handle.result()
        history = await handle.fetch_history()
    path = out / f"{name}.json"
    path.write_text(history.to_json() + "\n")
    return path


async def main(names: list[str], out: Path) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server")
    )
    try:
        await register_search_attributes(env.client)
        for name in names:
            path = await record(env.client, env, name, out)
            sys.stdout.write(f"recorded {path}\n")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help=f"some of {', '.join(PATHS)} (default: all)")
    parser.add_argument("--out", type=Path, default=HISTORIES)
    args = parser.parse_args()
    unknown = set(args.paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.paths or list(PATHS), args.out))
    # The Temporal core runtime's threads can abort the interpreter's finalization after
    # everything is written; leave without it so the exit status reflects the recording.
    sys.stdout.flush()
    os._exit(0)
