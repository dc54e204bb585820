"""The open performance figures (issue 19 item 4) on a worked month: verification's real
DirectoryService computes the letters' times in each desa's working hours from its
application projection, intake adds its survey, complaints and channels, and the public page,
CSV and JSON show them with small cells suppressed and no personal data.

The month (November 2026, WIB; no national holiday; Monday to Friday 08.00-16.00):
- Pamanukan issues six SKD letters after 2, 4, 6, 8, 10 (Friday 14.00 to Monday 16.00: the
  weekend does not count) and 30 working hours, and has one more still in review: 7 requested,
  6 issued, median 7.0, p90 20.0 (linear between ranks: 10 + 0.5 x 20), 5 of 6 within the
  24-hour standard; 3 came by the portal, 2 by WhatsApp chat, 2 at the office (digital 5/7);
  ten survey answers of all 3s (IKM 75.00, C); five complaints, three answered before their deadline (3/5).
- Rancasari issues two (1 and 3 hours) of three: too few to show anything but zero counts;
  four survey answers of all 4s, one complaint.
- Rancahilir issues five of five, 1 hour each; five answers of all 2s; five complaints, all
  answered in time. Its counts are at the threshold, but hidden all the same: otherwise the
  kecamatan's count minus Pamanukan's and Rancahilir's would give Rancasari's away
  (secondary suppression hides the smallest other count).
- The kecamatan (all three): 15 requested, 13 issued, times 1 (six times), 2, 3, 4, 6, 8, 10,
  30: median 2.0, p90 9.6 (8 + 0.8 x 2), 12/13 within; digital 13/15; 19 answers: IKM
  (10x3 + 4x4 + 5x2)/19 x 25 = 73.68 (C); 11 complaints, 8 answered in time.
"""

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from common.wib import WIB
from common.wilayah import pilot_codes
from services.intake.config import Settings
from services.intake.duties_models import Complaint, ComplaintEntry, SurveyAnswer
from services.intake.main import create_app
from services.intake.models import LetterApplication, Resident
from services.intake.performance import (
    COLUMNS,
    MIN_COUNT,
    PROTECTED_COUNTS,
    Tally,
    check_month,
    complementary,
    figures_row,
)
from services.verification.models import ApplicationRecord, DesaService
from tests.intake.conftest import PAMANUKAN, Intake
from tests.intake.public_peers import Peers, peer_settings, peers  # noqa: F401 - fixture

RANCASARI = "32.13.11.2002"
RANCAHILIR = "32.13.11.2003"
KECAMATAN = "32.13.11"
MONTH = "2026-11"
NIK = "3213115708900001"
NAME = "Ani Suryani"


def wib(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=WIB)


# (submitted, issued) in WIB: 2, 4, 6, 8, 10 and 30 working hours.
PAMANUKAN_ISSUED = [
    (wib(2, 8), wib(2, 10)),
    (wib(3, 8), wib(3, 12)),
    (wib(4, 8), wib(4, 14)),
    (wib(5, 8), wib(5, 16)),
    (wib(6, 14), wib(9, 16)),
    (wib(9, 8), wib(12, 14)),
]
RANCASARI_ISSUED = [(wib(16, 8), wib(16, 9)), (wib(17, 8), wib(17, 11))]
RANCAHILIR_ISSUED = [(wib(23, 8), wib(23, 9))] * 5


async def _letters(peers: Peers) -> None:  # noqa: F811
    rows = []
    for desa, issued, open_ones in (
        (PAMANUKAN, PAMANUKAN_ISSUED, [wib(20, 9)]),
        (RANCASARI, RANCASARI_ISSUED, [wib(20, 10)]),
        (RANCAHILIR, RANCAHILIR_ISSUED, []),
    ):
        for i, (submitted, closed) in enumerate(issued):
            rows.append(
                ApplicationRecord(
                    application_id=f"{desa}-issued-{i}",
                    desa_code=desa,
                    kecamatan_code=KECAMATAN,
                    kabupaten_code="32.13",
                    letter_type="SKD",
                    status="issued",
                    submitted_at=submitted,
                    status_at=closed,
                    closed_at=closed,
                )
            )
        for i, submitted in enumerate(open_ones):
            rows.append(
                ApplicationRecord(
                    application_id=f"{desa}-open-{i}",
                    desa_code=desa,
                    kecamatan_code=KECAMATAN,
                    kabupaten_code="32.13",
                    letter_type="SKD",
                    status="in_review",
                    submitted_at=submitted,
                    status_at=submitted,
                )
            )
    # Issued in October: not this month's.
    rows.append(
        ApplicationRecord(
            application_id="october",
            desa_code=PAMANUKAN,
            kecamatan_code=KECAMATAN,
            kabupaten_code="32.13",
            letter_type="SKD",
            status="issued",
            submitted_at=wib(20, 8, month=10),
            status_at=wib(21, 8, month=10),
            closed_at=wib(21, 8, month=10),
        )
    )
    async with peers.verification() as session:
        session.add_all(rows)
        await session.commit()


async def _intake_data(intake: Intake) -> None:
    async with intake.runtime.sessions() as session:
        resident = Resident(nik=NIK, phone="6281234567890")
        session.add(resident)
        await session.flush()
        # WhatsApp (the chat's applications) counts as digital beside the portal.
        channels = [(PAMANUKAN, "portal")] * 3 + [(PAMANUKAN, "whatsapp")] * 2
        channels += [(PAMANUKAN, "walk_in")] * 2
        channels += [(RANCASARI, "portal")] * 3 + [(RANCAHILIR, "portal")] * 5
        for desa, channel in channels:
            session.add(
                LetterApplication(
                    resident_id=resident.id,
                    desa_code=desa,
                    letter_type="SKD",
                    purpose="Melamar kerja",
                    fields_json=json.dumps({"nama": NAME}),
                    status="submitted",
                    submitted_at=wib(10, 9),
                    channel=channel,
                )
            )
        for desa, score, count in ((PAMANUKAN, 3, 10), (RANCASARI, 4, 4), (RANCAHILIR, 2, 5)):
            for _ in range(count):
                answer = SurveyAnswer.model_validate(
                    {"desa_code": desa, "letter_type": "SKD", "period": MONTH}
                    | {"comment": f"Dilayani {NAME}"}
                    | {f"u{i}": score for i in range(1, 10)}
                )
                session.add(answer)
        # Pamanukan: on time, on time, on time, late, unanswered. Rancahilir: all on time.
        # Rancasari: one.
        answers = [(PAMANUKAN, wib(3, 9))] * 3 + [(PAMANUKAN, wib(20, 9)), (PAMANUKAN, None)]
        answers += [(RANCAHILIR, wib(4, 9))] * 5
        for i, (desa, answered) in enumerate(answers):
            complaint = Complaint(
                tracking_number=f"ADU-TEST-00{i:02d}",
                secret_hash="0" * 64,
                desa_code=desa,
                kabupaten_code="32.13",
                subject="layanan",
                body=f"{NAME} {NIK} diminta biaya",
                filed_at=wib(2, 9),
                deadline_at=wib(9, 9),
            )
            session.add(complaint)
            await session.flush()
            if answered is not None:
                session.add(
                    ComplaintEntry(
                        complaint_id=complaint.id, at=answered, kind="answered", actor="op"
                    )
                )
        session.add(
            Complaint(
                tracking_number="ADU-TEST-RANC",
                secret_hash="0" * 64,
                desa_code=RANCASARI,
                kabupaten_code="32.13",
                subject="layanan",
                body="Lama",
                filed_at=wib(2, 9),
                deadline_at=wib(9, 9),
            )
        )
        await session.commit()


@pytest.fixture
async def portal(base_settings: Settings, peers: Peers) -> AsyncIterator[Intake]:  # noqa: F811
    app = create_app(peer_settings(base_settings, peers))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            portal = Intake(app=app, runtime=app.state.runtime, http=http)
            await _letters(peers)
            await _intake_data(portal)
            yield portal


async def test_the_worked_month_in_the_json_feed(portal: Intake) -> None:
    r = await portal.http.get("/angka-kinerja.json", params={"bulan": MONTH})  # no sign-in
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["month"] == MONTH and body["kabupaten"] == "32.13"
    assert body["suppression"] == {"min_count": MIN_COUNT, "min_survey_answers": 10}
    assert body["columns"] == list(COLUMNS)
    rows = {row["code"]: row for row in body["rows"]}
    assert all(list(row) == list(COLUMNS) for row in body["rows"])
    assert body["rows"][0]["level"] == "kabupaten"

    pamanukan = rows[PAMANUKAN]
    assert pamanukan["level"] == "desa" and pamanukan["name"] == "Pamanukan"
    assert (pamanukan["requested"], pamanukan["issued"]) == (7, 6)
    assert pamanukan["median_working_hours"] == 7.0
    assert pamanukan["p90_working_hours"] == 20.0
    assert pamanukan["issued_within_standard_share"] == round(5 / 6, 4)
    assert (pamanukan["ikm"], pamanukan["ikm_band"]) == ("75.00", "C")
    assert pamanukan["survey_answers"] == 10
    assert pamanukan["complaints_received"] == 5
    assert pamanukan["complaints_answered_on_time_share"] == 0.6
    assert pamanukan["digital_share"] == round(5 / 7, 4)

    # Rancasari: every count from 1 to 4, and everything computed from it, is suppressed.
    rancasari = rows[RANCASARI]
    for key in COLUMNS[4:]:
        assert rancasari[key] is None, key

    # Rancahilir's counts are hidden so that Rancasari's cannot be worked out, and the shares
    # computed from them (which would give them away); its times stay.
    rancahilir = rows[RANCAHILIR]
    for key in COLUMNS[4:]:
        if key not in ("median_working_hours", "p90_working_hours"):
            assert rancahilir[key] is None, key
    assert (rancahilir["median_working_hours"], rancahilir["p90_working_hours"]) == (1.0, 1.0)

    # A desa where nothing happened shows zeros (nobody to single out), nothing computed.
    quiet = next(
        r
        for r in body["rows"]
        if r["level"] == "desa" and r["code"] not in (PAMANUKAN, RANCASARI, RANCAHILIR)
    )
    assert (quiet["requested"], quiet["issued"], quiet["complaints_received"]) == (0, 0, 0)
    assert quiet["median_working_hours"] is None and quiet["ikm"] is None

    for area in (rows[KECAMATAN], body["rows"][0]):
        assert (area["requested"], area["issued"]) == (15, 13)
        assert (area["median_working_hours"], area["p90_working_hours"]) == (2.0, 9.6)
        assert area["issued_within_standard_share"] == round(12 / 13, 4)
        assert (area["ikm"], area["ikm_band"], area["survey_answers"]) == ("73.68", "C", 19)
        assert area["complaints_received"] == 11
        assert area["complaints_answered_on_time_share"] == round(8 / 11, 4)
        assert area["digital_share"] == round(13 / 15, 4)


async def test_only_the_desa_switched_on_are_listed(
    portal: Intake,
    peers: Peers,  # noqa: F811
) -> None:
    """Onboarding's switch (verification's ListServingDesa): a pilot desa switched off and a
    desa never switched on have no row; the areas' totals are pooled from the listed desa."""
    switched_off, never_on = "32.13.11.2006", "32.13.11.2001"
    assert switched_off in pilot_codes() and never_on not in pilot_codes()
    async with peers.verification() as session:
        session.add(DesaService(desa_code=switched_off, serving=False, changed_by="operator"))
        await session.commit()
    r = await portal.http.get("/angka-kinerja.json", params={"bulan": MONTH})
    assert r.status_code == 200, r.text
    codes = {row["code"] for row in r.json()["rows"] if row["level"] == "desa"}
    assert PAMANUKAN in codes and RANCASARI in codes
    assert switched_off not in codes and never_on not in codes
    assert codes <= pilot_codes()


async def test_csv_and_page_carry_the_same_rows_and_no_personal_data(portal: Intake) -> None:
    csv_r = await portal.http.get("/angka-kinerja.csv", params={"bulan": MONTH})
    assert csv_r.status_code == 200
    assert csv_r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert tuple(table[0]) == COLUMNS
    by_code = {row["code"]: row for row in table}
    assert by_code[PAMANUKAN]["median_working_hours"] == "7.0"
    assert by_code[RANCASARI]["requested"] == ""  # suppressed cells are empty
    page = await portal.http.get("/angka-kinerja", params={"bulan": MONTH})
    assert page.status_code == 200 and "Kab. Subang" in page.text
    json_r = await portal.http.get("/angka-kinerja.json", params={"bulan": MONTH})
    async with portal.runtime.sessions() as session:
        ids = [a.id for a in await session.exec(select(LetterApplication))]
    for text in (csv_r.text, page.text, json_r.text):
        for personal in (NIK, NAME, "6281234567890", "ADU-TEST", "diminta biaya", *ids):
            assert personal not in text


async def test_a_malformed_month_is_refused_in_indonesian(portal: Intake) -> None:
    r = await portal.http.get("/angka-kinerja.json", params={"bulan": "2026-13"})
    assert r.status_code == 422
    assert "TTTT-BB" in r.text


def test_suppression_edges() -> None:
    below = Tally(requested=MIN_COUNT - 1, issued=MIN_COUNT - 1, working_hours_to_issue=[1.0] * 4)
    row = figures_row("desa", "x", "x", MONTH, below)
    assert row["requested"] is None and row["issued"] is None
    assert row["median_working_hours"] is None and row["issued_within_standard_share"] is None
    at = Tally(
        requested=MIN_COUNT,
        issued=MIN_COUNT,
        working_hours_to_issue=[1.0, 2.0, 3.0, 4.0, 5.0],
        issued_within_standard=MIN_COUNT,
        survey_answers=9,
        survey_sums=[36] * 9,
    )
    row = figures_row("desa", "x", "x", MONTH, at)
    assert (row["requested"], row["median_working_hours"], row["p90_working_hours"]) == (
        5,
        3.0,
        4.6,
    )
    assert row["issued_within_standard_share"] == 1.0
    assert row["ikm"] is None and row["survey_answers"] == 9  # IKM needs 10 answers
    assert figures_row("desa", "x", "x", MONTH, Tally())["requested"] == 0


def test_the_month_bounds_are_wib() -> None:
    start, end = check_month(MONTH)
    assert start == wib(1, 0) and end == datetime(2026, 12, 1, tzinfo=WIB)
    assert end - start == timedelta(days=30)


def test_secondary_suppression_falls_back_to_the_parent() -> None:
    parent = {"code": "k", **dict.fromkeys(PROTECTED_COUNTS, 7)}
    hidden = {"code": "a", **dict.fromkeys(PROTECTED_COUNTS)}
    empty = {"code": "b", **dict.fromkeys(PROTECTED_COUNTS, 0)}
    parent["digital_share"] = 0.5
    complementary(parent, [hidden, empty])
    assert all(parent[c] is None for c in PROTECTED_COUNTS)  # 7 - 0 would give "a" away
    assert parent["digital_share"] is None
    two_hidden = {"code": "k", **dict.fromkeys(PROTECTED_COUNTS, 9)}
    complementary(two_hidden, [hidden, dict(hidden, code="c"), dict(empty, requested=5)])
    assert two_hidden["requested"] == 9  # two hidden: their sum is all one learns
