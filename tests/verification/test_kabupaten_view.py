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
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_REJECTED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
)
from common.wib import WIB
from services.verification.api.routes.kabupaten import filters_of
from services.verification.calendars import DesaCalendar, WorkingClock
from services.verification.kabupaten_view import (
    Filters,
    Period,
    PeriodError,
    TemporalUi,
    count_states,
    kabupaten_summary,
    percentile,
    step_times,
)
from services.verification.models import (
    TABLES,
    ApplicationRecord,
    DesaSettings,
    Task,
)
from services.verification.task_inbox import TaskProjection
from services.verification.web.routes.kabupaten import hours_text
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
) -> Task:
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
    )


def test_step_times_per_role_in_working_and_calendar_hours() -> None:
    calendars = {
        PAMANUKAN: DesaCalendar(OFFICE, frozenset()),
        RANCASARI: DesaCalendar(WorkingCalendar(workdays=[1, 2, 3, 4, 5, 6]), frozenset()),
    }
    tasks = [
        _task("kasi_pemerintahan", wib(2, 9), wib(2, 10)),  # 1 working hour, 1 hour
        _task("kasi_kesra", wib(2, 9), wib(2, 12)),  # 3 and 3
        _task("kasi_pemerintahan", wib(6, 15), wib(9, 11)),  # over the weekend: 4 and 68
        _task("sekdes", wib(6, 15), wib(9, 9), desa=RANCASARI),  # works Saturday: 10 and 66
        _task("kades", wib(3, 8), wib(3, 12)),  # 4 and 4
        _task("kades", wib(3, 8), wib(4, 8)),  # 8 and 24
    ]
    steps = {s.role: s for s in step_times(tasks, calendars)}
    assert list(steps) == ["kasi", "sekdes", "kades"]  # route order; Kasi roles together
    kasi = steps["kasi"]
    assert (kasi.name, kasi.decided) == ("Kasi", 3)
    assert kasi.median_working_hours == 3.0
    assert kasi.p90_working_hours == pytest.approx(3.8)
    assert kasi.median_hours == 3.0
    assert kasi.p90_hours == pytest.approx(55.0)
    sekdes = steps["sekdes"]
    assert (sekdes.median_working_hours, sekdes.median_hours) == (10.0, 66.0)
    kades = steps["kades"]
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


@pytest.fixture
async def sessions(data_dir: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'kabupaten.db'}")
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


async def test_working_hours_follow_each_desas_own_calendar(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        session.add(
            DesaSettings(
                desa_code=RANCASARI,
                start_hour=8,
                end_hour=16,
                workdays_json=json.dumps([1, 2, 3, 4, 5, 6]),
                local_days_off_json="[]",
                max_revision_rounds=3,
                resubmit_days=14,
                updated_by="sekdes.rancasari",
            )
        )
        # The same Friday-to-Monday step in both desa; Rancasari works on Saturday.
        session.add(_task("sekdes", wib(6, 15), wib(9, 9), desa=RANCASARI))
        session.add(_task("sekdes", wib(6, 15), wib(9, 9), desa=PAMANUKAN))
        # Christmas and the cuti bersama before it are no working days.
        session.add(_task("kades", wib(23, 15, month=12), wib(28, 9, month=12)))
        await session.commit()
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
