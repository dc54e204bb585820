"""Submitting starts the approval workflow on a real Temporal dev server (no worker polls the
test's task queue, so the started workflow simply waits)."""

import json
import re
import uuid

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from common.domain import ApplicationStatus
from common.domain.events import APPLICATION_STEP_ASSIGNED, APPLICATION_SUBMITTED
from common.events import (
    CloudEvent,
    deterministic_event_id,
    event_type,
    public_subject,
)
from common.outbox import OutboxEvent
from services.intake import approvals
from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.models import LetterApplication, TimelineEntry
from services.intake.web.labels import status_label
from services.intake.web.timeline import timeline_item
from tests.intake import samples
from tests.intake.conftest import NIK_ANI, PAMANUKAN, PHONE_ANI, Intake, problem
from tests.support.processes import free_port
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.models import ApprovalInput


async def _with_documents(intake: Intake, headers: dict[str, str], kinds: tuple[str, ...]) -> str:
    application_id = await intake.create_application(headers)
    for kind in kinds:
        r = await intake.upload(headers, application_id, kind, samples.pdf())
        assert r.status_code == 201, r.text
    return application_id


async def _outbox(intake: Intake, application_id: str) -> list[OutboxEvent]:
    async with intake.runtime.sessions() as session:
        return list(
            (
                await session.exec(
                    select(OutboxEvent).where(col(OutboxEvent.ce_subject) == application_id)
                )
            ).all()
        )


async def test_missing_kk_is_422_and_nothing_starts(
    intake: Intake, temporal_client: Client
) -> None:
    headers = await intake.sign_in()
    application_id = await _with_documents(intake, headers, ("KTP",))
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 422
    p = problem(r)
    assert p["detail"] == "Syarat belum lengkap: Kartu Keluarga (KK)"
    assert p["missing"] == ["KK"]
    with pytest.raises(RPCError):
        await temporal_client.get_workflow_handle(workflow_id(application_id)).describe()
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "draft"


async def test_submit_starts_the_workflow_once(intake: Intake, temporal_client: Client) -> None:
    headers = await intake.sign_in()
    application_id = await _with_documents(intake, headers, ("KTP", "KK"))
    # Intake builds its Temporal client (importing temporalio) on the first submit, not at start
    # (docs/operations.md#memory-of-the-idle-stack); that first submit starts the workflow.
    assert not intake.runtime.temporal.started
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 202, r.text
    assert intake.runtime.temporal.started
    assert r.json() == {"id": application_id, "status": "in_review"}

    handle = temporal_client.get_workflow_handle(workflow_id(application_id))
    described = await handle.describe()
    assert described.workflow_type == WORKFLOW_NAME
    assert described.task_queue == intake.runtime.settings.temporal_task_queue
    assert described.status == WorkflowExecutionStatus.RUNNING
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (payload,) = started.input.payloads
    assert json.loads(payload.data) == {
        "application_id": application_id,
        "desa_code": PAMANUKAN,
        "letter_type": "SKD",
        # For the Temporal UI's summary line (never the resident's name).
        "desa_name": "Pamanukan",
        "kecamatan_name": "Pamanukan",
        # The catalogue version the application pinned: its default route is the one taken.
        "letter_type_version": "SKD-v1",
    }

    again = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert again.status_code == 202
    assert again.json() == {"id": application_id, "status": "in_review"}
    assert (await handle.describe()).run_id == described.run_id

    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "in_review"
    assert got["submitted_at"] is not None
    assert re.fullmatch(r"SKD-20\d\d-\d{6}", got["number"])
    assert [(t["event"], t["status"]) for t in got["timeline"]] == [
        (APPLICATION_SUBMITTED, "in_review")
    ]
    (staged,) = await _outbox(intake, application_id)
    assert staged.id == deterministic_event_id(application_id, "submitted")

    # The relay publishes it on the desa's public subject, without personal data.
    subject = public_subject(PAMANUKAN, APPLICATION_SUBMITTED)

    event = CloudEvent.from_message(*await intake.published(subject, staged.id))
    assert event.type == event_type(APPLICATION_SUBMITTED)
    assert event.subject == application_id
    assert event.data == {
        "application_id": application_id,
        "desa_code": PAMANUKAN,
        "kecamatan_code": "32.13.11",
        "kabupaten_code": "32.13",
        "letter_type": "SKD",
        "letter_type_name": "Surat Keterangan Domisili",
        "status": "in_review",
        "channel": "portal",  # the resident submitted it (walk_in: filed at the office)
        "application_number": got["number"],  # not personal data: what everyone calls it
    }


async def test_starting_twice_finds_the_running_workflow(
    intake: Intake, temporal_client: Client
) -> None:
    application_id = f"ulang-{uuid.uuid4()}"
    approval = ApprovalInput(application_id=application_id, desa_code=PAMANUKAN, letter_type="SKD")
    queue = intake.runtime.settings.temporal_task_queue
    first = await approvals.start_approval(intake.runtime.temporal, queue, approval)
    second = await approvals.start_approval(intake.runtime.temporal, queue, approval)
    assert first and first == second
    await temporal_client.get_workflow_handle(workflow_id(application_id)).terminate()


async def test_resubmit_only_when_revision_was_requested(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await _with_documents(intake, headers, ("KTP", "KK"))
    r = await intake.http.post(f"/api/v1/applications/{application_id}/resubmit", headers=headers)
    assert r.status_code == 409
    assert problem(r)["detail"] == "Permohonan ini tidak sedang menunggu perbaikan."


async def test_temporal_unreachable_is_503_and_nothing_changes(settings: Settings) -> None:
    settings = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            intake = Intake(app=app, runtime=app.state.runtime, http=http)
            headers = await intake.sign_in(NIK_ANI, PHONE_ANI)
            application_id = await _with_documents(intake, headers, ("KTP", "KK"))
            r = await http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
            assert r.status_code == 503
            assert "tidak dapat dihubungi" in problem(r)["detail"]
            async with intake.runtime.sessions() as session:
                application = await session.get(LetterApplication, application_id)
                assert application is not None
                assert application.status == "draft" and application.submitted_at is None
                timeline = (await session.exec(select(TimelineEntry))).all()
                assert timeline == []
            assert await _outbox(intake, application_id) == []


async def test_a_letter_awaiting_its_signature_reads_so_to_the_resident(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    """The workflow reports the signature step of a BSrE desa (step_assigned with status
    awaiting_signature, one past the route's last step): intake accepts the status and tells the
    resident the letter is approved and waits for its signature."""
    headers = await intake.sign_in()
    application_id = await _with_documents(intake, headers, ("KTP", "KK"))
    occurred_at = Timestamp()
    occurred_at.GetCurrentTime()
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=1,
            event=APPLICATION_STEP_ASSIGNED,
            status=ApplicationStatus.AWAITING_SIGNATURE,
            current_step=intake_pb2.StepRef(index=3, role="kades"),
            occurred_at=occurred_at,
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "awaiting_signature"
    assert status_label(got["status"]) == "Disetujui, menunggu tanda tangan"
    async with intake.runtime.sessions() as session:
        (entry,) = (
            await session.exec(
                select(TimelineEntry).where(TimelineEntry.application_id == application_id)
            )
        ).all()
        application = await session.get(LetterApplication, application_id)
    assert application is not None
    assert timeline_item(entry, application).title.startswith(
        "Sudah disetujui, menunggu tanda tangan elektronik Kepala Desa."
    )
