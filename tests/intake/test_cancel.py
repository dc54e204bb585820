"""Cancelling (and resubmitting) by the resident, through the workflow Updates "cancel" and
"resubmit" on the Temporal dev server.
Until the real workflow has that Update, a double under the same workflow name answers it (see
approval_double.py); it records the cancellation through the real record_progress activity, so
the resident's view changes exactly the way it will with the real workflow."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from temporalio.client import Client
from temporalio.worker import Worker

from common.auth import InternalAuth
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    LETTER_ISSUED,
)
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from tests.intake import samples
from tests.intake.approval_double import LOCKED_MESSAGE, ApprovalDouble
from tests.intake.conftest import NIK_BUDI, PHONE_BUDI, Intake, problem
from tests.support.temporal import accepted_updates
from workflows.approval import workflow_id
from workflows.approval.activities import ApprovalActivities


@pytest.fixture
async def worker(intake: Intake, temporal_client: Client) -> AsyncIterator[None]:
    """The double on intake's own task queue, reporting back to intake over real gRPC."""
    settings = intake.runtime.settings
    auth = InternalAuth.from_settings(settings, WORKER)
    channels = [
        client_channel(f"127.0.0.1:{intake.runtime.grpc_server.port}", auth, INTAKE),
        client_channel("127.0.0.1:9", auth, VERIFICATION),  # never called by the double
        client_channel("127.0.0.1:9", auth, SIGNING),
    ]
    activities = ApprovalActivities(*channels)
    async with Worker(
        temporal_client,
        task_queue=settings.temporal_task_queue,
        workflows=[ApprovalDouble],
        activities=[activities.record_progress],
    ):
        yield
    for channel in channels:
        await channel.close()


async def _submitted(intake: Intake, headers: dict[str, str]) -> str:
    application_id = await intake.create_application(headers)
    for kind in ("KTP", "KK"):
        r = await intake.upload(headers, application_id, kind, samples.pdf())
        assert r.status_code == 201, r.text
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 202, r.text
    return application_id


async def test_resident_cancels_once_while_it_waits(
    intake: Intake, worker: None, temporal_client: Client
) -> None:
    headers = await intake.sign_in()
    application_id = await _submitted(intake, headers)
    url = f"/api/v1/applications/{application_id}/cancel"

    # Another resident learns nothing; without a token nobody gets in.
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    assert (await intake.http.post(url, headers=budi)).status_code == 404
    assert (await intake.http.post(url)).status_code == 401

    # A double tap: both answers say cancelled, the workflow took one update, intake recorded
    # one cancellation.
    first, second = await asyncio.gather(
        intake.http.post(url, headers=headers), intake.http.post(url, headers=headers)
    )
    for r in (first, second):
        assert r.status_code == 200, r.text
        assert r.json() == {"id": application_id, "status": "cancelled"}
    handle = temporal_client.get_workflow_handle(workflow_id(application_id))
    assert (await handle.result())["status"] == "cancelled"
    assert await accepted_updates(handle) == 1

    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "cancelled"
    assert [t["event"] for t in got["timeline"]].count(APPLICATION_CANCELLED) == 1

    # Once more, after the workflow has finished: still the same answer, nothing new.
    again = await intake.http.post(url, headers=headers)
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    # And a cancelled application can no longer be changed or resubmitted.
    r = await intake.http.patch(
        f"/api/v1/applications/{application_id}", json={"purpose": "lain"}, headers=headers
    )
    assert r.status_code == 409
    r = await intake.http.post(f"/api/v1/applications/{application_id}/resubmit", headers=headers)
    assert r.status_code == 409


async def test_cancel_while_revision_is_requested(intake: Intake, worker: None) -> None:
    headers = await intake.sign_in()
    application_id = await _submitted(intake, headers)
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        await intake_pb2_grpc.IntakeServiceStub(channel).RecordProgress(
            intake_pb2.RecordProgressRequest(
                application_id=application_id,
                sequence=100,
                event=APPLICATION_REVISION_REQUESTED,
                status="revision_requested",
                actor_role="kasi_pemerintahan",
                decision="revise",
                reason="KK tidak terbaca",
            )
        )

    r = await intake.http.post(f"/api/v1/applications/{application_id}/cancel", headers=headers)

    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "cancelled"


async def test_validator_refusal_is_409_with_its_reason(
    intake: Intake, worker: None, temporal_client: Client
) -> None:
    headers = await intake.sign_in()
    application_id = await _submitted(intake, headers)
    handle = temporal_client.get_workflow_handle(workflow_id(application_id))
    await handle.signal(ApprovalDouble.lock)

    r = await intake.http.post(f"/api/v1/applications/{application_id}/cancel", headers=headers)

    assert r.status_code == 409
    assert problem(r)["detail"] == LOCKED_MESSAGE
    assert await accepted_updates(handle) == 0
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "in_review"
    await handle.terminate()


async def test_drafts_and_finished_applications_are_not_cancelled(intake: Intake) -> None:
    headers = await intake.sign_in()
    draft = await intake.create_application(headers)
    r = await intake.http.post(f"/api/v1/applications/{draft}/cancel", headers=headers)
    assert r.status_code == 409
    assert problem(r)["detail"] == "Permohonan ini belum diajukan; draf tidak perlu dibatalkan."

    # An issued letter (recorded the way the workflow records it) cannot be withdrawn; intake
    # refuses without asking the workflow (no worker polls this test's queue).
    issued = await _submitted(intake, headers)
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        await intake_pb2_grpc.IntakeServiceStub(channel).RecordProgress(
            intake_pb2.RecordProgressRequest(
                application_id=issued, sequence=9, event=LETTER_ISSUED, status="issued"
            )
        )
    r = await intake.http.post(f"/api/v1/applications/{issued}/cancel", headers=headers)
    assert r.status_code == 409
    assert "tidak dapat dibatalkan" in problem(r)["detail"]


async def test_a_double_tap_resubmits_once(
    intake: Intake, worker: None, temporal_client: Client
) -> None:
    headers = await intake.sign_in()
    application_id = await _submitted(intake, headers)
    handle = temporal_client.get_workflow_handle(workflow_id(application_id))
    await handle.signal(ApprovalDouble.request_revision)
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        await intake_pb2_grpc.IntakeServiceStub(channel).RecordProgress(
            intake_pb2.RecordProgressRequest(
                application_id=application_id,
                sequence=100,
                event=APPLICATION_REVISION_REQUESTED,
                status="revision_requested",
                actor_role="kasi_pemerintahan",
                decision="revise",
                reason="KK tidak terbaca",
            )
        )
    url = f"/api/v1/applications/{application_id}/resubmit"

    # A double tap: whichever way the two interleave, both get the same answer.
    first, second = await asyncio.gather(
        intake.http.post(url, headers=headers), intake.http.post(url, headers=headers)
    )

    for r in (first, second):
        assert r.status_code == 202, r.text
        assert r.json() == {"id": application_id, "status": "in_review"}
    assert await accepted_updates(handle) == 1
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "in_review"
    assert [t["event"] for t in got["timeline"]].count(APPLICATION_RESUBMITTED) == 1
    # A late retry gets the same answer and changes nothing.
    third = await intake.http.post(url, headers=headers)
    assert (third.status_code, third.json()["status"]) == (202, "in_review")
    assert await accepted_updates(handle) == 1
    await handle.terminate()
