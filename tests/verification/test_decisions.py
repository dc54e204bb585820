"""Decisions against the real LetterApprovalWorkflow on the Temporal dev server, with the real
approval activities: the route comes from this service's DirectoryService, progress goes to the
intake peer, which publishes the public events this service's inbox consumes."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from services.verification.config import Settings
from tests.verification.conftest import Service, eventually
from tests.verification.events import PAMANUKAN
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput
from workflows.approval.worker import build_worker


@dataclass
class Approval:
    client: Client
    task_queue: str

    async def start(self, app_id: str) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            WORKFLOW_NAME,
            ApprovalInput(application_id=app_id, desa_code=PAMANUKAN, letter_type="SKD"),
            id=workflow_id(app_id),
            task_queue=self.task_queue,
        )


@pytest.fixture
async def approval(
    service: Service, settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Approval]:
    """A worker running the workflow and its real activities on a queue of its own."""
    worker_settings = settings.model_copy(
        update={"temporal_task_queue": f"verification-tests-{uuid.uuid4()}"}
    )
    auth = InternalAuth.from_settings(settings, WORKER)
    channels = [
        client_channel(settings.intake_grpc_target, auth, INTAKE),
        client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION),
        # No test here approves the last step, so signing is never called.
        client_channel("127.0.0.1:9", auth, SIGNING),
    ]
    worker = build_worker(temporal_env.client, worker_settings, ApprovalActivities(*channels))
    async with worker:
        yield Approval(temporal_env.client, worker_settings.temporal_task_queue)
    for channel in channels:
        await channel.close()


async def _decide(
    service: Service, username: str, app_id: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = await service.http.post(
        f"/api/v1/tasks/{app_id}/decision", json=body, headers=await service.login(username)
    )
    return response.status_code, response.json()


async def _waits_on(service: Service, username: str, app_id: str) -> None:
    headers = await service.login(username)

    async def listed() -> bool:
        response = await service.http.get("/api/v1/tasks", headers=headers)
        return app_id in [t["application_id"] for t in response.json()]

    await eventually(listed)


async def _accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    return len(
        [
            e
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
    )


async def test_decisions_are_refused_or_applied_by_the_workflow(
    service: Service, approval: Approval
) -> None:
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await approval.start(app_id)
    await _waits_on(service, "pemerintahan.pamanukan", app_id)

    # Another desa's Kades, even naming the step: the validator refuses (403).
    status, body = await _decide(service, "kades.rancasari", app_id, decision="approve", step=0)
    assert (status, body["detail"]) == (403, "Permohonan ini bukan dari desa Anda.")
    # Without a step there is nothing open for him in his desa.
    status, _ = await _decide(service, "kades.rancasari", app_id, decision="approve")
    assert status == 404
    # The Sekdes of the right desa, before it is the Sekdes's turn: wrong role (403).
    status, body = await _decide(service, "sekdes.pamanukan", app_id, decision="approve")
    assert status == 403
    assert body["type"].endswith("/wrong-role")
    # A rejection needs a reason (422, the validator's message).
    status, body = await _decide(service, "pemerintahan.pamanukan", app_id, decision="reject")
    assert (status, body["detail"]) == (
        422,
        "Alasan wajib diisi untuk mengembalikan atau menolak permohonan.",
    )
    assert await _accepted_updates(handle) == 0

    status, state = await _decide(
        service, "pemerintahan.pamanukan", app_id, decision="approve", request_id="kasi-1"
    )
    assert status == 200, state
    assert state["application_id"] == app_id
    assert (state["status"], state["step_index"], state["step_role"]) == (
        "in_review",
        1,
        "sekdes",
    )
    assert state["route"] == ["kasi_pemerintahan", "sekdes", "kades"]

    # The Kasi again on the step just decided: stale (409).
    status, body = await _decide(
        service, "pemerintahan.pamanukan", app_id, decision="approve", step=0
    )
    assert status == 409
    assert body["type"].endswith("/stale-step")
    # Only the one decision entered the workflow's history.
    assert await _accepted_updates(handle) == 1

    # A retry of the same request gets the same answer and changes nothing.
    status, again = await _decide(
        service, "pemerintahan.pamanukan", app_id, decision="approve", request_id="kasi-1"
    )
    assert (status, again) == (200, state)

    await _waits_on(service, "sekdes.pamanukan", app_id)
    status, state = await _decide(
        service, "sekdes.pamanukan", app_id, decision="reject", reason="Alamat tidak sesuai KK."
    )
    assert status == 200, state
    assert (state["status"], state["step_index"]) == ("rejected", None)

    # Nothing waits any more: the Kades naming the last step gets 409.
    status, body = await _decide(service, "kades.pamanukan", app_id, decision="approve", step=2)
    assert status == 409
    assert body["detail"]

    async def closed() -> bool:
        response = await service.http.get(
            "/api/v1/tasks", headers=await service.login("sekdes.pamanukan")
        )
        return app_id not in [t["application_id"] for t in response.json()]

    await eventually(closed)


async def test_no_workflow_is_404(service: Service) -> None:
    status, body = await _decide(
        service, "pemerintahan.pamanukan", str(uuid.uuid4()), decision="approve", step=0
    )
    assert status == 404
    assert body["detail"] == "Proses persetujuan untuk permohonan ini tidak ditemukan."


async def test_no_open_step_and_no_step_named_is_404(service: Service) -> None:
    status, _ = await _decide(
        service, "pemerintahan.pamanukan", str(uuid.uuid4()), decision="approve"
    )
    assert status == 404


async def test_a_workflow_nobody_runs_gives_503(
    service: Service, temporal_env: WorkflowEnvironment
) -> None:
    app_id = str(uuid.uuid4())
    # A queue no worker polls: the update cannot be delivered.
    handle = await temporal_env.client.start_workflow(
        WORKFLOW_NAME,
        ApprovalInput(application_id=app_id, desa_code=PAMANUKAN, letter_type="SKD"),
        id=workflow_id(app_id),
        task_queue=f"nobody-{uuid.uuid4()}",
    )
    service.runtime.settings = service.runtime.settings.model_copy(
        update={"decision_timeout_seconds": 1.0}
    )
    try:
        status, body = await _decide(
            service, "pemerintahan.pamanukan", app_id, decision="approve", step=0
        )
    finally:
        await handle.terminate()

    assert status == 503
    assert body["detail"].startswith("Layanan persetujuan sedang tidak dapat dihubungi")


async def test_a_decision_must_be_one_of_the_three(service: Service) -> None:
    status, body = await _decide(
        service, "pemerintahan.pamanukan", str(uuid.uuid4()), decision="setuju", step=0
    )
    assert status == 422
    assert body["detail"]
