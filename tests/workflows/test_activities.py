"""The real approval activities against real gRPC peers: how the directory's route becomes the
workflow's Route (defaults, days off, skippable steps), and what reaches intake and signing."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from smartdesa.v1 import directory_pb2
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from tests.workflows.peers import PAMANUKAN, Peers, running_peers
from workflows.approval.activities import ApprovalActivities
from workflows.approval.days_off import national_days_off
from workflows.approval.deadlines import step_deadline
from workflows.approval.models import (
    ApprovalInput,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    WorkingCalendar,
    WorkingDay,
)
from workflows.approval.working_time import parse_days_off

SECRET = secrets.token_hex(32).encode()
APPLICATION = ApprovalInput(application_id="app-1", desa_code=PAMANUKAN, letter_type="SKD")


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    async with running_peers(SECRET) as running:
        yield running


@pytest.fixture
async def activities(peers: Peers) -> AsyncIterator[ApprovalActivities]:
    auth = InternalAuth(SECRET, WORKER)
    channels = [
        client_channel(peers.intake_target, auth, INTAKE),
        client_channel(peers.verification_target, auth, VERIFICATION),
        client_channel(peers.signing_target, auth, SIGNING),
    ]
    yield ApprovalActivities(*channels)
    for channel in channels:
        await channel.close()


def test_national_days_off_include_cuti_bersama() -> None:
    days = set(national_days_off(2026))
    assert {"2026-08-17", "2026-03-21", "2026-12-25"} <= days  # public holidays
    assert {"2026-03-20", "2026-03-23", "2026-03-24", "2026-12-24"} <= days  # cuti bersama
    assert "2026-08-18" not in days
    assert all(d[:4] in {"2026", "2027", "2028"} for d in days)


async def test_an_unset_route_gets_the_defaults(activities: ApprovalActivities) -> None:
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert [(s.role, s.deadline_working_hours, s.skippable) for s in route.steps] == [
        ("kasi_pemerintahan", 8, False),
        ("sekdes", 8, False),
        ("kades", 8, False),
    ]
    assert route.calendar == WorkingCalendar(
        start_hour=8, end_hour=16, workdays=[1, 2, 3, 4, 5], local_days_off=[]
    )
    assert (route.max_revision_rounds, route.resubmit_days, route.on_behalf_of_role) == (3, 14, "")
    this_year = datetime.now(UTC).year
    assert set(national_days_off(this_year)) == set(route.days_off)


async def test_the_route_says_whether_the_desa_signs_remotely(
    peers: Peers, activities: ApprovalActivities
) -> None:
    """Signing knows each desa's signer kind (its signing_signers setting); BSrE is remote."""
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert route.remote_signature is False  # the peer's desa signs with a local key
    peers.signing.signer_kind = "bsre"
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert route.remote_signature is True
    peers.signing.signer_kind = "pkcs11"
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert route.remote_signature is False


async def test_a_desa_route_is_carried_and_unheld_skippable_steps_are_left_out(
    peers: Peers, activities: ApprovalActivities
) -> None:
    peers.directory.route = directory_pb2.Route(
        steps=[
            directory_pb2.RouteStep(role="operator", deadline_working_hours=4, skippable=True),
            directory_pb2.RouteStep(role="kasi_pemerintahan", deadline_working_hours=16),
            directory_pb2.RouteStep(role="sekdes", deadline_working_hours=8),
        ],
        signer_role="sekdes",
        on_behalf_of_role="kades",
        calendar=directory_pb2.WorkingCalendar(
            start_hour=7, end_hour=15, workdays=[1, 2, 3, 4, 5, 6], local_days_off=["2026-12-01"]
        ),
        max_revision_rounds=2,
        resubmit_days=7,
    )
    # Nobody holds the operator role in this desa: the skippable first check is left out.
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert [(s.role, s.deadline_working_hours) for s in route.steps] == [
        ("kasi_pemerintahan", 16),
        ("sekdes", 8),
    ]
    assert (route.signer_role, route.on_behalf_of_role) == ("sekdes", "kades")
    assert route.calendar == WorkingCalendar(7, 15, [1, 2, 3, 4, 5, 6], ["2026-12-01"])
    assert (route.max_revision_rounds, route.resubmit_days) == (2, 7)

    peers.directory.holders["operator"] = ["operator.pamanukan"]
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert [s.role for s in route.steps] == ["operator", "kasi_pemerintahan", "sekdes"]
    assert route.steps[0].skippable


async def test_a_broken_calendar_fails_for_good(
    peers: Peers, activities: ApprovalActivities
) -> None:
    peers.directory.route.calendar.CopyFrom(
        directory_pb2.WorkingCalendar(start_hour=16, end_hour=8)
    )
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert failure.value.non_retryable and failure.value.type == "InvalidRoute"


async def test_each_days_hours_are_carried_and_count_for_deadlines(
    peers: Peers, activities: ApprovalActivities
) -> None:
    """A desa with a shorter Friday (07:30-11:00): the route carries each day's hours and a
    step's deadline is counted in them (what the workflow computes from the route)."""
    week = [
        directory_pb2.WorkingDay(weekday=d, start_minute=480, end_minute=960) for d in (1, 2, 3, 4)
    ]
    peers.directory.route.calendar.CopyFrom(
        directory_pb2.WorkingCalendar(
            start_hour=7,
            end_hour=16,
            workdays=[1, 2, 3, 4, 5],
            days=[*week, directory_pb2.WorkingDay(weekday=5, start_minute=450, end_minute=660)],
        )
    )
    route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert route.calendar.days == [
        *(WorkingDay(d, 480, 960) for d in (1, 2, 3, 4)),
        WorkingDay(5, 450, 660),
    ]
    assert (route.calendar.start_hour, route.calendar.end_hour) == (7, 16)
    friday_10 = datetime(2026, 12, 11, 3, 0, tzinfo=UTC)  # 10:00 WIB
    due = step_deadline(friday_10, 2, route.calendar, parse_days_off(route.days_off))
    assert due == datetime(2026, 12, 14, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB

    peers.directory.route.calendar.days[4].end_minute = 400  # closes before it opens
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
    assert failure.value.non_retryable and failure.value.type == "InvalidRoute"


async def test_progress_and_letter_carry_deadline_escalation_and_signer(
    peers: Peers, activities: ApprovalActivities
) -> None:
    deadline = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    record = ProgressRecord(
        application_id="app-1",
        desa_code=PAMANUKAN,
        letter_type="SKD",
        sequence=4,
        event="application.escalated",
        status="in_review",
        step_index=0,
        step_role="kasi_pemerintahan",
        deadline=deadline,
        escalated_to_role="sekdes",
        escalation_level=1,
    )
    env = ActivityEnvironment()
    await env.run(activities.record_progress, record)
    await env.run(activities.record_progress, record)  # a retry changes nothing
    (sent,) = peers.intake.applied
    assert len(peers.intake.attempts) == 2
    assert sent.deadline.ToDatetime(UTC) == deadline
    assert (sent.escalated_to_role, sent.escalation_level, sent.decided_as) == ("sekdes", 1, "")
    assert (sent.current_step.index, sent.current_step.role) == (0, "kasi_pemerintahan")

    letter = await env.run(
        activities.issue_letter,
        IssueLetterInput(
            application_id="app-1",
            signer_role="sekdes",
            signer_username="plt.sekdes.pamanukan",
            on_behalf_of_role="kades",
            signer_is_plt=True,
        ),
    )
    assert letter == LetterInfo("letter-1", f"470/001/{PAMANUKAN}/XI/2026", letter.verification_url)
    (call,) = peers.signing.calls
    assert (call.signer_role, call.signer_username, call.on_behalf_of_role, call.signer_is_plt) == (
        "sekdes",
        "plt.sekdes.pamanukan",
        "kades",
        True,
    )
    # Signing renders the catalogue version the application started with, not the current one.
    assert (call.letter_type, call.letter_type_version) == ("SKD", "SKD-v1")


async def test_a_refused_record_is_retried_not_fatal(
    peers: Peers, activities: ApprovalActivities
) -> None:
    """An intake that does not know a status yet (mid-deploy) must not end the letter."""
    peers.intake.unknown_statuses.add("expired")
    record = ProgressRecord(
        application_id="app-1",
        desa_code=PAMANUKAN,
        letter_type="SKD",
        sequence=9,
        event="application.expired",
        status="expired",
    )
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.record_progress, record)
    assert failure.value.type == "INVALID_ARGUMENT" and not failure.value.non_retryable
    peers.intake.unknown_statuses.clear()
    await ActivityEnvironment().run(activities.record_progress, record)
    assert [r.sequence for r in peers.intake.applied] == [9]


async def test_the_kecamatan_steps_follow_the_purpose_rule(
    peers: Peers, activities: ApprovalActivities
) -> None:
    """Issue 18: a kecamatan rule limited to some purposes keeps the kecamatan's steps (and
    its calendar) only for an application whose purpose names one; the peer's application is
    "Persyaratan melamar pekerjaan"."""
    desa = [directory_pb2.RouteStep(role=r) for r in ("kasi_kesra", "sekdes", "kades")]
    kecamatan = [directory_pb2.RouteStep(role=r) for r in ("kasi_pelayanan_kecamatan", "camat")]
    peers.directory.route = directory_pb2.Route(
        steps=[*desa, *kecamatan],
        signer_role="kades",
        kecamatan_calendar=directory_pb2.WorkingCalendar(
            start_hour=7, end_hour=14, workdays=[1, 2, 3, 4, 5], local_days_off=["2026-12-02"]
        ),
    )
    through = ["kasi_kesra", "sekdes", "kades", "kasi_pelayanan_kecamatan", "camat"]
    for purposes, roles in (
        ([], through),  # no purposes: always
        (["Melamar  Pekerjaan", "beasiswa"], through),  # whole words, any case and spacing
        (["beasiswa", "berobat"], through[:3]),
        (["pekerja"], through[:3]),  # a part of a word is no match
    ):
        del peers.directory.route.kecamatan_purposes[:]
        peers.directory.route.kecamatan_purposes.extend(purposes)
        route = await ActivityEnvironment().run(activities.resolve_route, APPLICATION)
        assert [s.role for s in route.steps] == roles, purposes
        if len(roles) == len(through):
            assert route.kecamatan_calendar == WorkingCalendar(
                7, 14, [1, 2, 3, 4, 5], ["2026-12-02"]
            )
        else:
            assert route.kecamatan_calendar is None
