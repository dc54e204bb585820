"""Verification's TaskInboxService (services/verification/task_hand_over.py), over real gRPC
with internal tokens, on a real database: an event intake hands over opens or closes the task
at once, and JetStream's copy of it, coming later (or at the same time, on another replica),
changes nothing. What is not an application event, or cannot be one, is refused and leaves
nothing behind."""

from __future__ import annotations  # the async stub type exists only for type checkers

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import grpc
import pytest
from smartdesa.v1 import tasks_pb2, tasks_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.db import as_utc, create_engine, create_tables, session_factory
from common.domain.events import APPLICATION_DECIDED, APPLICATION_STEP_ASSIGNED, OTP_REQUESTED
from common.events import CloudEvent, event_type
from common.rpc import INTAKE, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.intake.applications import EVENT_SOURCE
from services.verification import task_hand_over
from services.verification.config import Settings
from services.verification.models import TABLES, ApplicationRecord, ProcessedEvent, Task
from services.verification.task_inbox import TaskProjection, open_tasks_for
from tests.support.postgres import engine_url
from tests.verification.events import PAMANUKAN, application_event

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@dataclass
class Changes:
    """What the projection told the open inbox pages: (desa, roles) per committed change."""

    told: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    async def __call__(self, desa_code: str, roles: frozenset[str]) -> None:
        self.told.append((desa_code, roles))


@pytest.fixture
def auth_settings(data_dir: Path) -> Settings:
    """Only for the internal-token key, which intake (the caller) and verification share."""
    settings = Settings(profile="dev", data_dir=data_dir)
    ensure_dev_secrets(settings)
    return settings


@asynccontextmanager
async def serving(
    projection: TaskProjection, settings: Settings
) -> AsyncIterator[tuple[tasks_pb2_grpc.TaskInboxServiceAsyncStub, int]]:
    """TaskInboxService on `projection`, on a port the OS chose: a stub as intake calls it,
    and the port."""
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, VERIFICATION),
        [task_hand_over.SERVICE_NAME],
        task_hand_over.register(projection),
    )
    await server.start()
    try:
        auth = InternalAuth.from_settings(settings, INTAKE)
        async with client_channel(f"127.0.0.1:{server.port}", auth, VERIFICATION) as channel:
            stub = cast(
                "tasks_pb2_grpc.TaskInboxServiceAsyncStub",
                tasks_pb2_grpc.TaskInboxServiceStub(channel),
            )
            yield stub, int(server.port)
    finally:
        await server.stop(0)


@dataclass
class Inbox:
    sessions: async_sessionmaker[AsyncSession]
    projection: TaskProjection
    changes: Changes
    stub: tasks_pb2_grpc.TaskInboxServiceAsyncStub
    port: int

    async def hand_over(self, *events: CloudEvent) -> list[bool]:
        """`events` in one HandOverEvents call, as intake makes it; per event, applied now."""
        response = await self.stub.HandOverEvents(handed_over(*events), timeout=10)
        return list(response.applied)


def handed_over(*events: CloudEvent) -> tasks_pb2.HandOverEventsRequest:
    return tasks_pb2.HandOverEventsRequest(
        events=[tasks_pb2.HandedOverEvent(headers=e.headers(), data=e.body()) for e in events]
    )


@asynccontextmanager
async def inbox_on(url: str, settings: Settings) -> AsyncIterator[Inbox]:
    """TaskInboxService on the task tables at `url` (created if need be)."""
    engine = create_engine(url)
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    changes = Changes()
    # One projection for both ways an event comes, as services/verification/runtime.py has it.
    projection = TaskProjection(sessions, on_change=changes)
    try:
        async with serving(projection, settings) as (stub, port):
            yield Inbox(sessions, projection, changes, stub, port)
    finally:
        await engine.dispose()


@pytest.fixture
async def inbox(auth_settings: Settings, data_dir: Path) -> AsyncIterator[Inbox]:
    async with inbox_on(f"sqlite+aiosqlite:///{data_dir / 'inbox.db'}", auth_settings) as inbox:
        yield inbox


def jetstream_copy(event: CloudEvent) -> CloudEvent:
    """The same event as the task consumer reads it from the stream: headers and body."""
    return CloudEvent.from_message(event.headers(), event.body())


async def _rows(
    sessions: async_sessionmaker[AsyncSession], app_id: str
) -> tuple[list[Task], list[ProcessedEvent]]:
    async with sessions() as session:
        tasks = await session.exec(
            select(Task).where(Task.application_id == app_id).order_by(col(Task.step_index))
        )
        processed = await session.exec(
            select(ProcessedEvent).where(ProcessedEvent.application_id == app_id)
        )
        return list(tasks.all()), list(processed.all())


def _assigned(app_id: str, step: int, role: str, at: datetime) -> CloudEvent:
    return application_event(
        APPLICATION_STEP_ASSIGNED, app_id, step_index=step, step_role=role, time=at
    )


async def test_a_handed_over_step_is_in_the_inbox_when_the_call_answers(inbox: Inbox) -> None:
    app_id = str(uuid.uuid4())

    assert await inbox.hand_over(_assigned(app_id, 0, "kasi_pemerintahan", T0)) == [True]

    async with inbox.sessions() as session:
        listed = await open_tasks_for(session, PAMANUKAN, ["kasi_pemerintahan"])
    assert [(t.application_id, t.step_index, t.status) for t in listed] == [(app_id, 0, "open")]
    assert inbox.changes.told == [(PAMANUKAN, frozenset({"kasi_pemerintahan"}))]


async def test_the_same_event_again_and_its_jetstream_copy_change_nothing(inbox: Inbox) -> None:
    app_id = str(uuid.uuid4())
    assigned = _assigned(app_id, 0, "kasi_pemerintahan", T0)
    assert await inbox.hand_over(assigned) == [True]
    [before], _ = await _rows(inbox.sessions, app_id)

    assert await inbox.hand_over(assigned) == [False]  # intake handing it over twice
    await inbox.projection.handle(jetstream_copy(assigned))  # the consumer's copy, later

    tasks, processed = await _rows(inbox.sessions, app_id)
    assert [(t.id, t.step_index, t.status, t.assigned_at) for t in tasks] == [
        (before.id, 0, "open", before.assigned_at)
    ]
    assert [p.event_id for p in processed] == [assigned.id]
    assert len(inbox.changes.told) == 1


async def test_a_hand_over_after_the_jetstream_copy_changes_nothing(inbox: Inbox) -> None:
    app_id = str(uuid.uuid4())
    assigned = _assigned(app_id, 0, "kasi_pemerintahan", T0)
    await inbox.projection.handle(jetstream_copy(assigned))  # the stream was quicker

    assert await inbox.hand_over(assigned) == [False]

    tasks, processed = await _rows(inbox.sessions, app_id)
    assert [(t.step_index, t.status) for t in tasks] == [(0, "open")]
    assert len(processed) == 1
    assert len(inbox.changes.told) == 1


async def test_the_next_step_handed_over_before_the_decision_stands(inbox: Inbox) -> None:
    """A decision goes in the background, the next step is awaited: the next step may arrive
    first. The decided step is then closed by the next step's opening, and the decision, older
    than what the projection knows, changes no task."""
    app_id = str(uuid.uuid4())
    first = _assigned(app_id, 0, "kasi_pemerintahan", T0)
    decided = application_event(
        APPLICATION_DECIDED,
        app_id,
        step_index=0,
        step_role="kasi_pemerintahan",
        decision="approve",
        time=T0 + timedelta(hours=1),
    )
    second_at = T0 + timedelta(hours=1, milliseconds=5)
    second = _assigned(app_id, 1, "sekdes", second_at)
    assert await inbox.hand_over(first) == [True]

    assert await inbox.hand_over(second) == [True]
    assert await inbox.hand_over(decided) == [True]  # recorded as applied, changing no task

    tasks, processed = await _rows(inbox.sessions, app_id)
    assert [(t.step_index, t.role, t.status) for t in tasks] == [
        (0, "kasi_pemerintahan", "done"),
        (1, "sekdes", "open"),
    ]
    assert tasks[0].closed_at is not None and as_utc(tasks[0].closed_at) == second_at
    assert len(processed) == 3
    async with inbox.sessions() as session:
        assert [t.application_id for t in await open_tasks_for(session, PAMANUKAN, ["sekdes"])] == [
            app_id
        ]
        record = await session.get(ApplicationRecord, app_id)
    assert record is not None and as_utc(record.status_at) == second_at
    # The inbox pages were told of the two openings only (the second closed step 0 as well).
    assert inbox.changes.told == [
        (PAMANUKAN, frozenset({"kasi_pemerintahan"})),
        (PAMANUKAN, frozenset({"kasi_pemerintahan", "sekdes"})),
    ]

    # JetStream's copies then come in the stream's order, and change nothing.
    for event in (first, decided, second):
        await inbox.projection.handle(jetstream_copy(event))
    assert [(t.step_index, t.status) for t in (await _rows(inbox.sessions, app_id))[0]] == [
        (0, "done"),
        (1, "open"),
    ]
    assert len(inbox.changes.told) == 2


async def test_a_decision_and_its_next_step_in_one_call_are_applied_in_order(
    database: str, auth_settings: Settings
) -> None:
    """Intake holds a decision for the next step and hands both over in one call: the decided
    step closes at the decision's time (not the next step's), the next step opens, and the
    inbox pages hear of it once, for the roles of both."""
    async with inbox_on(database, auth_settings) as inbox:
        app_id = str(uuid.uuid4())
        first = _assigned(app_id, 0, "kasi_pemerintahan", T0)
        decided_at = T0 + timedelta(hours=1)
        decided = application_event(
            APPLICATION_DECIDED,
            app_id,
            step_index=0,
            step_role="kasi_pemerintahan",
            decision="approve",
            time=decided_at,
        )
        second_at = decided_at + timedelta(milliseconds=60)
        second = _assigned(app_id, 1, "sekdes", second_at)
        assert await inbox.hand_over(first) == [True]

        assert await inbox.hand_over(decided, second) == [True, True]

        tasks, processed = await _rows(inbox.sessions, app_id)
        assert [(t.step_index, t.role, t.status) for t in tasks] == [
            (0, "kasi_pemerintahan", "done"),
            (1, "sekdes", "open"),
        ]
        assert tasks[0].closed_at is not None and as_utc(tasks[0].closed_at) == decided_at
        assert as_utc(tasks[1].assigned_at) == second_at
        assert sorted(p.event_id for p in processed) == sorted([first.id, decided.id, second.id])
        async with inbox.sessions() as session:
            listed = await open_tasks_for(session, PAMANUKAN, ["sekdes"])
            record = await session.get(ApplicationRecord, app_id)
        assert [(t.application_id, t.step_index) for t in listed] == [(app_id, 1)]
        assert record is not None and as_utc(record.status_at) == second_at
        assert inbox.changes.told == [
            (PAMANUKAN, frozenset({"kasi_pemerintahan"})),
            (PAMANUKAN, frozenset({"kasi_pemerintahan", "sekdes"})),  # the one call: once
        ]

        # The same two again, and JetStream's copies: nothing changes, nobody is told.
        assert await inbox.hand_over(decided, second) == [False, False]
        for event in (first, decided, second):
            await inbox.projection.handle(jetstream_copy(event))
        assert [(t.step_index, t.status) for t in (await _rows(inbox.sessions, app_id))[0]] == [
            (0, "done"),
            (1, "open"),
        ]
        assert len(inbox.changes.told) == 2


async def test_events_of_two_applications_in_one_call_are_refused(inbox: Inbox) -> None:
    one = _assigned(str(uuid.uuid4()), 0, "kasi_pemerintahan", T0)
    other = _assigned(str(uuid.uuid4()), 0, "kasi_pemerintahan", T0)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await inbox.stub.HandOverEvents(handed_over(one, other), timeout=10)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _nothing_written(inbox)


async def test_one_bad_event_in_a_call_leaves_the_good_one_unapplied_too(inbox: Inbox) -> None:
    app_id = str(uuid.uuid4())
    good = _assigned(app_id, 0, "kasi_pemerintahan", T0)
    bad = application_event(
        APPLICATION_STEP_ASSIGNED,
        app_id,
        step_index=1,
        desa_code="",
        letter_type="",
        step_role="",
        time=T0 + timedelta(hours=1),
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await inbox.stub.HandOverEvents(handed_over(good, bad), timeout=10)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _nothing_written(inbox)
    # Not recorded as applied either: handed over alone, it is applied then.
    assert await inbox.hand_over(good) == [True]
    tasks, _ = await _rows(inbox.sessions, app_id)
    assert [(t.step_index, t.status) for t in tasks] == [(0, "open")]


def _not_an_application_event() -> tasks_pb2.HandOverEventsRequest:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(OTP_REQUESTED),
        data={"application_id": str(uuid.uuid4()), "desa_code": PAMANUKAN},
    )
    return handed_over(event)


def _step_without_desa_role_or_type() -> tasks_pb2.HandOverEventsRequest:
    event = application_event(
        APPLICATION_STEP_ASSIGNED, str(uuid.uuid4()), desa_code="", letter_type="", step_role=""
    )
    return handed_over(event)


def _without_headers() -> tasks_pb2.HandOverEventsRequest:
    event = _assigned(str(uuid.uuid4()), 0, "kasi_pemerintahan", T0)
    return tasks_pb2.HandOverEventsRequest(events=[tasks_pb2.HandedOverEvent(data=event.body())])


def _data_not_an_object() -> tasks_pb2.HandOverEventsRequest:
    event = _assigned(str(uuid.uuid4()), 0, "kasi_pemerintahan", T0)
    return tasks_pb2.HandOverEventsRequest(
        events=[tasks_pb2.HandedOverEvent(headers=event.headers(), data=b'["not", "an", "object"]')]
    )


async def _nothing_written(inbox: Inbox) -> None:
    async with inbox.sessions() as session:
        for table in (Task, ProcessedEvent, ApplicationRecord):
            assert (await session.exec(select(table))).all() == []
    assert inbox.changes.told == []


@pytest.mark.parametrize(
    "request_",
    [
        _without_headers(),
        _not_an_application_event(),
        _step_without_desa_role_or_type(),
        _data_not_an_object(),
    ],
    ids=["no-cloudevent-headers", "resident-event", "step-without-desa-role-type", "data-a-list"],
)
async def test_what_is_no_application_event_is_refused_and_nothing_written(
    inbox: Inbox, request_: tasks_pb2.HandOverEventsRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await inbox.stub.HandOverEvents(request_, timeout=10)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _nothing_written(inbox)


async def test_a_call_without_the_internal_token_is_refused(inbox: Inbox) -> None:
    event = _assigned(str(uuid.uuid4()), 0, "kasi_pemerintahan", T0)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{inbox.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await tasks_pb2_grpc.TaskInboxServiceStub(channel).HandOverEvents(
                handed_over(event), timeout=10
            )

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await _nothing_written(inbox)


# -- a hand-over and the JetStream copy at the same time ----------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, data_dir: Path) -> str:
    url = await engine_url(request, data_dir, "inbox")
    engine = create_engine(url)
    try:
        await create_tables(engine, TABLES)
    finally:
        await engine.dispose()
    return url


async def test_a_hand_over_and_the_jetstream_copy_at_once_apply_the_event_once(
    database: str, auth_settings: Settings
) -> None:
    """On PostgreSQL two replicas: one takes intake's hand-over, the other JetStream's copy, on
    the same database (their per-application lock). On SQLite one replica, one projection for
    both (its one writer). Either way one task, one processed row, and one of the two applied."""
    engines = [create_engine(database), create_engine(database)]
    projections = [TaskProjection(session_factory(e)) for e in engines]
    if database.startswith("sqlite"):
        projections[1] = projections[0]
    sessions = session_factory(engines[0])
    try:
        async with serving(projections[0], auth_settings) as (stub, _):
            for _ in range(10):  # each a fresh race
                app_id = str(uuid.uuid4())
                assigned = _assigned(app_id, 0, "kasi_pemerintahan", T0)
                handed, consumed = await asyncio.gather(
                    stub.HandOverEvents(handed_over(assigned), timeout=10),
                    # The consumer's handle is a read, then this: the race is here.
                    projections[1].apply(jetstream_copy(assigned)),
                )

                assert sorted([*handed.applied, consumed]) == [False, True]
                tasks, processed = await _rows(sessions, app_id)
                assert [(t.step_index, t.status) for t in tasks] == [(0, "open")]
                assert [p.event_id for p in processed] == [assigned.id]
    finally:
        for engine in engines:
            await engine.dispose()
