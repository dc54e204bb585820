"""The complaint workflow on Temporal's time-skipping server, with its real activity calling
intake's PublicDutiesService over gRPC on a real SQLite database: unanswered at the deadline it
is escalated to the kabupaten once, and the answer ends it; answered in time, nothing escalates."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from smartdesa.v1 import public_duties_pb2 as pb
from smartdesa.v1 import public_duties_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.config import CommonSettings
from common.db import create_engine, create_tables, session_factory
from common.rpc import INTAKE, VERIFICATION, WORKER, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from common.temporal_client import TemporalConnection
from services.intake.complaints import NewComplaint, file_complaint
from services.intake.duties_models import Complaint, ComplaintEntry
from services.intake.duties_servicer import PublicDutiesServicer, register_duties
from services.intake.models import TABLES
from tests.support.waiting import eventually
from workflows.complaint import workflow_id
from workflows.complaint.activities import ComplaintActivities
from workflows.complaint.client import start_complaint
from workflows.complaint.models import ComplaintInput, ComplaintState
from workflows.complaint.worker import build_worker

PAMANUKAN = "32.13.11.2004"
BODY = "Surat saya sudah dua minggu belum juga diproses oleh desa."
DEADLINE_HOURS = 40  # five working days
KABUPATEN = pb.StaffActor(
    username="diskominfo", role="kabupaten_operator", desa_code="", kabupaten_code="32.13"
)
OPERATOR = pb.StaffActor(
    username="op.pamanukan", role="operator", desa_code=PAMANUKAN, kabupaten_code="32.13"
)


@dataclass
class Stack:
    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    duties: public_duties_pb2_grpc.PublicDutiesServiceStub
    settings: CommonSettings

    async def file(self) -> ComplaintInput:
        now = await self.env.get_current_time()
        async with self.sessions() as session:
            filed = await file_complaint(
                session,
                Path("/nonexistent"),
                NewComplaint(PAMANUKAN, "layanan", BODY),
                DEADLINE_HOURS,
                now,
            )
            await session.commit()
            complaint = filed.complaint
            return ComplaintInput(complaint.id, complaint.deadline_at.isoformat())

    async def complaint(self, complaint_id: str) -> tuple[Complaint, list[str]]:
        async with self.sessions() as session:
            complaint = await session.get(Complaint, complaint_id)
            assert complaint is not None
            kinds = (
                await session.exec(
                    select(ComplaintEntry.kind)
                    .where(ComplaintEntry.complaint_id == complaint_id)
                    .order_by(col(ComplaintEntry.id))
                )
            ).all()
            return complaint, list(kinds)


@pytest.fixture
async def stack(time_skipping_env: WorkflowEnvironment, data_dir: Path) -> AsyncIterator[Stack]:
    settings = CommonSettings(
        data_dir=data_dir, temporal_task_queue=f"complaint-test-{uuid.uuid4().hex[:8]}"
    )
    ensure_dev_secrets(settings)
    engine = create_engine(settings.sqlite_url("intake.db"))
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, INTAKE),
        ["smartdesa.v1.PublicDutiesService"],
        register_duties(
            PublicDutiesServicer(sessions, TemporalConnection.of(time_skipping_env.client))
        ),
    )
    await server.start()
    target = f"127.0.0.1:{server.port}"
    try:
        async with (
            client_channel(target, InternalAuth.from_settings(settings, WORKER), INTAKE) as wc,
            client_channel(
                target, InternalAuth.from_settings(settings, VERIFICATION), INTAKE
            ) as vc,
            build_worker(time_skipping_env.client, settings, ComplaintActivities(wc)),
        ):
            yield Stack(
                time_skipping_env,
                sessions,
                public_duties_pb2_grpc.PublicDutiesServiceStub(vc),
                settings,
            )
    finally:
        await server.stop(0)
        await engine.dispose()


async def _start(stack: Stack, input: ComplaintInput) -> None:
    from workflows.complaint import task_queue

    await start_complaint(stack.env.client, task_queue(stack.settings.temporal_task_queue), input)


async def _overdue(stack: Stack, complaint_id: str) -> bool:
    listed = await stack.duties.ListComplaints(pb.ListComplaintsRequest(actor=KABUPATEN))
    (found,) = [c for c in listed.complaints if c.id == complaint_id]
    return bool(found.overdue)


async def test_unanswered_at_the_deadline_it_goes_to_the_kabupaten(stack: Stack) -> None:
    input = await stack.file()
    await _start(stack, input)
    handle = stack.env.client.get_workflow_handle(
        workflow_id(input.complaint_id), result_type=ComplaintState
    )
    # Just before the deadline nothing has happened.
    complaint, _ = await stack.complaint(input.complaint_id)
    before = complaint.deadline_at - await stack.env.get_current_time()
    await stack.env.sleep(before - timedelta(minutes=1))
    complaint, kinds = await stack.complaint(input.complaint_id)
    assert (complaint.status, kinds) == ("diterima", ["filed"])
    assert not await _overdue(stack, input.complaint_id)
    # Past it, the workflow escalates through intake (its real activity over gRPC).
    await stack.env.sleep(timedelta(minutes=2))

    async def escalated() -> bool:
        complaint, _ = await stack.complaint(input.complaint_id)
        return complaint.status == "diteruskan"

    await eventually(escalated, "the complaint escalated")

    async def workflow_knows() -> bool:
        state: ComplaintState = await handle.query("state", result_type=ComplaintState)
        return state.escalated

    await eventually(workflow_knows, "the workflow's state escalated")
    # Overdue on the staff page as the workflow's timer decided it: the test's wall clock is
    # days before the skipped-to deadline, and does not count.
    assert await _overdue(stack, input.complaint_id)

    # Now the kabupaten may answer, and the answer ends the workflow.
    detail = await stack.duties.ReadComplaint(
        pb.ReadComplaintRequest(actor=KABUPATEN, complaint_id=input.complaint_id)
    )
    assert detail.may_answer  # escalated: the kabupaten answers now
    await stack.duties.AnswerComplaint(
        pb.AnswerComplaintRequest(
            actor=KABUPATEN,
            complaint_id=input.complaint_id,
            answer="Kabupaten sudah menghubungi desa; surat Anda diproses hari ini.",
        )
    )
    result = await handle.result()
    assert result == ComplaintState(answered=True, escalated=True)
    _, kinds = await stack.complaint(input.complaint_id)
    assert kinds == ["filed", "escalated", "seen", "answered"]


async def test_answered_in_time_nothing_escalates(stack: Stack) -> None:
    input = await stack.file()
    await _start(stack, input)
    await _start(stack, input)  # a second start finds the first workflow
    await stack.duties.AnswerComplaint(
        pb.AnswerComplaintRequest(
            actor=OPERATOR,
            complaint_id=input.complaint_id,
            answer="Surat Anda sudah terbit pagi ini; mohon maaf atas keterlambatannya.",
        )
    )
    handle = stack.env.client.get_workflow_handle(
        workflow_id(input.complaint_id), result_type=ComplaintState
    )
    assert await handle.result() == ComplaintState(answered=True, escalated=False)
    complaint, kinds = await stack.complaint(input.complaint_id)
    assert (complaint.status, kinds) == ("dijawab", ["filed", "answered"])


async def test_an_answer_that_raced_the_timer_is_not_escalated(stack: Stack) -> None:
    """Answered in intake but the signal lost (Temporal was down): at the deadline intake finds
    it answered and does not escalate; the workflow waits for its signal and ends with it."""
    input = await stack.file()
    await _start(stack, input)
    async with stack.sessions() as session:
        from services.intake.complaints import StaffActor, answer_complaint

        await answer_complaint(
            session,
            StaffActor("op.pamanukan", "operator", PAMANUKAN, "32.13"),
            input.complaint_id,
            "Sudah kami tindak lanjuti, terima kasih.",
        )
    handle = stack.env.client.get_workflow_handle(
        workflow_id(input.complaint_id), result_type=ComplaintState
    )
    await stack.env.sleep(timedelta(days=30))

    async def past_deadline() -> ComplaintState | None:
        state = await handle.query("state", result_type=ComplaintState)
        return state if not state.answered else None

    await eventually(past_deadline, "the workflow past its deadline")
    complaint, kinds = await stack.complaint(input.complaint_id)
    assert (complaint.status, kinds) == ("dijawab", ["filed", "answered"])
    await handle.signal("answered")
    assert await handle.result() == ComplaintState(answered=True, escalated=False)
