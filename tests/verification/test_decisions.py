"""Decisions against the real LetterApprovalWorkflow on the Temporal dev server, with the real
approval activities: the route comes from this service's DirectoryService, progress goes to the
intake peer, which publishes the public events this service's inbox consumes."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from smartdesa.v1 import signing_pb2_grpc
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.domain.events import APPLICATION_STEP_ASSIGNED
from common.events import public_subject
from common.messaging import publish
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, GrpcServer, client_channel
from services.verification.config import Settings
from tests.support.temporal import accepted_updates
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, application_event
from tests.workflows.peers import SigningPeer
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput
from workflows.approval.worker import build_worker


@dataclass
class Approval:
    client: Client
    task_queue: str
    signing: SigningPeer  # what the workflow's issuing asked of signing

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
    # Signing says how the desa signs (a local key) and records what it is asked to issue.
    peer = SigningPeer()
    signing = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, SIGNING),
        ["smartdesa.v1.SigningService"],
        lambda s: signing_pb2_grpc.add_SigningServiceServicer_to_server(peer, s),
    )
    await signing.start()
    channels = [
        client_channel(settings.intake_grpc_target, auth, INTAKE),
        client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION),
        client_channel(f"127.0.0.1:{signing.port}", auth, SIGNING),
    ]
    worker = build_worker(temporal_env.client, worker_settings, ApprovalActivities(*channels))
    try:
        async with worker:
            yield Approval(temporal_env.client, worker_settings.temporal_task_queue, peer)
    finally:
        for channel in channels:
            await channel.close()
        await signing.stop(0)


async def _decide(
    service: Service, username: str, app_id: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = await service.http.post(
        f"/api/v1/tasks/{app_id}/decision", json=body, headers=await service.login(username)
    )
    return response.status_code, response.json()


async def _history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len([e async for e in handle.fetch_history_events()])


async def _waits_on(service: Service, username: str, app_id: str) -> None:
    headers = await service.login(username)

    async def listed() -> bool:
        response = await service.http.get("/api/v1/tasks", headers=headers)
        return app_id in [t["application_id"] for t in response.json()]

    await eventually(listed)


async def test_the_first_decision_after_start_builds_the_temporal_client(
    service: Service, approval: Approval
) -> None:
    """Verification imports temporalio and builds its client on its first call to the workflow,
    not at start (docs/operations.md#memory-of-the-idle-stack); that first decision is applied
    like any other."""
    assert not service.runtime.temporal.started
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    await approval.start(app_id)
    await _waits_on(service, "pemerintahan.pamanukan", app_id)
    assert not service.runtime.temporal.started  # the inbox is verification's own projection

    status, state = await _decide(service, "pemerintahan.pamanukan", app_id, decision="approve")
    assert status == 200, state
    assert (state["status"], state["step_index"]) == ("in_review", 1)
    assert service.runtime.temporal.started


async def test_decisions_are_refused_or_applied_by_the_workflow(
    service: Service, approval: Approval
) -> None:
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await approval.start(app_id)
    await _waits_on(service, "pemerintahan.pamanukan", app_id)

    # Another desa's Kades, naming the step or not: the application does not exist for him
    # (404, as an unknown one), so he learns nothing of it; nothing reaches the workflow.
    status, named = await _decide(service, "kades.rancasari", app_id, decision="approve", step=0)
    assert status == 404
    status, unnamed = await _decide(service, "kades.rancasari", app_id, decision="approve")
    assert status == 404
    status, unknown = await _decide(
        service, "kades.rancasari", str(uuid.uuid4()), decision="approve", step=0
    )
    assert status == 404
    assert named["detail"] == unnamed["detail"] == unknown["detail"]
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
    assert await accepted_updates(handle) == 0

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
    assert await accepted_updates(handle) == 1

    # A retry of the same request gets the same answer and adds nothing to the history.
    events = await _history_length(handle)
    status, again = await _decide(
        service, "pemerintahan.pamanukan", app_id, decision="approve", request_id="kasi-1"
    )
    assert (status, again) == (200, state)
    assert await _history_length(handle) == events
    # The request id is bound to the Kasi: another staff member re-sending it is checked as a
    # request of their own and refused (it used to answer 200 with the Kasi's result).
    status, body = await _decide(
        service, "sekdes.pamanukan", app_id, decision="approve", step=0, request_id="kasi-1"
    )
    assert status == 409 and body["type"].endswith("/stale-step")
    status, body = await _decide(
        service, "kades.pamanukan", app_id, decision="approve", request_id="kasi-1"
    )
    assert status == 403 and body["type"].endswith("/wrong-role")
    assert await _history_length(handle) == events
    assert await accepted_updates(handle) == 1

    await _waits_on(service, "sekdes.pamanukan", app_id)
    status, state = await _decide(
        service, "sekdes.pamanukan", app_id, decision="reject", reason="Alamat tidak sesuai KK."
    )
    assert status == 200, state
    assert (state["status"], state["step_index"]) == ("rejected", None)

    # Nothing waits any more: the Sekdes, who held it, naming their step gets 409; the Kades,
    # whom it never reached, learns nothing of it (404).
    status, body = await _decide(service, "sekdes.pamanukan", app_id, decision="approve", step=1)
    assert status == 409
    assert body["detail"]
    status, body = await _decide(service, "kades.pamanukan", app_id, decision="approve", step=2)
    assert status == 404

    async def closed() -> bool:
        response = await service.http.get(
            "/api/v1/tasks", headers=await service.login("sekdes.pamanukan")
        )
        return app_id not in [t["application_id"] for t in response.json()]

    await eventually(closed)


async def _projected_task(service: Service, js: JetStreamContext, app_id: str) -> None:
    """A step of the application open for the Kasi Pemerintahan in the inbox projection."""
    event = application_event(
        APPLICATION_STEP_ASSIGNED, app_id, step_index=0, step_role="kasi_pemerintahan"
    )
    await publish(js, public_subject(PAMANUKAN, event.name), event)
    await _waits_on(service, "pemerintahan.pamanukan", app_id)


async def test_no_workflow_is_404(service: Service, js: JetStreamContext) -> None:
    app_id = str(uuid.uuid4())
    await _projected_task(service, js, app_id)
    status, body = await _decide(service, "pemerintahan.pamanukan", app_id, decision="approve")
    assert status == 404
    assert body["detail"] == "Proses persetujuan untuk permohonan ini tidak ditemukan."


async def test_no_task_in_the_desa_is_404_even_naming_a_step(service: Service) -> None:
    status, body = await _decide(
        service, "pemerintahan.pamanukan", str(uuid.uuid4()), decision="approve", step=0
    )
    assert status == 404
    assert body["type"].endswith("/no-open-step")


async def test_no_open_step_and_no_step_named_is_404(service: Service) -> None:
    status, _ = await _decide(
        service, "pemerintahan.pamanukan", str(uuid.uuid4()), decision="approve"
    )
    assert status == 404


async def test_a_workflow_nobody_runs_gives_503(
    service: Service, temporal_env: WorkflowEnvironment, js: JetStreamContext
) -> None:
    app_id = str(uuid.uuid4())
    await _projected_task(service, js, app_id)
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


async def _update_inputs(handle: WorkflowHandle[Any, Any]) -> list[dict[str, Any]]:
    """The inputs of the updates the workflow accepted, as they stand in its history."""
    inputs = []
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = e.workflow_execution_update_accepted_event_attributes.accepted_request
            inputs.append(json.loads(request.input.args.payloads[0].data))
    return inputs


async def test_a_plt_decides_in_the_role_they_act_for(service: Service, approval: Approval) -> None:
    ends_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    response = await service.http.post(
        "/api/v1/plt",
        json={"username": "kesra.pamanukan", "role": "kasi_pemerintahan", "ends_at": ends_at},
        headers=await service.login("sekdes.pamanukan"),
    )
    assert response.status_code == 201, response.text
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await approval.start(app_id)
    await _waits_on(service, "kesra.pamanukan", app_id)

    # A role they do not hold is refused here; their own role is refused by the workflow.
    status, body = await _decide(
        service, "kesra.pamanukan", app_id, decision="approve", act_as="kades"
    )
    assert (status, body["detail"]) == (403, "Anda tidak sedang memegang peran Kepala Desa.")
    status, body = await _decide(
        service, "kesra.pamanukan", app_id, decision="approve", act_as="kasi_kesra"
    )
    assert status == 403
    assert body["type"].endswith("/wrong-role")
    assert await _update_inputs(handle) == []

    status, state = await _decide(service, "kesra.pamanukan", app_id, decision="approve")
    assert status == 200, state
    assert state["step_role"] == "sekdes"
    [decision] = await _update_inputs(handle)
    assert (
        decision["actor_username"],
        decision["actor_role"],
        decision["actor_is_plt"],
        decision["step_index"],
    ) == ("kesra.pamanukan", "kasi_pemerintahan", True, 0)

    # The Sekdes in their own role: not as Plt.
    await _waits_on(service, "sekdes.pamanukan", app_id)
    status, state = await _decide(
        service, "sekdes.pamanukan", app_id, decision="reject", reason="Data tidak lengkap."
    )
    assert status == 200, state
    second = (await _update_inputs(handle))[1]
    assert (second["actor_role"], second["actor_is_plt"]) == ("sekdes", False)
