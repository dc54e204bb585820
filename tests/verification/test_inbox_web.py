"""The staff inbox page's pieces, fast: deadlines in working time as the staff read them, the
inbox notices' fan-out to server-sent-event streams (in one process and across replicas over
NATS), and the task projection telling the desa after a commit."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
)
from common.messaging import connect
from common.wib import WIB
from services.verification.calendars import DesaCalendar, desa_calendar
from services.verification.inbox_events import (
    ANYONE,
    Change,
    Holder,
    InboxFanout,
    desa_of_subject,
    inbox_subject,
    publish_inbox_changed,
)
from services.verification.models import TABLES
from services.verification.routes import DesaRules
from services.verification.staff_tasks import StepOut, TaskSummary
from services.verification.task_inbox import TaskProjection
from services.verification.web.deadlines import remaining_text, waited_text
from services.verification.web.routes.inbox import matches, state_of
from tests.verification.events import PAMANUKAN, RANCASARI, application_event
from workflows.approval.models import WorkingCalendar
from workflows.approval.working_time import add_working_hours, working_time_between

PLAIN = DesaCalendar(WorkingCalendar(), frozenset())  # Mon-Fri 08-16 WIB, no holidays


def wib(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=WIB)


# -- working time between two instants ----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=0, max_value=60 * 80),
)
def test_working_time_between_undoes_add_working_hours(start: datetime, minutes: int) -> None:
    cal = WorkingCalendar(start_hour=7, end_hour=15, workdays=[1, 2, 3, 4, 5, 6])
    days_off = frozenset({date(2026, 8, 17), date(2027, 1, 1)})
    end = add_working_hours(start, minutes / 60, cal, days_off)
    assert working_time_between(start, end, cal, days_off) == timedelta(minutes=minutes)
    assert working_time_between(end, start, cal, days_off) == -timedelta(minutes=minutes)


def test_working_time_skips_nights_weekends_and_days_off() -> None:
    cal = WorkingCalendar()
    # Friday 15:00 to Monday 09:00: one hour on Friday, one on Monday.
    assert working_time_between(wib(2026, 12, 4, 15), wib(2026, 12, 7, 9), cal, frozenset()) == (
        timedelta(hours=2)
    )
    # Monday a day off: nothing that day.
    off = frozenset({date(2026, 12, 7)})
    assert working_time_between(wib(2026, 12, 4, 15), wib(2026, 12, 8, 9), cal, off) == (
        timedelta(hours=2)
    )
    # A day working until 24:00 ends at the next date's 00:00.
    late = WorkingCalendar(start_hour=20, end_hour=24)
    assert working_time_between(wib(2026, 12, 7, 23), wib(2026, 12, 8, 1), late, frozenset()) == (
        timedelta(hours=1)
    )


# -- what the staff read --------------------------------------------------------------------


def test_remaining_working_time_before_the_deadline() -> None:
    now = wib(2026, 12, 7, 10)  # Monday
    assert remaining_text(wib(2026, 12, 7, 13), now, PLAIN) == "sisa 3 jam kerja"
    assert remaining_text(wib(2026, 12, 7, 10, 45), now, PLAIN) == "sisa 45 menit kerja"
    assert remaining_text(wib(2026, 12, 8, 9, 30), now, PLAIN) == "sisa 7 jam 30 menit kerja"
    # Over the weekend: Friday 15:00 with the deadline on Monday 09:00 is two working hours.
    assert remaining_text(wib(2026, 12, 7, 9), wib(2026, 12, 4, 15), PLAIN) == "sisa 2 jam kerja"
    # Evening, deadline at the next opening: nothing of working time left, but not late yet.
    assert (
        remaining_text(wib(2026, 12, 8, 8), wib(2026, 12, 7, 20), PLAIN)
        == "sisa kurang dari 1 menit kerja"
    )


def test_working_time_past_the_deadline() -> None:
    deadline = wib(2026, 12, 4, 15)  # Friday
    assert remaining_text(deadline, wib(2026, 12, 4, 15, 20), PLAIN) == ("terlambat 20 menit kerja")
    # The weekend does not count against the staff member.
    assert remaining_text(deadline, wib(2026, 12, 7, 9), PLAIN) == "terlambat 2 jam kerja"
    assert remaining_text(deadline, wib(2026, 12, 7, 10, 15), PLAIN) == (
        "terlambat 3 jam 15 menit kerja"
    )
    assert remaining_text(deadline, deadline, PLAIN) == "terlambat kurang dari 1 menit kerja"


def test_the_desa_calendar_counts_national_holidays_and_its_own_days_off() -> None:
    desa = desa_calendar(DesaRules(local_days_off=("2026-12-07",)), 2025, 2027)
    assert date(2026, 12, 25) in desa.days_off  # Natal
    assert date(2026, 12, 7) in desa.days_off
    # Friday 15:00 -> Tuesday 09:00 with Monday off: 2 working hours.
    assert remaining_text(wib(2026, 12, 8, 9), wib(2026, 12, 4, 15), desa) == "sisa 2 jam kerja"


def test_how_long_a_task_has_waited() -> None:
    now = wib(2026, 12, 7, 10)
    assert waited_text(now - timedelta(seconds=20), now) == "baru saja"
    assert waited_text(now - timedelta(minutes=40), now) == "40 menit"
    assert waited_text(now - timedelta(hours=3, minutes=5), now) == "3 jam"
    assert waited_text(now - timedelta(days=2, hours=1), now) == "2 hari"


# -- the fan-out ----------------------------------------------------------------------------


def test_inbox_subjects_name_the_desa_in_one_token() -> None:
    subject = inbox_subject(PAMANUKAN)
    assert subject == "smartdesa.notices.verification.inbox.32_13_11_2004"
    assert desa_of_subject(subject) == PAMANUKAN
    assert desa_of_subject("smartdesa.notices.verification.inbox.a.b") is None
    assert desa_of_subject("smartdesa.events.x") is None


async def test_a_notice_reaches_only_the_streams_of_its_desa() -> None:
    fanout = InboxFanout()
    async with fanout.listen(PAMANUKAN) as ours, fanout.listen(RANCASARI) as theirs:
        assert fanout.client_count(PAMANUKAN) == 1
        fanout.notify_local(PAMANUKAN)
        assert await asyncio.wait_for(ours.get(), 1) == ANYONE
        assert theirs.empty()
        # A burst from a slow client's point of view is bounded: one pending change is enough.
        for _ in range(50):
            fanout.notify_local(PAMANUKAN)
        assert 1 <= ours.qsize() <= 9
    assert fanout.client_count() == 0


def test_a_stream_is_told_of_its_holders_roles_at_the_moment_of_the_notice() -> None:
    now = datetime(2026, 12, 7, 3, tzinfo=UTC)
    kesra = Holder(
        "kasi_kesra",
        [
            ("kasi_pemerintahan", now - timedelta(hours=1), now + timedelta(hours=1)),
            ("sekdes", now + timedelta(days=1), now + timedelta(days=2)),  # not yet
        ],
    )
    assert kesra.roles_at(now) == {"kasi_kesra", "kasi_pemerintahan"}
    told = [
        kesra.concerned_by(Change(frozenset(roles)), now)
        for roles in ({"kasi_kesra"}, {"kasi_pemerintahan", "sekdes"}, {"sekdes"}, {"kades"})
    ]
    assert told == [True, True, False, False]
    assert kesra.concerned_by(Change(frozenset({"sekdes"})), now + timedelta(days=1))
    # When unsure, tell: a notice without roles, or a change of the desa's Plt periods.
    assert kesra.concerned_by(ANYONE, now)
    assert kesra.concerned_by(Change(plt=True), now)
    for change in (ANYONE, Change(plt=True), Change(frozenset({"kasi_kesra", "sekdes"}))):
        assert Change.of_payload(change.payload()) == change


async def test_closing_ends_every_open_stream() -> None:
    fanout = InboxFanout()
    async with fanout.listen(PAMANUKAN) as queue:
        for _ in range(20):
            fanout.notify_local(PAMANUKAN)
        fanout.close()
        seen = [await queue.get() for _ in range(queue.qsize())]
        assert seen[-1] is None
    async with fanout.listen(PAMANUKAN) as late:  # a stream opened while stopping ends at once
        assert await late.get() is None


async def test_every_replica_fans_a_published_notice_out(nats_url: str) -> None:
    publisher = await connect(nats_url, "test-publisher")
    replicas = [await connect(nats_url, f"test-replica-{i}") for i in range(2)]
    fanouts = [InboxFanout() for _ in replicas]
    try:
        for fanout, nc in zip(fanouts, replicas, strict=True):
            await fanout.start(nc)
        for nc in replicas:
            await nc.flush()
        async with (
            fanouts[0].listen(PAMANUKAN, holder=Holder("kasi_pemerintahan")) as first,
            fanouts[1].listen(PAMANUKAN, holder=Holder("kasi_pemerintahan")) as second,
            fanouts[1].listen(PAMANUKAN, holder=Holder("kasi_kesra")) as kesra,
            fanouts[1].listen(RANCASARI) as other,
        ):
            await publish_inbox_changed(publisher, PAMANUKAN, ["kasi_pemerintahan"])
            await publisher.flush()
            told = Change(frozenset({"kasi_pemerintahan"}))
            assert await asyncio.wait_for(first.get(), 5) == told
            assert await asyncio.wait_for(second.get(), 5) == told
            # The notices of one publisher arrive in order: the Kasi Kesra's stream skipped the
            # first, and its first is the second.
            await publish_inbox_changed(publisher, PAMANUKAN, ["kasi_kesra"])
            await publisher.flush()
            assert await asyncio.wait_for(kesra.get(), 5) == Change(frozenset({"kasi_kesra"}))
            assert other.empty()
    finally:
        for fanout in fanouts:
            await fanout.stop()
        for nc in [publisher, *replicas]:
            await nc.close()


# -- the projection tells the desa after commit ---------------------------------------------


@pytest.fixture
async def sessions(data_dir: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'inbox-web.db'}")
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_the_projection_names_the_desa_after_each_committed_change(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    changed: list[str] = []
    roles: list[frozenset[str]] = []

    async def on_change(desa_code: str, concerned: frozenset[str]) -> None:
        changed.append(desa_code)
        roles.append(concerned)

    projection = TaskProjection(sessions, on_change=on_change)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assigned = application_event(
        APPLICATION_STEP_ASSIGNED,
        app_id,
        desa_code=RANCASARI,
        step_role="kasi_pemerintahan",
        time=t0,
    )
    await projection.handle(assigned)
    await projection.handle(assigned)  # a redelivery changes nothing and says nothing
    assert changed == [RANCASARI]
    # An event without the desa (a decision) names the desa of the application's task.
    decided = application_event(APPLICATION_DECIDED, app_id, desa_code="", time=t0)
    await projection.handle(decided)
    assert changed == [RANCASARI, RANCASARI]
    # Each names the roles whose inbox listed or lists the task: the task left the Kasi's.
    assert roles == [frozenset({"kasi_pemerintahan"})] * 2


async def test_events_that_change_no_task_tell_no_inbox_page(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Each notice makes every open inbox page of the desa fetch its list: a submission (the
    step's assignment follows) and a letter issued after its last approval change no task."""
    changed: list[str] = []
    roles: list[frozenset[str]] = []

    async def on_change(desa_code: str, concerned: frozenset[str]) -> None:
        changed.append(desa_code)
        roles.append(concerned)

    projection = TaskProjection(sessions, on_change=on_change)
    app_id = str(uuid.uuid4())
    t0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    steps = [
        application_event(APPLICATION_SUBMITTED, app_id, desa_code=RANCASARI, time=t0),
        application_event(
            APPLICATION_STEP_ASSIGNED,
            app_id,
            desa_code=RANCASARI,
            step_role="kades",
            time=t0 + timedelta(seconds=1),
        ),
        application_event(
            APPLICATION_DECIDED, app_id, desa_code=RANCASARI, time=t0 + timedelta(seconds=2)
        ),
        application_event(
            LETTER_ISSUED, app_id, desa_code=RANCASARI, time=t0 + timedelta(seconds=3)
        ),
    ]
    told: list[int] = []
    for event in steps:
        await projection.handle(event)
        told.append(len(changed))
    # Only the assignment (a task opens) and the decision (it closes) are news for staff.
    assert told == [0, 1, 2, 2]


# -- the inbox's filters --------------------------------------------------------------------


def _summary(**changes: object) -> TaskSummary:
    fields: dict[str, object] = {
        "application_id": str(uuid.uuid4()),
        "application_number": "SKD-2026-000001",
        "letter_type": "SKD",
        "step": StepOut(index=0, role="kasi_pemerintahan"),
        "assigned_at": datetime(2026, 12, 7, 2, tzinfo=UTC),
        "deadline": None,
        "overdue": False,
        "escalated_to_role": None,
        "escalation_level": 0,
        "acting_as": "kasi_pemerintahan",
        "kind": "decision",
    }
    fields.update(changes)
    return TaskSummary.model_validate(fields)


def test_each_task_falls_under_the_states_the_filter_offers() -> None:
    waiting = _summary()
    late = _summary(overdue=True)
    escalated = _summary(overdue=True, escalation_level=1, escalated_to_role="sekdes")
    blocked = _summary(kind="signing_blocked", letter_type="SKU")
    tasks = [waiting, late, escalated, blocked]
    assert [state_of(t) for t in tasks] == ["menunggu", "terlambat", "dieskalasi", "tertahan"]

    def shown(jenis: str, keadaan: str) -> list[TaskSummary]:
        return [t for t in tasks if matches(t, jenis, keadaan)]

    assert shown("", "") == tasks
    assert shown("", "menunggu") == [waiting]
    assert shown("", "terlambat") == [late, escalated]  # an escalated task is overdue too
    assert shown("", "dieskalasi") == [escalated]
    assert shown("", "tertahan") == [blocked]
    assert shown("SKU", "") == [blocked]
    assert shown("SKU", "menunggu") == []


# -- the application page's variants render ------------------------------------------------


@pytest.mark.parametrize(
    ("is_open", "blocked", "signing_step", "roles", "bsre"),
    [
        (True, False, False, ["kasi_pemerintahan"], False),
        # the signing step, deciding as Plt possible; a BSrE desa, and one signing locally
        (True, False, True, ["sekdes", "kades"], True),
        (True, False, True, ["kades"], False),
        (True, True, False, ["kades"], True),  # signing refused the letter: issue again
        (True, True, False, ["kades"], False),
        (False, False, False, ["kasi_pemerintahan"], False),  # already decided
    ],
)
def test_the_application_page_offers_what_the_task_allows(
    is_open: bool, blocked: bool, signing_step: bool, roles: list[str], bsre: bool
) -> None:
    from types import SimpleNamespace

    from services.verification.request_view import ShownField
    from services.verification.staff_tasks import ApplicationOut, AttachmentOut, TaskState
    from services.verification.web.pages import templates

    app = ApplicationOut(
        id="a1",
        number="SKD-2026-000001",
        desa_code=PAMANUKAN,
        letter_type="SKD",
        purpose="Rekening bank",
        fields={"nama": "Siti"},
        nik="3213115508900001",
        status="in_review",
        submitted_at=datetime(2026, 12, 7, 2, tzinfo=UTC),
    )
    task = TaskState(
        step=StepOut(index=2, role="kades"),
        kind="signing_blocked" if blocked else "decision",
        reason="Sertifikat penanda tangan belum terpasang." if blocked else None,
        status="open" if is_open else "done",
        deadline=datetime(2026, 12, 7, 9, tzinfo=UTC),
        overdue=False,
        escalated_to_role=None,
        escalation_level=0,
    )
    html = templates.env.get_template("permohonan.html").render(
        me=SimpleNamespace(
            staff=SimpleNamespace(username="kades.pamanukan", role=roles[0]),
            roles=roles,
            is_kabupaten=False,
        ),
        csrf="t",
        title="Surat Keterangan Domisili",
        app=app,
        task=task,
        type_name="Surat Keterangan Domisili",
        name_field=ShownField("nama", "Nama lengkap", "Siti", "data penduduk"),
        fields=[ShownField("instansi_tujuan", "Instansi tujuan surat", "Bank", "diisi pemohon")],
        register_version=3 if is_open else None,  # None: not in the desa's register
        attachments=[
            (
                "KTP pemohon",
                AttachmentOut(
                    id="k", kind="KTP", content_type="image/png", size_bytes=900, url="/x"
                ),
            ),
            (
                "Kartu Keluarga",
                AttachmentOut(
                    id="p", kind="KK", content_type="application/pdf", size_bytes=9, url="/y"
                ),
            ),
        ],
        timeline=[],
        remaining="sisa 3 jam kerja" if is_open else None,
        is_open=is_open,
        blocked=blocked,
        ended="" if is_open else "Tahap ini sudah diputuskan.",
        status_label="Dalam pemeriksaan",
        signing_step=signing_step,
        bsre=bsre,
        kabupaten_desk=False,
        last_step=signing_step,
        roles=roles,
        request_id="r",
        reason="Foto buram" if not is_open else "",
        errors={},
    )
    assert ('id="form-keputusan"' in html) is (is_open and not blocked)
    assert ("dari data penduduk desa (versi 3)" in html) is is_open
    assert ("tidak terdaftar di data penduduk desa" in html) is not is_open
    assert '<span>Siti</span> <small class="redup">(data penduduk)</small>' in html
    assert '<span>Bank</span> <small class="redup">(diisi pemohon)</small>' in html
    assert ("/terbitkan" in html) is blocked
    # The passphrase is asked only where the desa signs with BSrE.
    assert ('name="passphrase"' in html) is ((signing_step or blocked) and bsre)
    # At the signing step the signer is told that approving signs the letter.
    assert ("Menyetujui berarti menandatangani surat ini." in html) is signing_step
    assert ("Setujui dan tandatangani" in html) is signing_step
    assert "PENGANTAR_RT" not in html and 'alt="Lampiran KTP pemohon"' in html
    assert html.index("Nama lengkap") < html.index("NIK pemohon") < html.index("Instansi")
    assert ('name="sebagai"' in html) is (is_open and not blocked and len(roles) > 1)
    assert ("Tahap ini sudah diputuskan." in html) is not is_open
    assert ("Alasan yang Anda tulis" in html) is not is_open
    assert "Sertifikat penanda tangan belum terpasang." in html or not blocked
