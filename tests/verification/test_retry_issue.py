"""A letter signing refuses, end to end inside verification: the real workflow and activities on
the Temporal dev server, a SigningService that refuses (FAILED_PRECONDITION, as signing does when
the signer has no certificate) until the cause is fixed, the intake peer publishing the events
this service's inbox consumes, and the staff API's retry."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from smartdesa.v1 import signing_pb2, signing_pb2_grpc
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, GrpcServer, client_channel
from services.verification.config import Settings
from tests.support.stand_ins import SigningStandIn
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput
from workflows.approval.worker import build_worker

REASON = "Sertifikat penandatangan Kepala Desa belum dipasang."


class RefusingSigning(SigningStandIn):
    """Refuses every letter until `fixed`; then issues one letter per application."""

    def __init__(self) -> None:
        self.fixed = False
        self.calls = 0

    async def IssueLetter(
        self, request: signing_pb2.IssueLetterRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.IssuedLetter:
        self.calls += 1
        if not self.fixed:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, REASON)
        return signing_pb2.IssuedLetter(
            letter_id="letter-1",
            number=f"470/1/{request.desa_code}/XII/2026",
            verification_url="http://127.0.0.1:8002/verifikasi/kode",
        )

    async def GetSigner(
        self, request: signing_pb2.GetSignerRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.SignerInfo:
        return signing_pb2.SignerInfo(kind="local")  # the workflow issues, and signing refuses


@pytest.fixture
async def signing(
    service: Service, settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[tuple[RefusingSigning, str]]:
    """The refusing signing service and a worker (real activities) on a queue of its own."""
    peer = RefusingSigning()
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, SIGNING),
        ["smartdesa.v1.SigningService"],
        lambda s: signing_pb2_grpc.add_SigningServiceServicer_to_server(peer, s),
    )
    await server.start()
    queue = f"verification-tests-{uuid.uuid4()}"
    auth = InternalAuth.from_settings(settings, WORKER)
    channels = [
        client_channel(settings.intake_grpc_target, auth, INTAKE),
        client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION),
        client_channel(f"127.0.0.1:{server.port}", auth, SIGNING),
    ]
    worker_settings = settings.model_copy(update={"temporal_task_queue": queue})
    try:
        async with build_worker(
            temporal_env.client, worker_settings, ApprovalActivities(*channels)
        ):
            yield peer, queue
    finally:
        for channel in channels:
            await channel.close()
        await server.stop(0)


async def _post(
    service: Service, username: str, path: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = await service.http.post(path, json=body, headers=await service.login(username))
    return response.status_code, response.json()


async def _task(service: Service, username: str, app_id: str) -> dict[str, Any] | None:
    response = await service.http.get("/api/v1/tasks", headers=await service.login(username))
    return next((t for t in response.json() if t["application_id"] == app_id), None)


async def test_a_blocked_letter_is_retried_by_the_kades_after_the_fix(
    service: Service,
    temporal_env: WorkflowEnvironment,
    signing: tuple[RefusingSigning, str],
) -> None:
    peer, queue = signing
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await temporal_env.client.start_workflow(
        WORKFLOW_NAME,
        ApprovalInput(application_id=app_id, desa_code=PAMANUKAN, letter_type="SKD"),
        id=workflow_id(app_id),
        task_queue=queue,
    )
    for index, username in enumerate(
        ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")
    ):

        async def waiting(username: str = username, index: int = index) -> bool:
            task = await _task(service, username, app_id)
            return task is not None and task["step"]["index"] == index

        await eventually(waiting)
        status, state = await _post(
            service, username, f"/api/v1/tasks/{app_id}/decision", decision="approve"
        )
        assert status == 200, state

    # Signing refused: the Kades has a task of its own kind; the workflow keeps running.
    async def blocked() -> bool:
        task = await _task(service, "kades.pamanukan", app_id)
        return task is not None and task["kind"] == "signing_blocked"

    await eventually(blocked)
    state = await handle.query("state")
    assert (state["status"], state["blocked_reason"]) == ("signing_blocked", REASON)
    # The Kasi may not ask for it; the Kades may, and before the fix it stays blocked.
    path = f"/api/v1/tasks/{app_id}/retry-issue"
    status, body = await _post(service, "pemerintahan.pamanukan", path)
    assert (status, body["type"].rsplit("/", 1)[-1]) == (403, "wrong-role"), body
    status, state = await _post(service, "kades.pamanukan", path)
    assert (status, state["status"]) == (200, "signing_blocked")
    calls = peer.calls
    assert calls >= 2

    peer.fixed = True  # the certificate is installed
    status, state = await _post(service, "kades.pamanukan", path, request_id="after-fix")
    assert (status, state["status"]) == (200, "issued"), state
    assert state["letter"]["number"] == f"470/1/{PAMANUKAN}/XII/2026"
    assert (await handle.result())["status"] == "issued"

    async def closed() -> bool:
        return await _task(service, "kades.pamanukan", app_id) is None

    await eventually(closed)
    events = [r.event for r in service.intake.recorded if r.application_id == app_id]
    assert events.count("application.signing_blocked") == 1
    assert events[-1] == "letter.issued"
