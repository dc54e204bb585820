"""A worker killed (SIGKILL) in the middle of a step, while an activity it runs waits on
intake, and started again: the letter finishes with nothing lost or doubled. The worker is the
real one (`python -m workflows.approval.worker`) in its own process, against the dev server and
recording gRPC peers."""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.support.waiting import eventually
from tests.workflows.peers import PAMANUKAN, Peers, running_peers
from tests.workflows.test_approval_paths import decision
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.models import ApprovalInput, ApprovalState
from workflows.approval.workflows import LetterApprovalWorkflow

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def worker_process(
    client: Client, peers: Peers, task_queue: str, data_dir: Path, secret_file: Path
) -> Iterator[subprocess.Popen[bytes]]:
    ready = data_dir / f"ready-{uuid.uuid4()}"
    env = {
        **os.environ,
        "SMARTDESA_DATA_DIR": str(data_dir),
        "SMARTDESA_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "SMARTDESA_TEMPORAL_TASK_QUEUE": task_queue,
        "SMARTDESA_INTAKE_GRPC_TARGET": peers.intake_target,
        "SMARTDESA_VERIFICATION_GRPC_TARGET": peers.verification_target,
        "SMARTDESA_SIGNING_GRPC_TARGET": peers.signing_target,
        "SMARTDESA_INTERNAL_TOKEN_SECRET_FILE": str(secret_file),
        "SMARTDESA_WORKER_READY_FILE": str(ready),
        "SMARTDESA_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "workflows.approval.worker"], cwd=REPO, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_a_killed_worker_loses_and_doubles_nothing(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = temporal_env.client
    secret_file = tmp_path / "internal-token.key"
    secret = secrets.token_hex(32).encode()
    secret_file.write_bytes(secret)
    task_queue = f"crash-{uuid.uuid4()}"
    app_id = str(uuid.uuid4())

    async with running_peers(secret) as peers:
        with worker_process(client, peers, task_queue, tmp_path, secret_file) as first:
            handle = await client.start_workflow(
                WORKFLOW_NAME,
                ApprovalInput(application_id=app_id, desa_code=PAMANUKAN, letter_type="SKD"),
                id=workflow_id(app_id),
                task_queue=task_queue,
                result_type=ApprovalState,
            )
            await eventually(
                lambda: peers.intake.events(app_id) == ["application.step_assigned"],
                "step 0",
                within=120,
            )
            # The Kasi approves; intake receives the decision's record but does not answer
            # before the worker dies.
            peers.intake.hold_sequence = 2
            decided = asyncio.create_task(
                handle.execute_update(
                    LetterApprovalWorkflow.decide, decision(0, "kasi_pemerintahan")
                )
            )
            await eventually(
                lambda: any(a.sequence == 2 for a in peers.intake.attempts),
                "decision recorded",
                within=120,
            )
            first.send_signal(signal.SIGKILL)
            first.wait()
        peers.intake.release.set()

        with worker_process(client, peers, task_queue, tmp_path, secret_file):
            # The activity is retried once its attempt times out; the update then completes.
            after_kasi = await asyncio.wait_for(decided, timeout=180)
            assert (after_kasi.step_index, after_kasi.step_role) == (1, "sekdes")
            await handle.execute_update(LetterApprovalWorkflow.decide, decision(1, "sekdes"))
            await handle.execute_update(LetterApprovalWorkflow.decide, decision(2, "kades"))
            result = await handle.result()

    assert result.status == "issued"
    assert peers.intake.events(app_id) == [
        "application.step_assigned",
        "application.decided",
        "application.step_assigned",
        "application.decided",
        "application.step_assigned",
        "application.decided",
        "letter.issued",
    ]
    applied = [r.sequence for r in peers.intake.applied if r.application_id == app_id]
    assert applied == list(range(1, 8))
    # The interrupted record was sent again (and applied once).
    assert [a.sequence for a in peers.intake.attempts].count(2) >= 2
    assert len(peers.signing.calls) == 1
    assert result.letter is not None and result.letter.number.startswith("470/001/")
