"""The kabupaten view's numbers from constructed tasks and application records: working hours
across a weekend and per desa calendar, medians and 90th percentiles per role, counts by state
per desa and kecamatan within a period, the Temporal UI links, and the application records the
projection keeps from the public events."""

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_REJECTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
)
from common.wib import WIB
from services.verification.api.routes.kabupaten import filters_of
from services.verification.calendars import (
    DesaCalendar,
    WorkingClock,
    calendar_of,
    step_working_seconds,
)
from services.verification.kabupaten_view import (
    DecidedStep,
    Filters,
    Period,
    PeriodError,
    StepTimes,
    TemporalUi,
    count_states,
    kabupaten_summary,
    percentile,
    raw_step_times,
    rollup_step_times,
    step_times,
)
from services.verification.models import (
    TABLES,
    ApplicationRecord,
    DesaSettings,
    StepRollup,
    Task,
)
from services.verification.routes import DEFAULT_RULES, DesaRules
from services.verification.step_rollup import rebuild
from services.verification.task_inbox import TaskProjection, overdue_in_kabupaten
from services.verification.web.routes.kabupaten import hours_text
from tests.support.postgres import engine_url
from tests.verification.events import PAMANUKAN, RANCASARI, application_event
from workflows.approval.models import WorkingCalendar, WorkingDay
from workflows.approval.working_time import add_working_hours, working_hours_between

CIASEM_GIRANG = "32.13.09.2001"
UI = TemporalUi("http://127.0.0.1:8233", "default")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
OFFICE = WorkingCalendar()  # Monday to Friday, 08:00-16:00 WIB


def wib(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=WIB)


# -- working hours -----------------------------------------------------------------------------


def test_working_hours_skip_the_weekend_and_the_night() -> None:
    # Friday 6 November 15:00 to Monday 9 November 10:00: one hour on Friday, two on Monday.
    assert working_hours_between(wib(6, 15), wib(9, 10), OFFICE, frozenset()) == 3.0
    # Within one day, and before opening / after closing counts nothing.
    assert working_hours_between(wib(2, 9), wib(2, 12), OFFICE, frozenset()) == 3.0
    assert working_hours_between(wib(2, 6), wib(2, 7), OFFICE, frozenset()) == 0.0
    assert working_hours_between(wib(2, 17), wib(3, 8), OFFICE, frozenset()) == 0.0
    # A day off does not count; nor does an end before the start.
    day_off = frozenset({date(2026, 11, 9)})
    assert working_hours_between(wib(6, 15), wib(10, 10), OFFICE, day_off) == 3.0
    assert working_hours_between(wib(9, 10), wib(6, 15), OFFICE, frozenset()) == 0.0
    # A desa that works on Saturday counts it.
    saturdays = WorkingCalendar(workdays=[1, 2, 3, 4, 5, 6])
    assert working_hours_between(wib(6, 15), wib(9, 9), saturdays, frozenset()) == 10.0


def test_percentile_is_linear_between_the_nearest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([4.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile([1.0, 2.0, 3.0, 10.0], 0.5) == 2.5
    assert percentile([1.0, 3.0, 4.0], 0.9) == pytest.approx(3.8)


def _task(
    role: str,
    assigned: datetime,
    closed: datetime | None,
    *,
    desa: str = PAMANUKAN,
    status: str = "done",
    kind: str = "decision",
    deadline: datetime | None = None,
    escalation_level: int = 0,
    application_id: str | None = None,
    rules: DesaRules = DEFAULT_RULES,
) -> Task:
    """A task as the projection leaves it: a decided step keeps its working seconds in its
    desa's calendar (`rules`) as set at the decision."""
    decided = closed is not None and status in ("done", "revision_requested")
    return Task(
        application_id=application_id or str(uuid.uuid4()),
        step_index=0,
        role=role,
        desa_code=desa,
        letter_type="SKD",
        status=status,
        assigned_at=assigned.astimezone(UTC),
        closed_at=closed.astimezone(UTC) if closed else None,
        deadline=deadline.astimezone(UTC) if deadline else None,
        escalation_level=escalation_level,
        kecamatan_code=".".join(desa.split(".")[:3]),
        kabupaten_code=desa[:5],
        kind=kind,
        working_seconds=step_working_seconds(rules, assigned, closed)
        if decided and closed is not None
        else None,
    )


def _step(role: str, working_hours: float, assigned: datetime, closed: datetime) -> DecidedStep:
    return DecidedStep(role, working_hours * 3600, assigned.astimezone(UTC), closed)


def test_step_times_per_role_in_working_and_calendar_hours() -> None:
    # SQLite's way; PostgreSQL's percentile_cont gives the same (the summary tests run on both).
    steps = [
        _step("kasi_pemerintahan", 1, wib(2, 9), wib(2, 10)),
        _step("kasi_kesra", 3, wib(2, 9), wib(2, 12)),
        _step("kasi_pemerintahan", 4, wib(6, 15), wib(9, 11)),  # over the weekend: 68 hours
        _step("sekdes", 10, wib(6, 15), wib(9, 9)),  # a desa that works Saturday: 66 hours
        _step("kades", 4, wib(3, 8), wib(3, 12)),
        _step("kades", 8, wib(3, 8), wib(4, 8)),  # 24 hours
    ]
    by_role = {s.role: s for s in step_times(steps)}
    assert list(by_role) == ["kasi", "sekdes", "kades"]  # route order; Kasi roles together
    kasi = by_role["kasi"]
    assert (kasi.name, kasi.decided) == ("Kasi", 3)
    assert kasi.median_working_hours == 3.0
    assert kasi.p90_working_hours == pytest.approx(3.8)
    assert kasi.median_hours == 3.0
    assert kasi.p90_hours == pytest.approx(55.0)
    sekdes = by_role["sekdes"]
    assert (sekdes.median_working_hours, sekdes.median_hours) == (10.0, 66.0)
    kades = by_role["kades"]
    assert (kades.median_working_hours, kades.median_hours) == (6.0, 14.0)
    assert kades.p90_working_hours == pytest.approx(7.6)


def test_each_letter_counts_once_by_its_state() -> None:
    def record(status: str, app_id: str = "") -> ApplicationRecord:
        at = wib(2, 9)
        return ApplicationRecord(
            application_id=app_id or str(uuid.uuid4()),
            desa_code=PAMANUKAN,
            status=status,
            submitted_at=at,
            status_at=at,
        )

    statuses = ["in_review", "revision_requested", "signing_blocked", "issued", "issued"]
    statuses += ["rejected", "cancelled", "expired"]
    counts = count_states(
        [record(s) for s in statuses] + [record("in_review", "late")], overdue_ids={"late"}
    )
    assert counts.as_dict() == {
        "masuk": 9,
        "diproses": 3,
        "terlambat": 1,
        "terbit": 2,
        "ditolak": 1,
        "dibatalkan": 1,
        "kedaluwarsa": 1,
    }


def test_temporal_ui_links_carry_the_visibility_query() -> None:
    def query(url: str) -> str:
        parts = urlsplit(url)
        assert parts.path == "/namespaces/default/workflows"
        return parse_qs(parts.query)["query"][0]

    assert query(UI.desa(PAMANUKAN)) == 'DesaCode = "32.13.11.2004"'
    assert query(UI.kecamatan("32.13.11")) == 'KecamatanCode = "32.13.11"'
    assert query(UI.workflow("abc")) == 'WorkflowId = "surat-abc"'
    assert query(UI.overdue(desa_code=PAMANUKAN)) == 'Overdue = true AND DesaCode = "32.13.11.2004"'
    assert UI.desa(PAMANUKAN) == (
        "http://127.0.0.1:8233/namespaces/default/workflows"
        "?query=DesaCode%20%3D%20%2232.13.11.2004%22"
    )


# -- over the database -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(
    request: pytest.FixtureRequest, data_dir: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """On SQLite (dev) the step times are taken in Python, on PostgreSQL by the database: the
    same figures either way."""
    engine = create_engine(await engine_url(request, data_dir, "kabupaten"))
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def _record(status: str, desa: str, submitted: datetime, app_id: str = "") -> ApplicationRecord:
    return ApplicationRecord(
        application_id=app_id or str(uuid.uuid4()),
        desa_code=desa,
        kecamatan_code=".".join(desa.split(".")[:3]),
        kabupaten_code=desa[:5],
        letter_type="SKD",
        status=status,
        submitted_at=submitted.astimezone(UTC),
        status_at=submitted.astimezone(UTC),
    )


async def test_the_summary_counts_per_desa_and_kecamatan_in_the_period(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    late = str(uuid.uuid4())
    async with sessions() as session:
        for status in ("issued", "rejected", "in_review", "revision_requested"):
            session.add(_record(status, PAMANUKAN, wib(2, 9)))
        session.add(_record("cancelled", PAMANUKAN, wib(30, 23)))  # the period's last hour
        session.add(_record("expired", RANCASARI, wib(1, 0)))  # its first instant
        session.add(_record("in_review", PAMANUKAN, wib(3, 9), late))
        session.add(_record("issued", CIASEM_GIRANG, wib(4, 9)))
        session.add(_record("issued", PAMANUKAN, wib(31, 23, month=10)))  # before the period
        session.add(_record("issued", PAMANUKAN, wib(1, 0, month=12)))  # after it
        session.add(_record("issued", "32.14.01.2001", wib(2, 9)))  # another kabupaten
        # The late letter waits on the Sekdes past the deadline.
        session.add(
            _task("sekdes", wib(3, 9), None, status="open", deadline=wib(4, 9), application_id=late)
        )
        # Decided steps: in the period (Pamanukan and Ciasem), before it, and not decisions.
        session.add(_task("kasi_pemerintahan", wib(6, 15), wib(9, 10)))  # 3 working hours
        session.add(_task("kasi_pemerintahan", wib(2, 9), wib(2, 13), status="revision_requested"))
        session.add(_task("kasi_pemerintahan", wib(2, 9), wib(2, 15), desa=CIASEM_GIRANG))
        session.add(_task("kasi_pemerintahan", wib(2, 9), wib(2, 16), status="cancelled"))
        session.add(_task("kades", wib(30, 9, month=10), wib(30, 10, month=10)))
        session.add(_task("kades", wib(2, 9), wib(2, 10), kind="signing_blocked"))
        await session.commit()
    await _rebuild(sessions)  # tasks written here, not by the projection: the migration's way

    async with sessions() as session:
        summary = await kabupaten_summary(session, "32.13", Filters(NOVEMBER), UI)

    assert summary.total.as_dict() == {
        "masuk": 8,
        "diproses": 2,
        "terlambat": 1,
        "terbit": 2,
        "ditolak": 1,
        "dibatalkan": 1,
        "kedaluwarsa": 1,
    }
    desa = {row.code: row for row in summary.desa}
    assert list(desa) == [CIASEM_GIRANG, RANCASARI, PAMANUKAN]
    pamanukan = desa[PAMANUKAN]
    assert (pamanukan.name, pamanukan.kecamatan) == ("Pamanukan", "Pamanukan")
    assert pamanukan.counts.as_dict() == {
        "masuk": 6,
        "diproses": 2,
        "terlambat": 1,
        "terbit": 1,
        "ditolak": 1,
        "dibatalkan": 1,
        "kedaluwarsa": 0,
    }
    assert pamanukan.temporal_url == UI.desa(PAMANUKAN)
    kecamatan = {row.code: row for row in summary.kecamatan}
    assert len(kecamatan) == 30  # every kecamatan of the kabupaten, with or without letters
    assert kecamatan["32.13.11"].counts.masuk == 7
    assert kecamatan["32.13.09"].counts.as_dict()["terbit"] == 1
    assert kecamatan["32.13.10"].counts.masuk == 0
    assert kecamatan["32.13.11"].temporal_url == UI.kecamatan("32.13.11")

    [kasi] = summary.steps
    assert (kasi.role, kasi.decided) == ("kasi", 3)
    assert kasi.median_working_hours == 4.0
    assert kasi.p90_working_hours == pytest.approx(5.6)
    [overdue] = summary.overdue
    assert (overdue.task.application_id, overdue.desa) == (late, "Pamanukan")
    assert overdue.temporal_url == UI.workflow(late)

    # One kecamatan: its desa all listed, the others' letters and steps left out.
    async with sessions() as session:
        ciasem = await kabupaten_summary(session, "32.13", Filters(NOVEMBER, "32.13.09"), UI)
    assert [row.code for row in ciasem.kecamatan] == ["32.13.09"]
    assert len(ciasem.desa) == 9
    assert {r.code: r.counts.masuk for r in ciasem.desa if r.counts.masuk} == {CIASEM_GIRANG: 1}
    assert [(s.role, s.median_working_hours) for s in ciasem.steps] == [("kasi", 6.0)]
    assert ciasem.overdue == []
    assert parse_qs(urlsplit(ciasem.overdue_url).query)["query"] == [
        'Overdue = true AND KecamatanCode = "32.13.09"'
    ]


async def test_the_summary_shows_the_most_urgent_overdue_and_counts_them_all(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """At kabupaten scale thousands are overdue: the summary lists the most urgent (in the
    inbox's order, cut by the database) and says how many there are in all."""
    now = datetime.now(UTC)
    async with sessions() as session:
        # Past deadlines, oldest first: 5, 4, 3 days ago; one escalated without a deadline;
        # a signing-blocked letter (not overdue by its deadline, so last); one in another
        # kecamatan; one open and not yet due (not on the list).
        for days in (3, 5, 4):
            session.add(
                _task(
                    "sekdes",
                    now - timedelta(days=9),
                    None,
                    status="open",
                    deadline=now - timedelta(days=days),
                )
            )
        session.add(
            _task("kades", now - timedelta(days=2), None, status="open", escalation_level=1)
        )
        session.add(
            _task("kades", now - timedelta(days=8), None, status="open", kind="signing_blocked")
        )
        session.add(
            _task(
                "sekdes",
                now - timedelta(days=9),
                None,
                status="open",
                deadline=now - timedelta(days=1),
                desa=CIASEM_GIRANG,
            )
        )
        session.add(
            _task(
                "sekdes",
                now - timedelta(days=1),
                None,
                status="open",
                deadline=now + timedelta(days=1),
            )
        )
        await session.commit()

    async with sessions() as session:
        everything = await overdue_in_kabupaten(session, "32.13")
        shown = await kabupaten_summary(session, "32.13", Filters(NOVEMBER), UI, overdue_shown=3)
        whole = await kabupaten_summary(session, "32.13", Filters(NOVEMBER), UI)
        pamanukan = await kabupaten_summary(
            session, "32.13", Filters(NOVEMBER, "32.13.11"), UI, overdue_shown=10
        )

    assert len(everything) == 6
    ids = [t.application_id for t in everything]
    assert [o.task.application_id for o in shown.overdue] == ids[:3]
    assert shown.overdue_total == 6
    assert [o.task.application_id for o in whole.overdue] == ids
    assert whole.overdue_total == 6
    assert everything[0].deadline is not None and everything[-1].kind == "signing_blocked"
    assert (len(pamanukan.overdue), pamanukan.overdue_total) == (5, 5)


async def _rebuild(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The rollup made again from the tasks, as migration 0020 makes it."""
    async with sessions() as session:
        connection = await session.connection()
        await connection.run_sync(rebuild)
        await session.commit()


async def _rollup_rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    async with sessions() as session:
        rows = (await session.exec(select(StepRollup))).all()
    return sorted(
        (r.kabupaten_code, r.day, r.kecamatan_code, r.role_group, r.decided,
         r.working_seconds, r.elapsed_seconds)
        for r in rows
    )  # fmt: skip


def _figures(times: list[StepTimes]) -> list[tuple[object, ...]]:
    """What the page shows of the step times, to well under a second (hours, 1e-9 relative)."""
    return [
        (
            t.role,
            t.decided,
            *(
                pytest.approx(v, rel=1e-9, abs=1e-9) if v is not None else None
                for v in (t.median_working_hours, t.p90_working_hours, t.median_hours, t.p90_hours)
            ),
        )
        for t in times
    ]


def _saturdays(desa: str) -> DesaSettings:
    return DesaSettings(
        desa_code=desa,
        start_hour=8,
        end_hour=16,
        workdays_json=json.dumps([1, 2, 3, 4, 5, 6]),
        local_days_off_json="[]",
        max_revision_rounds=3,
        resubmit_days=14,
        updated_by="sekdes.rancasari",
    )


async def _decide(
    projection: TaskProjection,
    role: str,
    assigned: datetime,
    decided: datetime,
    *,
    desa: str = PAMANUKAN,
    application_id: str | None = None,
    step_index: int = 0,
    outcome: str = APPLICATION_DECIDED,
) -> str:
    """A step assigned and decided through the task projection, as the workflow's events say."""
    app_id = application_id or str(uuid.uuid4())
    for name, at in ((APPLICATION_STEP_ASSIGNED, assigned), (outcome, decided)):
        await projection.handle(
            application_event(
                name, app_id, desa_code=desa, step_index=step_index, step_role=role, time=at
            )
        )
    return app_id


async def _stored(
    sessions: async_sessionmaker[AsyncSession], app_id: str, step_index: int = 0
) -> Task:
    async with sessions() as session:
        return (
            await session.exec(
                select(Task).where(Task.application_id == app_id, Task.step_index == step_index)
            )
        ).one()


async def test_working_hours_follow_each_desas_own_calendar(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        session.add(_saturdays(RANCASARI))
        await session.commit()
    projection = TaskProjection(sessions)
    # The same Friday-to-Monday step in both desa; Rancasari works on Saturday.
    await _decide(projection, "sekdes", wib(6, 15), wib(9, 9), desa=RANCASARI)
    await _decide(projection, "sekdes", wib(6, 15), wib(9, 9), desa=PAMANUKAN)
    # Christmas and the cuti bersama before it are no working days.
    await _decide(projection, "kades", wib(23, 15, month=12), wib(28, 9, month=12))
    async with sessions() as session:
        rancasari = await kabupaten_summary(
            session, "32.13", Filters(NOVEMBER, desa_code=RANCASARI), UI
        )
        pamanukan = await kabupaten_summary(
            session, "32.13", Filters(NOVEMBER, desa_code=PAMANUKAN), UI
        )
        december = await kabupaten_summary(
            session, "32.13", Filters(Period(date(2026, 12, 1), date(2026, 12, 31))), UI
        )
    assert [s.median_working_hours for s in rancasari.steps] == [10.0]
    assert [s.median_working_hours for s in pamanukan.steps] == [2.0]
    # 23 December 15:00 to 28 December 09:00: one hour on the 23rd, one on the 28th.
    assert [s.median_working_hours for s in december.steps] == [2.0]
    assert [(s.median_hours, s.p90_hours) for s in december.steps] == [(114.0, 114.0)]


async def test_a_decided_step_keeps_the_working_time_of_the_calendar_at_its_decision(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The projection stores what the desa's calendar, as set at the decision, counts; a later
    change of the calendar changes the steps decided after it, never those before."""
    async with sessions() as session:
        session.add(_saturdays(RANCASARI))
        await session.commit()
    projection = TaskProjection(sessions)

    async def calendar_now() -> DesaCalendar:
        async with sessions() as session:
            return await calendar_of(session, RANCASARI, wib(1, 0))

    def counted(calendar: DesaCalendar, start: datetime, end: datetime) -> float:
        return working_hours_between(start, end, calendar.calendar, calendar.days_off) * 3600

    saturdays = await calendar_now()
    # Approved Friday 15:00 to Monday 09:00 (Saturday counts), and one returned for revision.
    before = await _decide(projection, "sekdes", wib(6, 15), wib(9, 9), desa=RANCASARI)
    returned = await _decide(
        projection,
        "kasi_pemerintahan",
        wib(10, 9),
        wib(10, 11, month=11) + timedelta(minutes=30, seconds=7),
        desa=RANCASARI,
        outcome=APPLICATION_REVISION_REQUESTED,
    )
    assert (await _stored(sessions, before)).working_seconds == 36000.0
    assert (await _stored(sessions, before)).working_seconds == pytest.approx(
        counted(saturdays, wib(6, 15), wib(9, 9))
    )
    assert (await _stored(sessions, returned)).working_seconds == pytest.approx(
        counted(saturdays, wib(10, 9), wib(10, 11) + timedelta(minutes=30, seconds=7))
    )

    # The desa stops working on Saturday.
    async with sessions() as session:
        row = await session.get(DesaSettings, RANCASARI)
        assert row is not None
        row.workdays_json = json.dumps([1, 2, 3, 4, 5])
        session.add(row)
        await session.commit()
    weekdays = await calendar_now()
    after = await _decide(projection, "sekdes", wib(13, 15), wib(16, 9), desa=RANCASARI)

    assert (await _stored(sessions, before)).working_seconds == 36000.0  # unchanged
    assert (await _stored(sessions, after)).working_seconds == pytest.approx(
        counted(weekdays, wib(13, 15), wib(16, 9))
    )
    assert counted(weekdays, wib(6, 15), wib(9, 9)) == 7200.0  # what "as set now" would say
    async with sessions() as session:
        summary = await kabupaten_summary(
            session, "32.13", Filters(NOVEMBER, desa_code=RANCASARI), UI
        )
    sekdes = next(s for s in summary.steps if s.role == "sekdes")
    assert (sekdes.decided, sekdes.median_working_hours) == (2, 6.0)  # (10 + 2) / 2

    # Back at the step after the revision: open again, no working time until decided again;
    # then the resident cancels and the step is no decided step.
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED,
            returned,
            desa_code=RANCASARI,
            step_role="kasi_pemerintahan",
            time=wib(17, 9),
        )
    )
    reopened = await _stored(sessions, returned)
    assert (reopened.status, reopened.working_seconds) == ("open", None)
    await projection.handle(
        application_event(APPLICATION_CANCELLED, returned, desa_code=RANCASARI, time=wib(17, 10))
    )
    cancelled = await _stored(sessions, returned)
    assert (cancelled.status, cancelled.working_seconds) == ("cancelled", None)


async def test_the_next_step_closes_the_one_before_with_its_working_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A step assigned while the one before is still open (its decision event not seen yet)
    closes it at the new assignment, with the working time up to then."""
    projection = TaskProjection(sessions)
    app_id = str(uuid.uuid4())
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_role="kasi_pemerintahan", time=wib(2, 9)
        )
    )
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED, app_id, step_index=1, step_role="sekdes", time=wib(3, 10)
        )
    )
    first, second = await _stored(sessions, app_id), await _stored(sessions, app_id, 1)
    assert (first.status, first.working_seconds) == ("done", 9 * 3600.0)  # 7 + 2 hours
    assert (second.status, second.working_seconds) == ("open", None)


async def test_the_rollup_gives_the_figures_of_the_tasks_themselves(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The step times the projection keeps per day, kecamatan and role group (step_rollup.py)
    are those of the tasks, to the microsecond: for the kabupaten, a kecamatan and a part of a
    month, after steps returned for revision and decided again, returned and then cancelled,
    closed by the next step's assignment, and decided either side of a WIB midnight. The
    rollup the projection kept is also the one migration 0020 makes from the tasks."""
    projection = TaskProjection(sessions)
    rng = random.Random(20)
    roles = ("kasi_pemerintahan", "kasi_kesra", "sekdes", "kades")
    for _ in range(40):
        assigned = wib(rng.randrange(1, 28), rng.randrange(7, 17)) + timedelta(
            seconds=rng.randrange(3600), microseconds=rng.randrange(10**6)
        )
        took = timedelta(seconds=rng.uniform(60, 80 * 3600))
        outcome = APPLICATION_REVISION_REQUESTED if rng.random() < 0.2 else APPLICATION_DECIDED
        await _decide(
            projection,
            rng.choice(roles),
            assigned,
            assigned + took,
            desa=rng.choice((PAMANUKAN, RANCASARI, CIASEM_GIRANG)),
            outcome=outcome,
        )

    # Returned for revision, back at the step, decided again: counts once, its last round.
    again = await _decide(
        projection, "sekdes", wib(3, 9), wib(3, 11), outcome=APPLICATION_REVISION_REQUESTED
    )
    await projection.handle(
        application_event(APPLICATION_STEP_ASSIGNED, again, step_role="sekdes", time=wib(12, 9))
    )
    await projection.handle(
        application_event(APPLICATION_DECIDED, again, step_role="sekdes", time=wib(12, 13))
    )
    # Returned for revision, then the resident cancels: no decided step any more.
    cancelled = await _decide(
        projection, "sekdes", wib(4, 9), wib(4, 10), outcome=APPLICATION_REVISION_REQUESTED
    )
    await projection.handle(application_event(APPLICATION_CANCELLED, cancelled, time=wib(20, 9)))
    # Closed when the next step is assigned (its decision event not seen).
    closed_by_next = str(uuid.uuid4())
    for step_index, role, at in ((0, "kades", wib(5, 9)), (1, "sekdes", wib(6, 10))):
        await projection.handle(
            application_event(
                APPLICATION_STEP_ASSIGNED,
                closed_by_next,
                step_index=step_index,
                step_role=role,
                time=at,
            )
        )
    # The last minutes of November and the first of December (WIB).
    await _decide(projection, "kades", wib(30, 15), wib(30, 23) + timedelta(minutes=59))
    await _decide(projection, "kades", wib(30, 15), wib(1, 0, month=12) + timedelta(minutes=1))

    assert (await _stored(sessions, again)).status == "done"
    assert (await _stored(sessions, cancelled)).status == "cancelled"
    periods = [NOVEMBER, Period(date(2026, 11, 10), date(2026, 11, 20)), Period(
        date(2026, 11, 1), date(2026, 12, 31)
    )]  # fmt: skip
    async with sessions() as session:
        for period in periods:
            for kecamatan in (None, "32.13.11", "32.13.09", "32.13.01"):
                from_rollup = await rollup_step_times(session, "32.13", period, kecamatan)
                from_tasks = await raw_step_times(session, "32.13", period, kecamatan)
                assert _figures(from_rollup) == _figures(from_tasks), (period, kecamatan)
        december = await rollup_step_times(
            session, "32.13", Period(date(2026, 12, 1), date(2026, 12, 31))
        )
        november = await rollup_step_times(session, "32.13", NOVEMBER)
        decided_in_november = (
            await session.exec(
                select(func.count())
                .select_from(Task)
                .where(
                    col(Task.status).in_(("done", "revision_requested")),
                    col(Task.closed_at) < datetime(2026, 12, 1, tzinfo=WIB),
                )
            )
        ).one()
    assert [(s.role, s.decided) for s in december] == [("kades", 1)]
    # Every step decided in November, each once: the one decided again, not the cancelled one.
    assert sum(s.decided for s in november) == decided_in_november == 40 + 1 + 1 + 1

    kept = await _rollup_rows(sessions)
    await _rebuild(sessions)
    assert await _rollup_rows(sessions) == kept


async def test_filters_it_cannot_show_are_refused_in_indonesian(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        for filters, field in (
            (Filters(Period(date(2026, 11, 30), date(2026, 11, 1))), "sampai"),
            (Filters(Period(date(2020, 1, 1), date(2026, 11, 1))), "dari"),
            (Filters(NOVEMBER, "32.14.01"), "kecamatan"),
            (Filters(NOVEMBER, desa_code="32.14.01.2001"), "desa"),
            (Filters(NOVEMBER, "32.13.09", PAMANUKAN), "desa"),
        ):
            with pytest.raises(PeriodError) as refused:
                await kabupaten_summary(session, "32.13", filters, UI)
            assert refused.value.field == field


# -- the projection keeps the records ----------------------------------------------------------


async def test_the_projection_keeps_each_applications_submission_and_outcome(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    projection = TaskProjection(sessions)
    issued, rejected = str(uuid.uuid4()), str(uuid.uuid4())
    t0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    # The workflow's first step may be recorded before intake's application.submitted.
    await projection.handle(
        application_event(
            APPLICATION_STEP_ASSIGNED,
            issued,
            step_role="kasi_pemerintahan",
            time=t0 + timedelta(seconds=1),
        )
    )
    await projection.handle(application_event(APPLICATION_SUBMITTED, issued, time=t0))
    await projection.handle(
        application_event(
            APPLICATION_DECIDED,
            issued,
            step_role="kasi_pemerintahan",
            decision="approve",
            time=t0 + timedelta(hours=1),
        )
    )
    await projection.handle(
        application_event(LETTER_ISSUED, issued, status="issued", time=t0 + timedelta(hours=5))
    )
    await projection.handle(application_event(APPLICATION_SUBMITTED, rejected, time=t0))
    await projection.handle(
        application_event(APPLICATION_REJECTED, rejected, status="", time=t0 + timedelta(hours=2))
    )
    async with sessions() as session:
        first = await session.get(ApplicationRecord, issued)
        second = await session.get(ApplicationRecord, rejected)
    assert first is not None and second is not None
    assert (first.status, first.submitted_at, first.closed_at) == (
        "issued",
        t0,
        t0 + timedelta(hours=5),
    )
    assert (first.kecamatan_code, first.kabupaten_code) == ("32.13.11", "32.13")
    assert (second.status, second.closed_at) == ("rejected", t0 + timedelta(hours=2))


def test_periods_and_durations_as_people_read_them() -> None:
    today = date(2026, 12, 6)
    assert Period.last_days(today) == Period(date(2026, 11, 7), today)
    assert Period.this_month(today) == Period(date(2026, 12, 1), today)
    # WIB midnight to WIB midnight, in UTC.
    assert NOVEMBER.since == datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    assert NOVEMBER.until == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert filters_of(None, None, "", None, today=today) == Filters(Period.last_days(today))
    assert filters_of(date(2026, 11, 1), None, "32.13.11", None, today=today) == Filters(
        Period(date(2026, 11, 1), today), "32.13.11"
    )
    assert [hours_text(v, working=True) for v in (None, 0, 0.005, 0.5, 2.5, 30)] == [
        "–",
        "0 jam kerja",
        "kurang dari 1 menit kerja",
        "30 menit kerja",
        "2,5 jam kerja",
        "30 jam kerja",
    ]
    assert [hours_text(v) for v in (3, 23.94, 24, 68)] == [
        "3 jam",
        "23,9 jam",
        "1 hari",
        "2 hari 20 jam",
    ]


def test_working_hours_between_undoes_add_working_hours() -> None:
    days_off = frozenset({date(2026, 11, 10), date(2026, 12, 24), date(2026, 12, 25)})
    for start in (wib(2, 8), wib(6, 15), wib(9, 13), wib(23, 11, month=12)):
        for hours in (0.5, 1, 7, 8, 9, 24, 40):
            end = add_working_hours(start, hours, OFFICE, days_off)
            assert working_hours_between(start, end, OFFICE, days_off) == pytest.approx(hours)


def test_the_working_clock_counts_as_working_hours_between() -> None:
    # The kabupaten view's fast count (a table of days) against the walk over each day, for
    # many steps: the default office, a Saturday morning, a day until 24:00, days off.
    rng = random.Random(7)
    days_off = frozenset({date(2026, 11, 10), date(2026, 12, 24), date(2026, 12, 25)})
    calendars = [
        OFFICE,
        WorkingCalendar(
            days=[WorkingDay(1, 450, 1440), WorkingDay(3, 480, 960), WorkingDay(6, 420, 660)]
        ),
    ]
    for calendar in calendars:
        clock = WorkingClock(DesaCalendar(calendar, days_off))
        for _ in range(400):
            start = wib(1, 0) + timedelta(minutes=rng.randrange(90 * 24 * 60), seconds=rng.random())
            end = start + timedelta(hours=rng.choice((0, 0.25, 3, 30, 200, 900)) * rng.random())
            if rng.random() < 0.1:
                start, end = end, start  # not after: 0
            assert clock.hours_between(start.astimezone(UTC), end) == pytest.approx(
                working_hours_between(start, end, calendar, days_off), abs=1e-9
            )
    # Exactly the day's end at 24:00, and the next date's midnight.
    clock = WorkingClock(DesaCalendar(calendars[1], frozenset()))
    monday = wib(2, 7)  # 2 November 2026 is a Monday
    assert clock.hours_between(monday, wib(3, 0)) == 16.5


async def test_a_kecamatan_step_keeps_its_working_time_in_the_kecamatan_calendar(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 18: a kecamatan step's deadline counts in its kecamatan's calendar, so its decided
    working time (the kabupaten view's medians) does too; the desa's steps keep the desa's."""
    async with sessions() as session:
        session.add(_saturdays("32.13.11"))  # Pamanukan's kecamatan works on Saturday
        await session.commit()
    projection = TaskProjection(sessions)
    camat = await _decide(projection, "camat", wib(6, 15), wib(9, 9))
    sekdes = await _decide(projection, "sekdes", wib(6, 15), wib(9, 9))
    assert (await _stored(sessions, camat)).working_seconds == 10 * 3600.0  # 1 + 8 + 1
    assert (await _stored(sessions, sekdes)).working_seconds == 2 * 3600.0  # 1 + 1
