"""Intake's hand-over (services/intake/task_hand_over.py), as the running intake wires it
(runtime.py): RecordProgress over real gRPC, and verification's real TaskInboxService on a real
database of its own. An event that opens a task is in verification's task table when
RecordProgress answers; other events follow in the background. A verification that fails, is
unreachable or predates the service costs nothing but the shortcut: every record still answers,
every event still goes to the outbox (JetStream's copy), and after a failure intake stops handing
over for a while instead of trying on every record."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import grpc
import httpx
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc, tasks_pb2, tasks_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.db import as_utc, create_engine, create_tables, session_factory
from common.domain.events import APPLICATION_DECIDED, APPLICATION_STEP_ASSIGNED
from common.events import CloudEvent, deterministic_event_id, public_subject
from common.outbox import OutboxEvent
from common.rpc import INTAKE, VERIFICATION, WORKER, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.models import LetterApplication, Resident
from services.intake.task_hand_over import TaskHandOver
from services.verification import task_hand_over
from services.verification.models import TABLES, ProcessedEvent, Task
from services.verification.task_hand_over import TaskInboxServicer
from services.verification.task_inbox import TaskProjection
from tests.intake.conftest import NIK_ANI, PAMANUKAN, Intake
from tests.support.catalogue import CatalogueServer
from tests.support.processes import free_port
from tests.support.waiting import eventually

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


# -- verification, as intake reaches it -------------------------------------------------------


class CountingTaskInbox(TaskInboxServicer):
    """Verification's own servicer, keeping the event ids of each hand-over that reaches it."""

    def __init__(self, projection: TaskProjection) -> None:
        super().__init__(projection)
        self.handed: list[list[str]] = []  # per call, its events' ids in the call's order

    @property
    def calls(self) -> int:
        return len(self.handed)

    async def HandOverEvents(
        self, request: tasks_pb2.HandOverEventsRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.HandOverEventsResponse:
        self.handed.append(
            [CloudEvent.from_message(dict(e.headers), e.data).id for e in request.events]
        )
        return await super().HandOverEvents(request, context)


class UnavailableTaskInbox(tasks_pb2_grpc.TaskInboxServiceServicer):
    """A verification that answers every hand-over UNAVAILABLE (overloaded, shutting down)."""

    calls = 0

    async def HandOverEvents(
        self, request: tasks_pb2.HandOverEventsRequest, context: grpc.aio.ServicerContext
    ) -> NoReturn:
        self.calls += 1
        await context.abort(grpc.StatusCode.UNAVAILABLE, "verification is shutting down")
        raise AssertionError("abort raises")


class AskedFor(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Serves nothing; counts the calls of `method` that reach a server without its service."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.calls = 0

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> None:
        if handler_call_details.method == self.method:
            self.calls += 1


@dataclass
class Verification:
    server: GrpcServer
    sessions: async_sessionmaker[AsyncSession]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    async def tasks(self, application_id: str) -> list[Task]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(Task)
                .where(Task.application_id == application_id)
                .order_by(col(Task.step_index))
            )
            return list(rows.all())

    async def processed(self, application_id: str) -> list[str]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(ProcessedEvent.event_id).where(
                    ProcessedEvent.application_id == application_id
                )
            )
            return sorted(rows.all())


Serve = Callable[[async_sessionmaker[AsyncSession]], Callable[[grpc.aio.Server], None]]


@asynccontextmanager
async def verification_serving(
    base_settings: Settings, serve: Serve, service_names: list[str]
) -> AsyncIterator[Verification]:
    """A real gRPC server with verification's internal-token auth, serving what `serve` adds,
    beside verification's task tables on a SQLite database of its own."""
    ensure_dev_secrets(base_settings)
    engine = create_engine(base_settings.sqlite_url("verification-tasks.db"))
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(base_settings, VERIFICATION),
        service_names,
        serve(sessions),
    )
    await server.start()
    try:
        yield Verification(server, sessions)
    finally:
        await server.stop(0)
        await engine.dispose()


@asynccontextmanager
async def task_inbox(
    base_settings: Settings,
) -> AsyncIterator[tuple[Verification, CountingTaskInbox]]:
    """Verification's TaskInboxService on its task projection, as its runtime serves it."""
    servicers: list[CountingTaskInbox] = []

    def serve(sessions: async_sessionmaker[AsyncSession]) -> Callable[[grpc.aio.Server], None]:
        servicers.append(CountingTaskInbox(TaskProjection(sessions)))
        return lambda server: tasks_pb2_grpc.add_TaskInboxServiceServicer_to_server(
            servicers[0], server
        )

    async with verification_serving(
        base_settings, serve, [task_hand_over.SERVICE_NAME]
    ) as verification:
        yield verification, servicers[0]


# -- intake, as it runs -----------------------------------------------------------------------


@asynccontextmanager
async def running_intake(settings: Settings) -> AsyncIterator[Intake]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


def intake_settings(
    base_settings: Settings, catalogue: CatalogueServer, verification_target: str, **update: object
) -> Settings:
    return base_settings.model_copy(
        update={
            "verification_grpc_target": verification_target,
            "catalogue_grpc_target": catalogue.target,
            **update,
        }
    )


@asynccontextmanager
async def worker_stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    """IntakeService as the approval worker calls it, reporting progress."""
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


async def submitted_application(intake: Intake) -> str:
    """An application in review, as the workflow reports on it (sign-in and filing are
    elsewhere's business)."""
    async with intake.runtime.sessions() as session:
        resident = Resident(nik=NIK_ANI, phone="6281234567890")
        session.add(resident)
        await session.flush()
        application = LetterApplication(
            resident_id=resident.id,
            desa_code=PAMANUKAN,
            letter_type="SKD",
            letter_type_version="SKD-v1",
            letter_type_name="Surat Keterangan Domisili",
            purpose="Persyaratan melamar pekerjaan",
            fields_json="{}",
            status="in_review",
            submitted_at=T0,
        )
        session.add(application)
        await session.commit()
        return application.id


def _at(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def step_assigned(
    application_id: str, sequence: int, index: int, role: str, at: datetime
) -> intake_pb2.RecordProgressRequest:
    return intake_pb2.RecordProgressRequest(
        application_id=application_id,
        sequence=sequence,
        event=APPLICATION_STEP_ASSIGNED,
        status="in_review",
        current_step=intake_pb2.StepRef(index=index, role=role),
        occurred_at=_at(at),
    )


def decided(
    application_id: str, sequence: int, role: str, at: datetime
) -> intake_pb2.RecordProgressRequest:
    return intake_pb2.RecordProgressRequest(
        application_id=application_id,
        sequence=sequence,
        event=APPLICATION_DECIDED,
        status="in_review",
        actor_role=role,
        decision="approve",
        occurred_at=_at(at),
    )


def event_id(application_id: str, sequence: int) -> str:
    return deterministic_event_id(application_id, "progress", str(sequence))


async def outbox_ids(intake: Intake, application_id: str) -> list[str]:
    async with intake.runtime.sessions() as session:
        rows = await session.exec(
            select(OutboxEvent.id).where(col(OutboxEvent.ce_subject) == application_id)
        )
        return sorted(rows.all())


# -- the tests --------------------------------------------------------------------------------


async def test_a_step_assigned_is_in_verifications_inbox_when_record_progress_answers(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    """...and a decision that no next step follows (the last approval) is handed over alone
    once its hold is over."""
    async with task_inbox(base_settings) as (verification, servicer):
        settings = intake_settings(
            base_settings,
            catalogue,
            verification.target,
            intake_task_hand_over_hold_seconds=0.05,
        )
        async with running_intake(settings) as intake, worker_stub(intake) as stub:
            application_id = await submitted_application(intake)

            answer = await stub.RecordProgress(
                step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)
            )

            assert answer.applied is True
            # No waiting: RecordProgress answered after verification applied it.
            [task] = await verification.tasks(application_id)
            assert (task.step_index, task.role, task.status) == (0, "kasi_pemerintahan", "open")
            assert (task.desa_code, task.letter_type, as_utc(task.assigned_at)) == (
                PAMANUKAN,
                "SKD",
                T0,
            )
            # The same CloudEvent as the one staged for JetStream.
            assert await verification.processed(application_id) == [event_id(application_id, 1)]
            assert await outbox_ids(intake, application_id) == [event_id(application_id, 1)]

            decided_at = T0 + timedelta(hours=1)
            answer = await stub.RecordProgress(
                decided(application_id, 2, "kasi_pemerintahan", decided_at)
            )
            assert answer.applied is True

            # The decision is held for its next step, then handed over alone in the background.
            async def step_closed() -> bool:
                [task] = await verification.tasks(application_id)
                return task.status == "done"

            await eventually(step_closed, "the decision's hand-over", within=10)
            [task] = await verification.tasks(application_id)
            assert task.closed_at is not None and as_utc(task.closed_at) == decided_at
            both = sorted([event_id(application_id, 1), event_id(application_id, 2)])
            assert await verification.processed(application_id) == both
            assert await outbox_ids(intake, application_id) == both
            assert servicer.handed == [[event_id(application_id, 1)], [event_id(application_id, 2)]]


async def test_a_decision_and_the_next_step_go_in_one_call_when_the_step_is_recorded(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    """The decision waits for the next step (a hold far longer than the test, so that it is
    the next step's record that hands both over), and both are applied when RecordProgress of
    the next step answers: the decided step closed at the decision's time."""
    async with task_inbox(base_settings) as (verification, servicer):
        settings = intake_settings(
            base_settings,
            catalogue,
            verification.target,
            intake_task_hand_over_hold_seconds=600,
        )
        async with running_intake(settings) as intake, worker_stub(intake) as stub:
            application_id = await submitted_application(intake)
            first = step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)
            assert (await stub.RecordProgress(first)).applied is True
            assert servicer.handed == [[event_id(application_id, 1)]]

            decided_at = T0 + timedelta(hours=1)
            answer = await stub.RecordProgress(
                decided(application_id, 2, "kasi_pemerintahan", decided_at)
            )

            assert answer.applied is True
            # Held: nothing of it has reached verification.
            assert servicer.calls == 1
            [task] = await verification.tasks(application_id)
            assert task.status == "open"
            assert await verification.processed(application_id) == [event_id(application_id, 1)]

            next_at = decided_at + timedelta(milliseconds=60)
            answer = await stub.RecordProgress(
                step_assigned(application_id, 3, 1, "sekdes", next_at)
            )

            assert answer.applied is True
            # No waiting: one call with both, in order, applied when RecordProgress answered.
            assert servicer.handed == [
                [event_id(application_id, 1)],
                [event_id(application_id, 2), event_id(application_id, 3)],
            ]
            tasks = await verification.tasks(application_id)
            assert [(t.step_index, t.role, t.status) for t in tasks] == [
                (0, "kasi_pemerintahan", "done"),
                (1, "sekdes", "open"),
            ]
            assert tasks[0].closed_at is not None and as_utc(tasks[0].closed_at) == decided_at
            assert as_utc(tasks[1].assigned_at) == next_at
            every = sorted(event_id(application_id, n) for n in (1, 2, 3))
            assert await verification.processed(application_id) == every
            assert await outbox_ids(intake, application_id) == every


async def test_a_decision_held_when_intake_stops_is_left_to_jetstream(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    """Intake stops while a decision waits for its next step: the hold is let go before the
    channel to verification closes (no call on a closed channel, no error left behind), and
    the decision is in the outbox for the relay."""
    async with task_inbox(base_settings) as (verification, servicer):
        settings = intake_settings(
            base_settings,
            catalogue,
            verification.target,
            intake_task_hand_over_hold_seconds=0.2,
        )
        loop = asyncio.get_running_loop()
        unhandled: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
        try:
            async with running_intake(settings) as intake, worker_stub(intake) as stub:
                application_id = await submitted_application(intake)
                first = step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)
                assert (await stub.RecordProgress(first)).applied is True
                decision = decided(application_id, 2, "kasi_pemerintahan", T0 + timedelta(hours=1))
                assert (await stub.RecordProgress(decision)).applied is True
                assert event_id(application_id, 2) in await outbox_ids(intake, application_id)
            # Past the hold, with intake stopped: the decision never left it this way.
            await asyncio.sleep(0.4)
        finally:
            loop.set_exception_handler(None)
        assert servicer.handed == [[event_id(application_id, 1)]]
        assert unhandled == []


async def test_an_unreachable_verification_leaves_the_event_to_jetstream(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = intake_settings(base_settings, catalogue, nobody)
    async with running_intake(settings) as intake, worker_stub(intake) as stub:
        application_id = await submitted_application(intake)

        answer = await stub.RecordProgress(
            step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)
        )

        assert answer.applied is True
        assert await outbox_ids(intake, application_id) == [event_id(application_id, 1)]
        # The outbox relay publishes it: the task projection's consumer takes it from there.
        await intake.published(
            public_subject(PAMANUKAN, APPLICATION_STEP_ASSIGNED), event_id(application_id, 1)
        )
        # Recording again is still idempotent.
        again = await stub.RecordProgress(
            step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)
        )
        assert again.applied is False


async def test_after_a_failed_hand_over_the_next_records_do_not_try_again(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    failing = UnavailableTaskInbox()

    def serve(_: async_sessionmaker[AsyncSession]) -> Callable[[grpc.aio.Server], None]:
        return lambda server: tasks_pb2_grpc.add_TaskInboxServiceServicer_to_server(failing, server)

    async with verification_serving(base_settings, serve, [task_hand_over.SERVICE_NAME]) as peer:
        settings = intake_settings(base_settings, catalogue, peer.target)
        async with running_intake(settings) as intake, worker_stub(intake) as stub:
            application_id = await submitted_application(intake)

            first = await stub.RecordProgress(
                step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)
            )
            assert first.applied is True
            assert failing.calls == 1

            # Within the pause (PAUSE_AFTER_FAILURE_S): a decision (in the background) and the
            # next step (awaited, which comes after the decision's hand-over would have gone).
            later = [
                decided(application_id, 2, "kasi_pemerintahan", T0 + timedelta(hours=1)),
                step_assigned(application_id, 3, 1, "sekdes", T0 + timedelta(hours=2)),
            ]
            for request in later:
                assert (await stub.RecordProgress(request)).applied is True

            assert failing.calls == 1
            assert await outbox_ids(intake, application_id) == sorted(
                event_id(application_id, n) for n in (1, 2, 3)
            )


async def test_a_verification_without_the_service_is_not_asked_again(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    """A verification from before TaskInboxService (a rolling deploy): UNIMPLEMENTED, and intake
    hands nothing over for a long while (PAUSE_AFTER_UNIMPLEMENTED_S)."""
    asked = AskedFor(f"/{task_hand_over.SERVICE_NAME}/HandOverEvents")

    def serve(_: async_sessionmaker[AsyncSession]) -> Callable[[grpc.aio.Server], None]:
        return lambda server: server.add_generic_rpc_handlers((asked,))

    async with verification_serving(base_settings, serve, []) as old:
        settings = intake_settings(base_settings, catalogue, old.target)
        async with running_intake(settings) as intake, worker_stub(intake) as stub:
            application_id = await submitted_application(intake)
            requests = [
                step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0),
                decided(application_id, 2, "kasi_pemerintahan", T0 + timedelta(hours=1)),
                step_assigned(application_id, 3, 1, "sekdes", T0 + timedelta(hours=2)),
            ]

            for request in requests:
                assert (await stub.RecordProgress(request)).applied is True

            assert asked.calls == 1
            assert await outbox_ids(intake, application_id) == sorted(
                event_id(application_id, n) for n in (1, 2, 3)
            )


async def test_with_the_hand_over_switched_off_record_progress_only_records(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    async with task_inbox(base_settings) as (verification, servicer):
        settings = intake_settings(
            base_settings, catalogue, verification.target, intake_task_hand_over=False
        )
        async with running_intake(settings) as intake, worker_stub(intake) as stub:
            application_id = await submitted_application(intake)
            request = step_assigned(application_id, 1, 0, "kasi_pemerintahan", T0)

            assert (await stub.RecordProgress(request)).applied is True
            assert (await stub.RecordProgress(request)).applied is False

            assert await outbox_ids(intake, application_id) == [event_id(application_id, 1)]
            await intake.published(
                public_subject(PAMANUKAN, APPLICATION_STEP_ASSIGNED), event_id(application_id, 1)
            )
            assert servicer.calls == 0
            assert await verification.tasks(application_id) == []


async def test_a_hand_over_that_cannot_be_sent_fails_no_record(
    base_settings: Settings, catalogue: CatalogueServer
) -> None:
    """Not every failure is a gRPC status: a channel already closed raises grpc's own usage
    error. The hand-over gives up and pauses like after any failure; the caller (the record)
    never sees it."""
    async with task_inbox(base_settings) as (verification, servicer):
        channel = client_channel(
            verification.target, InternalAuth.from_settings(base_settings, INTAKE), VERIFICATION
        )
        await channel.close()
        hand_over = TaskHandOver(
            tasks_pb2_grpc.TaskInboxServiceStub(channel),
            hold_s=base_settings.intake_task_hand_over_hold_seconds,
        )
        event = CloudEvent(
            id=event_id("a", 1),
            source="test",
            type="id.go.subang.smartdesa.application.step_assigned.v1",
            subject="a",
            data={"application_id": "a"},
        )

        assert await hand_over.hand_over([event]) == [False]
        await hand_over(event)  # an opening event, awaited: returns, raises nothing

        assert servicer.calls == 0
