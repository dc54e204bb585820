"""Settings a village secretary can use, in-process (real SQLite, NATS, Temporal, gRPC): working
hours per day to the half hour reach the route the workflow resolves and move its deadlines;
days off are picked on a month grid; a stored schedule keeps working; the operator is refused
as a signer by the use case; stopping a letter type is asked first and says that letters in
progress finish."""

import re
from datetime import UTC, datetime

from common.db import utcnow
from services.verification import route_admin
from services.verification.models import ApplicationRecord, DesaSettings
from services.verification.routes import DayHours, rules_for
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI
from tests.verification.test_admin_pages import _csrf, _signed_in
from tests.verification.test_routes_api import _get_route
from workflows.approval.activities import route_from_proto
from workflows.approval.deadlines import step_deadline

WEEKDAYS = [{"weekday": d, "start": "08:00", "end": "16:00"} for d in (1, 2, 3, 4)]
SHORT_FRIDAY = {"weekday": 5, "start": "07:30", "end": "11:00"}
RULES = {"max_revision_rounds": 3, "resubmit_days": 14}
FRIDAY_10_WIB = datetime(2026, 12, 11, 3, 0, tzinfo=UTC)
MONDAY_09_WIB = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)


async def test_a_shorter_friday_reaches_the_route_and_moves_a_deadline(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    before = await _get_route(service, PAMANUKAN, "SKD")
    calendar = route_from_proto(before, []).calendar
    # Two working hours from Friday 10:00 WIB end at 12:00 with one schedule for every day...
    assert step_deadline(FRIDAY_10_WIB, 2, calendar, frozenset()) == datetime(
        2026, 12, 11, 5, 0, tzinfo=UTC
    )

    body = {**RULES, "hours": [*WEEKDAYS, SHORT_FRIDAY]}
    saved = await service.http.put("/api/v1/settings", json=body, headers=sekdes)
    assert saved.status_code == 200, saved.text
    assert saved.json()["hours"][-1] == {"weekday": 5, "start": "07:30", "end": "11:00"}
    assert (saved.json()["start_hour"], saved.json()["end_hour"]) == (7, 16)  # a summary
    assert saved.json()["workdays"] == [1, 2, 3, 4, 5]

    route = await _get_route(service, PAMANUKAN, "SKD")
    assert [(d.weekday, d.start_minute, d.end_minute) for d in route.calendar.days][-1] == (
        5,
        450,
        660,
    )
    calendar = route_from_proto(route, []).calendar
    # ...and on Monday at 09:00 when Friday closes at 11:00.
    assert step_deadline(FRIDAY_10_WIB, 2, calendar, frozenset()) == MONDAY_09_WIB
    # The inbox counts what is left in the same calendar.
    async with service.runtime.sessions() as session:
        rules = await rules_for(session, PAMANUKAN)
    assert rules.schedule[-1] == DayHours(5, 450, 660)
    # Rancasari keeps the default.
    assert not (await _get_route(service, RANCASARI, "SKD")).calendar.days[4].start_minute == 450


async def test_hours_off_the_half_hour_or_backwards_are_refused_and_nothing_is_saved(
    service: Service,
) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    for bad, message in (
        ({"weekday": 5, "start": "07:15", "end": "11:00"}, "Jam kerja Jumat: pilih jam bulat"),
        ({"weekday": 5, "start": "11:00", "end": "07:30"}, "Jam kerja Jumat: jam mulai harus"),
        ({"weekday": 5, "start": "07:30", "end": "24:30"}, "Jam kerja Jumat: jam mulai harus"),
    ):
        body = {**RULES, "hours": [*WEEKDAYS, bad]}
        refused = await service.http.put("/api/v1/settings", json=body, headers=sekdes)
        assert refused.status_code == 422, bad
        assert message in refused.json()["detail"]
    refused = await service.http.put(
        "/api/v1/settings", json={**RULES, "hours": []}, headers=sekdes
    )
    assert refused.json()["detail"] == "Paling sedikit satu hari kerja dalam seminggu."
    settings = (await service.http.get("/api/v1/settings", headers=sekdes)).json()
    assert settings["customized"] is False


async def test_a_schedule_stored_before_per_day_hours_keeps_working(service: Service) -> None:
    """A row as written before per-day hours (and not yet migrated) reads as the same hours on
    each workday; an older API client's body is stored per day."""
    async with service.runtime.sessions() as session:
        session.add(
            DesaSettings(
                desa_code=PAMANUKAN,
                start_hour=7,
                end_hour=15,
                workdays_json="[1, 2, 3, 4, 5, 6]",
                local_days_off_json="[]",
                max_revision_rounds=3,
                resubmit_days=14,
                updated_by="sekdes.pamanukan",
            )
        )
        await session.commit()
    sekdes = await service.login("sekdes.pamanukan")
    settings = (await service.http.get("/api/v1/settings", headers=sekdes)).json()
    assert settings["hours"] == [
        {"weekday": d, "start": "07:00", "end": "15:00"} for d in range(1, 7)
    ]
    route = await _get_route(service, PAMANUKAN, "SKD")
    assert [(d.weekday, d.start_minute, d.end_minute) for d in route.calendar.days] == [
        (d, 420, 900) for d in range(1, 7)
    ]
    async with _signed_in(service, "sekdes.pamanukan") as client:
        page = await client.get("/pengaturan/jam-kerja")
        assert 'name="hari-6-buka" value="1" checked' in page.text
        assert 'name="hari-7-buka" value="1">' in page.text
        assert re.search(r'name="hari-6-mulai">.*?<option value="07:00" selected>', page.text, re.S)

    old_body = {"start_hour": 8, "end_hour": 14, "workdays": [1, 2, 3], **RULES}
    saved = await service.http.put("/api/v1/settings", json=old_body, headers=sekdes)
    assert saved.status_code == 200, saved.text
    async with service.runtime.sessions() as session:
        row = await session.get(DesaSettings, PAMANUKAN)
        assert row is not None and row.hours_json
    assert saved.json()["hours"] == [
        {"weekday": d, "start": "08:00", "end": "14:00"} for d in (1, 2, 3)
    ]


async def test_the_page_sets_each_days_hours_and_picks_days_off_on_a_month_grid(
    service: Service,
) -> None:
    async with _signed_in(service, "sekdes.pamanukan") as client:
        page = await client.get("/pengaturan/jam-kerja?bulan=2026-12")
        assert page.status_code == 200
        assert "<caption>Desember 2026</caption>" in page.text
        assert 'value="2026-12-23" aria-label="Rabu, 23 Desember 2026"' in page.text
        # Christmas (and its cuti bersama) is a national day off: shown as such, not offered.
        assert 'value="2026-12-25"' not in page.text
        assert "Jumat, 25 Desember 2026, libur nasional" in page.text
        token = await _csrf(client, "/pengaturan/jam-kerja")
        form: dict[str, str | list[str]] = {
            "csrf_token": token,
            "bulan": "2026-12",
            **{f"hari-{d}-buka": "1" for d in range(1, 6)},
            **{f"hari-{d}-mulai": "08:00" for d in range(1, 5)},
            **{f"hari-{d}-selesai": "16:00" for d in range(1, 5)},
            "hari-5-mulai": "07:30",
            "hari-5-selesai": "11:00",
            "libur": ["2026-12-23"],
            **{k: str(v) for k, v in RULES.items()},
        }
        # To the next month: the form comes back as filled (23 December travels along).
        moved = await client.post("/pengaturan/jam-kerja", data={**form, "tampil": "2027-01"})
        assert moved.status_code == 200
        assert "<caption>Januari 2027</caption>" in moved.text
        assert '<input type="hidden" name="libur" value="2026-12-23">' in moved.text
        assert "Belum disimpan" in moved.text
        assert (await client.get("/api/v1/settings")).json()["customized"] is False

        saved = await client.post(
            "/pengaturan/jam-kerja",
            data={**form, "bulan": "2027-01", "libur": ["2026-12-23", "2027-01-02"]},
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == "/pengaturan/jam-kerja?bulan=2027-01&pesan=jam-disimpan"
        settings = (await client.get("/api/v1/settings")).json()
        assert settings["local_days_off"] == ["2026-12-23", "2027-01-02"]
        assert settings["hours"][4] == {"weekday": 5, "start": "07:30", "end": "11:00"}
        assert [h["weekday"] for h in settings["hours"]] == [1, 2, 3, 4, 5]
        shown = await client.get(saved.headers["location"])
        assert "Jam kerja dan aturan perbaikan disimpan." in shown.text
        assert "Sabtu, 2 Januari 2027" in shown.text

    # A Kasi reads the schedule in words.
    async with _signed_in(service, "pemerintahan.pamanukan") as kasi:
        page = await kasi.get("/pengaturan/jam-kerja")
        assert "Jumat: 07.30–11.00 WIB" in page.text and "Minggu: tutup" in page.text
        assert "Rabu, 23 Desember 2026" in page.text


async def test_the_operator_cannot_be_made_the_signer(service: Service) -> None:
    operator_signs = {
        "steps": [{"role": "kasi_pemerintahan"}, {"role": "operator"}],
        "signer_role": "operator",
    }
    kades = await service.login("kades.pamanukan")
    refused = await service.http.put("/api/v1/routes/SKD", json=operator_signs, headers=kades)
    assert refused.status_code == 422
    assert "Operator Desa tidak dapat menjadi penanda tangan." in refused.json()["detail"]
    async with _signed_in(service, "kades.pamanukan") as client:
        editor = await client.get("/pengaturan/surat/SKD")
        signer_select = re.search(r'name="penanda_tangan".*?</select>', editor.text, re.S)
        assert signer_select is not None and 'value="operator"' not in signer_select.group(0)
        assert "langkah tersebut dilewati dan permohonan langsung ke langkah berikutnya" in (
            editor.text
        )
        token = await _csrf(client, "/pengaturan/surat/SKD")
        # A form sent with the operator anyway (an old page, a crafted post).
        page = await client.post(
            "/pengaturan/surat/SKD",
            data={
                "csrf_token": token,
                "langkah-0-peran": "kasi_pemerintahan",
                "langkah-0-jam": "8",
                "langkah-1-peran": "operator",
                "langkah-1-jam": "8",
                "penanda_tangan": "operator",
            },
        )
        assert page.status_code == 422
        assert "Operator Desa tidak dapat menjadi penanda tangan." in page.text
    assert (await service.http.get("/api/v1/routes/SKD", headers=kades)).json()[
        "customized"
    ] is False


async def test_stopping_a_service_is_asked_first_and_letters_in_progress_finish(
    service: Service,
) -> None:
    async with service.runtime.sessions() as session:
        for n, closed in enumerate((None, None, utcnow())):
            session.add(
                ApplicationRecord(
                    application_id=f"skbm-{n}",
                    desa_code=PAMANUKAN,
                    letter_type="SKBM",
                    status="issued" if closed else "in_review",
                    submitted_at=utcnow(),
                    status_at=utcnow(),
                    closed_at=closed,
                )
            )
        await session.commit()
        assert (
            await route_admin.letters_in_progress(
                session, service.runtime.catalogue, PAMANUKAN, "skbm"
            )
            == 2
        )
        catalogue = service.runtime.catalogue
        assert await route_admin.letters_in_progress(session, catalogue, RANCASARI, "SKBM") == 0

    async with _signed_in(service, "sekdes.pamanukan") as client:
        listing = await client.get("/pengaturan/surat")
        assert 'href="/pengaturan/surat/SKBM/hentikan"' in listing.text
        token = await _csrf(client, "/pengaturan/surat")
        # The old one-click post only leads to the question.
        one_click = await client.post(
            "/pengaturan/surat/SKBM/layanan", data={"csrf_token": token, "dilayani": "0"}
        )
        assert one_click.status_code == 303
        assert one_click.headers["location"] == "/pengaturan/surat/SKBM/hentikan"
        assert (await client.get("/api/v1/routes/SKBM")).json()["offered"] is True

        asked = await client.get("/pengaturan/surat/SKBM/hentikan")
        assert asked.status_code == 200
        assert "Hentikan layanan Surat Keterangan Belum Menikah?" in asked.text
        assert "tetap diproses sampai selesai" in asked.text
        assert "<strong>2 permohonan</strong>" in asked.text

        stopped = await client.post(
            "/pengaturan/surat/SKBM/layanan",
            data={"csrf_token": token, "dilayani": "0", "yakin": "1"},
        )
        assert stopped.status_code == 303
        assert (await client.get("/api/v1/routes/SKBM")).json()["offered"] is False
        listing = await client.get(stopped.headers["location"])
        assert "Permohonan yang sudah diajukan tetap diproses sampai selesai." in listing.text
        again = await client.post(
            "/pengaturan/surat/SKBM/layanan", data={"csrf_token": token, "dilayani": "1"}
        )
        assert again.status_code == 303
        assert (await client.get("/api/v1/routes/SKBM")).json()["offered"] is True
    async with _signed_in(service, "pemerintahan.pamanukan") as kasi:
        assert (await kasi.get("/pengaturan/surat/SKBM/hentikan")).status_code == 403
