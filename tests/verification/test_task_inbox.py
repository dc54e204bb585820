import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, create_engine, create_tables, session_factory
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
)
from common.events import PUBLIC_STREAM, CloudEvent, event_type, public_filter, public_subject
from common.messaging import Consumer, PermanentEventError, publish
from services.intake.applications import EVENT_SOURCE
from services.verification.config import Settings
from services.verification.main import create_app
from services.verification.models import (
    TABLES,
    ApplicationRecord,
    ProcessedEvent,
    StepRollup,
    Task,
)
from services.verification.step_rollup import rebuild
from services.verification.task_inbox import TaskProjection, application_lane, open_tasks_for
from tests.support.postgres import engine_url
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event

# -- through NATS, into the running service ---------------------------------------------------


async def _task_ids(service: Service, headers: dict[str, str]) -> list[str]:
    response = await service.http.get("/api/v1/tasks", headers=headers)
    assert response.status_code == 200, response.text
    return [t["application_id"] for t in response.json()]


async def _publish(js: JetStreamContext, event: CloudEvent, desa_code: str = PAMANUKAN) -> None:
    await publish(js, public_subject(desa_code, event.name), event)


async def test_step_assigned_opens_a_task_for_that_role_and_desa_only(
    service: Service, js: JetStreamContext
) -> None:
    app_id = str(uuid.uuid4())
    kasi = await service.login("pemerintahan.pamanukan")

    await _publish(
        js,
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_index=0, step_role="kasi_pemerintahan"
        ),
    )

    async def listed() -> bool:
        return app_id in await _task_ids(service, kasi)

    await eventually(listed)
    response = await service.http.get("/api/v1/tasks", headers=kasi)
    [task] = [t for t in response.json() if t["application_id"] == app_id]
    assert task["letter_type"] == "SKD"
    assert task["step"] == {"index": 0, "role": "kasi_pemerintahan"}
    assert datetime.fromisoformat(task["assigned_at"]).tzinfo is not None

    for other in ("kades.rancasari", "kesra.pamanukan"):
        assert await _task_ids(service, await service.login(other)) == []
    assert app_id not in await _task_ids(service, await service.login("pemerintahan.rancasari"))
    assert app_id not in await _task_ids(service, await service.login("sekdes.pamanukan"))


async def test_decided_closes_the_task(service: Service, js: JetStreamContext) -> None:
    app_id = str(uuid.uuid4())
    kasi = await service.login("pemerintahan.pamanukan")
    await _publish(
        js,
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_index=0, step_role="kasi_pemerintahan"
        ),
    )

    async def listed() -> bool:
        return app_id in await _task_ids(service, kasi)

    await eventually(listed)

    await _publish(
        js,
        application_event(
            APPLICATION_DECIDED,
            app_id,
            step_index=0,
            step_role="kasi_pemerintahan",
            decision="approve",
        ),
    )

    async def gone() -> bool:
        return app_id not in await _task_ids(service, kasi)

    await eventually(gone)
    async with service.runtime.sessions() as session:
        [task] = (await session.exec(select(Task).where(Task.application_id == app_id))).all()
    assert task.status == "done"
    assert task.closed_at is not None
    # A decision naming no step, on a letter the Kasi held that waits on nobody now: a
    # conflict with its state (409), while for another desa it stays unknown (404).
    answers = {}
    for username in ("pemerintahan.pamanukan", "pemerintahan.rancasari"):
        response = await service.http.post(
            f"/api/v1/tasks/{app_id}/decision",
            json={"decision": "approve"},
            headers=await service.login(username),
        )
        assert response.json()["type"].endswith("/no-open-step")
        answers[username] = (response.status_code, response.json()["detail"])
    assert answers["pemerintahan.pamanukan"][0] == 409
    assert "Tahap ini sudah diputuskan." in answers["pemerintahan.pamanukan"][1]
    assert answers["pemerintahan.rancasari"] == (
        404,
        "Tidak ada tahap yang menunggu keputusan untuk permohonan ini.",
    )


async def test_a_redelivered_event_changes_nothing(service: Service, js: JetStreamContext) -> None:
    app_id = str(uuid.uuid4())
    kasi = await service.login("pemerintahan.pamanukan")
    assigned = application_event(
        APPLICATION_STEP_ASSIGNED, app_id, step_index=0, step_role="kasi_pemerintahan"
    )
    await _publish(js, assigned)
    await _publish(
        js,
        application_event(
            APPLICATION_DECIDED, app_id, step_role="kasi_pemerintahan", decision="approve"
        ),
    )

    # The same CloudEvent again, as a producer re-publishing after the stream's duplicate
    # window would send it: a new Nats-Msg-Id, so JetStream stores and delivers it.
    headers = {**assigned.headers(), "Nats-Msg-Id": str(uuid.uuid4())}
    ack = await js.publish(
        public_subject(PAMANUKAN, assigned.name), assigned.body(), headers=headers
    )
    assert not ack.duplicate

    # The consumer applies applications side by side (lanes), so another application's task
    # showing says nothing of this one: wait until every event was applied and acked.
    async def consumed() -> bool:
        durable = service.runtime.task_consumer.durable
        info = await js.consumer_info(PUBLIC_STREAM, durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(consumed, what="every event applied and acked")
    assert app_id not in await _task_ids(service, kasi)
    async with service.runtime.sessions() as session:
        tasks = (await session.exec(select(Task).where(Task.application_id == app_id))).all()
        processed = (
            await session.exec(
                select(ProcessedEvent).where(ProcessedEvent.application_id == app_id)
            )
        ).all()
    assert [(t.step_index, t.status) for t in tasks] == [(0, "done")]
    assert len(processed) == 2


# -- the projection itself, on a real database ------------------------------------------------


@pytest.fixture
async def sessions(data_dir: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'inbox.db'}")
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _tasks(sessions: async_sessionmaker[AsyncSession], app_id: str) -> list[Task]:
    async with sessions() as session:
        rows = await session.exec(
            select(Task).where(Task.application_id == app_id).order_by(col(Task.step_index))
        )
        return list(rows.all())


async def test_each_new_step_closes_the_previous_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_index=0, step_role="kasi_pemerintahan", time=t0
        )
    )
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED,
            app_id,
            step_index=1,
            step_role="sekdes",
            time=t0 + timedelta(hours=1),
        )
    )

    assert [(t.step_index, t.role, t.status) for t in await _tasks(sessions, app_id)] == [
        (0, "kasi_pemerintahan", "done"),
        (1, "sekdes", "open"),
    ]


async def test_an_older_event_does_not_undo_newer_state(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED,
            app_id,
            step_index=1,
            step_role="sekdes",
            time=t0 + timedelta(hours=2),
        )
    )
    # Step 0's decision arrives late (e.g. after a redelivery): it must not close step 1.
    await projection.handle(
        application_event(
            APPLICATION_DECIDED,
            app_id,
            step_index=0,
            step_role="kasi_pemerintahan",
            decision="approve",
            time=t0 + timedelta(hours=1),
        )
    )

    assert [(t.step_index, t.status) for t in await _tasks(sessions, app_id)] == [(1, "open")]


async def test_revision_keeps_the_row_and_the_same_step_reopens_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_index=1, step_role="sekdes", time=t0
        )
    )
    await projection.handle(
        application_event(
            APPLICATION_REVISION_REQUESTED,
            app_id,
            step_role="sekdes",
            decision="revise",
            time=t0 + timedelta(hours=1),
        )
    )

    assert [(t.step_index, t.status) for t in await _tasks(sessions, app_id)] == [
        (1, "revision_requested")
    ]
    async with sessions() as session:
        assert app_id not in [
            t.application_id for t in await open_tasks_for(session, PAMANUKAN, ["sekdes"])
        ]

    reopened_at = t0 + timedelta(days=1)
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_index=1, step_role="sekdes", time=reopened_at
        )
    )
    [task] = await _tasks(sessions, app_id)
    assert (task.status, task.closed_at) == ("open", None)
    assert task.assigned_at.replace(tzinfo=UTC) == reopened_at


async def test_letter_issued_closes_and_irrelevant_events_are_ignored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    await projection.handle(application_event(APPLICATION_SUBMITTED, app_id, time=t0))
    assert await _tasks(sessions, app_id) == []

    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED,
            app_id,
            step_index=2,
            step_role="kades",
            time=t0 + timedelta(hours=1),
        )
    )
    await projection.handle(application_event(LETTER_ISSUED, app_id, time=t0 + timedelta(hours=2)))
    assert [(t.step_index, t.status) for t in await _tasks(sessions, app_id)] == [(2, "done")]


async def test_open_tasks_are_listed_oldest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    newer, older = str(uuid.uuid4()), str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    for app_id, at in ((newer, t0 + timedelta(hours=3)), (older, t0)):
        await projection.handle(
            application_event(
                APPLICATION_STEP_ASSIGNED,
                app_id,
                step_index=0,
                step_role="kasi_pemerintahan",
                desa_code=RANCASARI,
                time=at,
            )
        )

    async with sessions() as session:
        listed = await open_tasks_for(session, RANCASARI, ["kasi_pemerintahan"])
    assert [t.application_id for t in listed] == [older, newer]


@pytest.mark.parametrize(
    "data",
    [
        {"application_id": 5, "desa_code": PAMANUKAN},  # wrong JSON type
        {"desa_code": PAMANUKAN, "step_role": "sekdes", "letter_type": "SKD"},  # no application
        {"application_id": "a-1", "desa_code": PAMANUKAN, "letter_type": "SKD"},  # no role
    ],
)
async def test_malformed_data_is_a_permanent_error(
    sessions: async_sessionmaker[AsyncSession], data: dict[str, object]
) -> None:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(APPLICATION_STEP_ASSIGNED),
        data=data,
    )
    with pytest.raises(PermanentEventError):
        await TaskProjection(sessions).handle(event)
    async with sessions() as session:
        assert (await session.exec(select(Task))).all() == []


async def test_the_task_consumer_uses_the_configured_delivery_limits(
    settings: Settings, js: JetStreamContext
) -> None:
    # The same settings as notification's consumers (SMARTDESA_NATS_MAX_DELIVER and
    # SMARTDESA_NATS_RETRY_DELAYS), declared on the server at start.
    app = create_app(
        settings.model_copy(update={"nats_max_deliver": 3, "nats_retry_delays": [0.5]})
    )
    async with app.router.lifespan_context(app):
        consumer = app.state.runtime.task_consumer
        declared = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
        assert declared.config.max_deliver == 3
        assert consumer.retry_delays == [0.5]


async def test_a_letter_signing_refuses_is_a_task_for_the_signer_role_with_the_reason(
    service: Service, js: JetStreamContext
) -> None:
    app_id = str(uuid.uuid4())
    reason = "Sertifikat penandatangan Kepala Desa belum dipasang."
    stored = service.intake.add(app_id, PAMANUKAN)
    stored.status, stored.status_reason = "signing_blocked", reason
    kades = await service.login("kades.pamanukan")
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    for offset, event in enumerate(
        (
            application_event(APPLICATION_STEP_ASSIGNED, app_id, step_index=2, step_role="kades"),
            application_event(APPLICATION_DECIDED, app_id, step_index=2, step_role="kades"),
            application_event(
                APPLICATION_SIGNING_BLOCKED,
                app_id,
                step_index=3,
                step_role="kades",
                status="signing_blocked",
            ),
        )
    ):
        event = replace(event, time=t0 + timedelta(minutes=offset))
        await _publish(js, event)

    async def blocked_listed() -> bool:
        response = await service.http.get("/api/v1/tasks", headers=kades)
        return any(
            t["application_id"] == app_id and t["kind"] == "signing_blocked"
            for t in response.json()
        )

    await eventually(blocked_listed)
    [task] = [
        t
        for t in (await service.http.get("/api/v1/tasks", headers=kades)).json()
        if t["application_id"] == app_id
    ]
    assert (task["step"], task["acting_as"]) == ({"index": 3, "role": "kades"}, "kades")
    detail = (await service.http.get(f"/api/v1/tasks/{app_id}", headers=kades)).json()
    assert (detail["task"]["kind"], detail["task"]["reason"]) == ("signing_blocked", reason)
    # Nobody else in the desa holds it; the kabupaten sees it among the stuck letters.
    assert app_id not in await _task_ids(service, await service.login("pemerintahan.pamanukan"))
    diskominfo = await service.login("diskominfo.subang")
    stuck = (await service.http.get("/api/v1/kabupaten/overdue-tasks", headers=diskominfo)).json()
    assert [(t["kind"], t["step_role"]) for t in stuck if t["application_id"] == app_id] == [
        ("signing_blocked", "kades")
    ]
    # No decision can be taken on it; a retry is only for a task that is blocked.
    await _publish(
        js,
        replace(
            application_event(LETTER_ISSUED, app_id, step_index=0, status="issued"),
            time=t0 + timedelta(minutes=5),
        ),
    )

    async def closed() -> bool:
        return app_id not in await _task_ids(service, kades)

    await eventually(closed)
    response = await service.http.post(f"/api/v1/tasks/{app_id}/retry-issue", headers=kades)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/not-blocked")


# -- many applications at once, through NATS, on SQLite and PostgreSQL -------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_sessions(
    request: pytest.FixtureRequest, data_dir: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await engine_url(request, data_dir, "inbox"))
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _rollup_rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    async with sessions() as session:
        rows = (await session.exec(select(StepRollup))).all()
    return sorted(
        (r.kabupaten_code, r.day, r.kecamatan_code, r.role_group, r.decided,
         sorted(r.working_seconds), sorted(r.elapsed_seconds))
        for r in rows
    )  # fmt: skip


async def test_lanes_apply_applications_side_by_side_each_in_order_once(
    any_sessions: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """The task consumer's lanes (common/messaging.py): events of different applications are
    applied at once, each application's in stream order, a redelivered one not again; the step
    rollup, which every application's decisions of the day share, loses no update."""
    sessions = any_sessions
    # A desa of the test's own, in its subjects and its events: every other test's service
    # consumes every desa's events from the session's stream, and must not see ours as its own.
    n = uuid.uuid4().int
    subject_desa = f"9{n % 9}.{n // 10 % 90 + 10}.{n // 1000 % 90 + 10}.{n // 100000 % 9000 + 1000}"
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    roles = ("kasi_pemerintahan", "sekdes", "kades")
    journeys: dict[str, list[CloudEvent]] = {}
    for a in range(8):
        app_id, at = str(uuid.uuid4()), t0 + timedelta(minutes=a)
        events = []
        for step, role in enumerate(roles):
            at += timedelta(minutes=7 + a)
            events.append(
                application_event(
                    APPLICATION_STEP_ASSIGNED,
                    app_id,
                    desa_code=subject_desa,
                    step_index=step,
                    step_role=role,
                    time=at,
                )
            )
            if a % 4 == 3 and step == 2:
                break  # these wait on the Kades
            at += timedelta(minutes=3 * a + step)
            events.append(
                application_event(
                    APPLICATION_DECIDED,
                    app_id,
                    desa_code=subject_desa,
                    step_index=step,
                    step_role=role,
                    decision="approve",
                    time=at,
                )
            )
        journeys[app_id] = events
    # Round robin over the applications, as their events meet in the stream; then the first
    # event of each again, as a producer re-publishing after the duplicate window would.
    longest = max(len(e) for e in journeys.values())
    for i in range(longest):
        for events in journeys.values():
            if i < len(events):
                await _publish(js, events[i], subject_desa)
    for events in journeys.values():
        first = events[0]
        headers = {**first.headers(), "Nats-Msg-Id": str(uuid.uuid4())}
        await js.publish(public_subject(subject_desa, first.name), first.body(), headers=headers)

    consumer = Consumer(
        js,
        stream=PUBLIC_STREAM,
        durable=f"t-{uuid.uuid4().hex[:8]}",
        filter_subjects=[public_filter(desa=subject_desa)],
        handler=TaskProjection(sessions).handle,
        lanes=4,
        lane_key=application_lane,
    )
    await consumer.start()
    try:

        async def all_acked() -> bool:
            info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0)

        await eventually(all_acked, what="every event applied and acked")
        info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
        assert info.num_redelivered == 0  # nothing failed (e.g. a lock) and was tried again
    finally:
        await consumer.stop()
        await js.delete_consumer(PUBLIC_STREAM, consumer.durable)

    async with sessions() as session:
        processed = (await session.exec(select(ProcessedEvent))).all()
    # Each event once (the redelivered ones were seen), each application's in stream order.
    applied: dict[str, list[ProcessedEvent]] = {}
    for row in sorted(processed, key=lambda p: p.processed_at):
        applied.setdefault(row.application_id, []).append(row)
    assert {a: [p.event_id for p in rows] for a, rows in applied.items()} == {
        a: [e.id for e in events] for a, events in journeys.items()
    }
    for a, app_id in enumerate(journeys):
        expected = [(0, "done"), (1, "done"), (2, "open" if a % 4 == 3 else "done")]
        assert [(t.step_index, t.status) for t in await _tasks(sessions, app_id)] == expected
    # The rollup the projection kept, side by side, is the one made from the tasks at rest.
    kept = await _rollup_rows(sessions)
    assert sum(int(str(row[4])) for row in kept) == 8 * 3 - 2
    async with sessions() as session:
        connection = await session.connection()
        await connection.run_sync(rebuild)
        await session.commit()
    assert await _rollup_rows(sessions) == kept


# -- SQLite's one writer: what the lanes have ready, in one transaction -------------------------


def _count_commits(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    commits = [0]
    engine = sessions.kw["bind"]

    @sa_event.listens_for(engine.sync_engine, "commit")
    def _committed(*_: object) -> None:
        commits[0] += 1

    return commits


def _assigned(app_id: str, at: datetime) -> CloudEvent:
    return application_event(
        APPLICATION_STEP_ASSIGNED, app_id, step_index=0, step_role="kasi_pemerintahan", time=at
    )


async def test_events_ready_while_another_is_applied_share_one_commit_on_sqlite(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The first event has the writer to itself; the three that came meanwhile (other lanes,
    other applications) are applied together, in one transaction. (`apply`, the step after
    `handle`'s read of whether the event was applied: that read's own timing would decide
    which events arrive together.)"""
    changes: list[tuple[str, frozenset[str]]] = []

    async def on_change(desa_code: str, roles: frozenset[str]) -> None:
        changes.append((desa_code, roles))

    projection = TaskProjection(sessions, on_change=on_change)
    commits = _count_commits(sessions)
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    app_ids = [str(uuid.uuid4()) for _ in range(4)]

    await asyncio.gather(*(projection.apply(_assigned(a, t0)) for a in app_ids))

    assert commits == [2]
    for app_id in app_ids:
        assert [(t.step_index, t.status) for t in await _tasks(sessions, app_id)] == [(0, "open")]
    # Each one's inbox pages are told, after the commit.
    assert changes == [(PAMANUKAN, frozenset({"kasi_pemerintahan"}))] * 4


async def test_an_event_failing_in_a_batch_fails_alone_and_the_others_are_applied(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    first, refused, *others = [str(uuid.uuid4()) for _ in range(4)]
    # The database refuses one application's events (a real failure, not a stand-in).
    async with sessions() as session:
        connection = await session.connection()
        await connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON verification_processed_event "
            f"WHEN NEW.application_id = '{refused}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        await session.commit()
    events = {a: _assigned(a, t0) for a in (first, refused, *others)}

    outcomes = await asyncio.gather(
        *(projection.handle(e) for e in events.values()), return_exceptions=True
    )

    assert [o is None for o in outcomes] == [True, False, True, True]
    assert isinstance(outcomes[1], DBAPIError)  # the consumer naks it: redelivered later
    for app_id in (first, *others):
        assert [(t.step_index, t.status) for t in await _tasks(sessions, app_id)] == [(0, "open")]
    assert await _tasks(sessions, refused) == []
    async with sessions() as session:
        processed = (await session.exec(select(ProcessedEvent.application_id))).all()
    assert sorted(processed) == sorted([first, *others])

    # Its redelivery, once the database takes it, is applied.
    async with sessions() as session:
        connection = await session.connection()
        await connection.exec_driver_sql("DROP TRIGGER refuse")
        await session.commit()
    await projection.handle(events[refused])
    assert [(t.step_index, t.status) for t in await _tasks(sessions, refused)] == [(0, "open")]


async def test_a_batch_applies_a_redelivered_event_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    first, again = _assigned(str(uuid.uuid4()), t0), _assigned(str(uuid.uuid4()), t0)
    await projection.handle(again)
    decided = application_event(
        APPLICATION_DECIDED,
        again.data["application_id"],
        step_role="kasi_pemerintahan",
        decision="approve",
        time=t0 + timedelta(hours=1),
    )
    await projection.handle(decided)

    # The first event takes the writer; the redelivered one and a new one wait, and go together.
    other = _assigned(str(uuid.uuid4()), t0)
    await asyncio.gather(
        projection.handle(first), projection.handle(again), projection.handle(other)
    )

    assert [t.status for t in await _tasks(sessions, again.data["application_id"])] == ["done"]
    for event_ in (first, other):
        assert [t.status for t in await _tasks(sessions, event_.data["application_id"])] == ["open"]


async def test_the_application_record_follows_the_newest_event(
    any_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The kabupaten view's record, kept by one upsert per event on both engines: submitted at
    the earliest event, the state of the newest (an older one arriving late changes nothing),
    closed when final, reopened by nothing older."""
    projection = TaskProjection(any_sessions)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)

    async def record() -> tuple[object, ...]:
        async with any_sessions() as session:
            row = await session.get(ApplicationRecord, app_id)
        assert row is not None
        return (
            row.status,
            as_utc(row.submitted_at),
            as_utc(row.status_at),
            row.closed_at and as_utc(row.closed_at),
            row.letter_type,
            row.kecamatan_code,
            row.kabupaten_code,
        )

    step = _assigned(app_id, t0 + timedelta(seconds=1))
    await projection.handle(step)
    assert await record() == ("in_review", step.time, step.time, None, "SKD", "32.13.11", "32.13")
    await projection.handle(application_event(APPLICATION_SUBMITTED, app_id, time=t0))
    # Earlier: it moves the submission back, not the state.
    assert await record() == ("in_review", t0, step.time, None, "SKD", "32.13.11", "32.13")
    issued_at = t0 + timedelta(hours=5)
    await projection.handle(
        application_event(LETTER_ISSUED, app_id, status="issued", time=issued_at)
    )
    assert await record() == ("issued", t0, issued_at, issued_at, "SKD", "32.13.11", "32.13")
    late = application_event(
        APPLICATION_REVISION_REQUESTED,
        app_id,
        step_role="kasi_pemerintahan",
        time=t0 + timedelta(hours=1),
    )
    await projection.handle(late)
    assert await record() == ("issued", t0, issued_at, issued_at, "SKD", "32.13.11", "32.13")
