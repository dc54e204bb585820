"""Settings a village secretary can use, in the real browser with axe on every page: the Kades
of Rancasari gives Friday shorter hours to the half hour and picks a day off on the month grid
(and the deadline of a step started on Friday moves to Monday); builds the number format from
labelled parts with a live example; the route editor explains its options and refuses the
operator as signer; stopping a service is asked first.

Rancasari is used (its settings and route put back afterwards), so that the other page tests'
letters in Pamanukan keep their usual deadlines and routes."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from common.wib import MONTHS, WIB
from scripts.journey import Journey
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit
from workflows.approval.days_off import national_days_off
from workflows.approval.models import WorkingCalendar, WorkingDay
from workflows.approval.working_time import add_working_hours

KADES = "kades.rancasari"


def _sign_in(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}/masuk?lanjut={path}")
    page.get_by_label("Nama pengguna").fill(KADES)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()


@pytest.fixture
def rancasari_settings(stack: Stack, journey: Journey) -> Iterator[dict[str, Any]]:
    """Rancasari's settings and SKD route as they were; put back after the test."""
    base = stack.endpoints.verification
    headers = {"Authorization": f"Bearer {journey.staff_token(KADES, PASSWORD)}"}
    before = journey.http.get(f"{base}/api/v1/settings", headers=headers).json()
    yield before
    keys = ("hours", "local_days_off", "max_revision_rounds", "resubmit_days")
    body = {k: before[k] for k in keys} | {
        "operator_may_edit_routes": before["operator_may_edit_routes"]
    }
    restored = journey.http.put(f"{base}/api/v1/settings", json=body, headers=headers)
    assert restored.status_code == 200, restored.text
    assert journey.http.delete(f"{base}/api/v1/routes/SKD", headers=headers).status_code == 200


def _a_plain_day_next_month() -> date:
    """A weekday of next month that is no national day off (what the grid offers to pick)."""
    today = datetime.now(WIB).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    national = set(national_days_off(first.year, 1))
    day = first.replace(day=10)
    while day.isoweekday() > 5 or day.isoformat() in national:
        day += timedelta(days=1)
    return day


def test_a_shorter_friday_and_a_day_off_picked_on_the_calendar(
    stack: Stack,
    journey: Journey,
    desk: Page,
    visit: Visit,
    rancasari_settings: dict[str, Any],
) -> None:
    base = stack.endpoints.verification
    _sign_in(desk, base, "/pengaturan/jam-kerja")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Jam kerja dan aturan perbaikan")
    visit.page(desk, "jam-kerja")

    # Friday 07.30-11.00, chosen from half-hour lists.
    expect(desk.get_by_label("Jumat buka")).to_be_checked()
    desk.get_by_label("Jam buka Jumat").select_option("07:30")
    desk.get_by_label("Jam tutup Jumat").select_option("11:00")

    # Next month on the grid; the Friday choice travels along unsaved.
    day = _a_plain_day_next_month()
    month_name = f"{MONTHS[day.month - 1]} {day.year}"
    desk.get_by_role("button", name=f"{month_name} ›").click()
    grid = desk.get_by_role("table", name=month_name)
    expect(grid).to_be_visible()
    expect(desk.get_by_role("status")).to_contain_text("Belum disimpan")
    expect(desk.get_by_label("Jam tutup Jumat")).to_have_value("11:00")
    weekday = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat")[day.isoweekday() - 1]
    label = f"{weekday}, {day.day} {MONTHS[day.month - 1]} {day.year}"
    box = grid.get_by_role("checkbox", name=label)
    box.focus()
    desk.keyboard.press("Space")  # the grid works from the keyboard
    expect(box).to_be_checked()
    visit.page(desk, "jam-kerja-kalender")

    desk.get_by_role("button", name="Simpan", exact=True).click()
    expect(desk.get_by_role("status")).to_contain_text("Jam kerja dan aturan perbaikan disimpan")
    expect(desk.get_by_role("table", name=month_name)).to_be_visible()
    expect(desk.get_by_role("checkbox", name=label)).to_be_checked()
    expect(desk.get_by_text(f"Hari libur desa terpilih: {label}")).to_be_visible()
    visit.page(desk, "jam-kerja-disimpan")

    headers = {"Authorization": f"Bearer {journey.staff_token(KADES, PASSWORD)}"}
    saved = journey.http.get(f"{base}/api/v1/settings", headers=headers).json()
    assert {"weekday": 5, "start": "07:30", "end": "11:00"} in saved["hours"]
    assert day.isoformat() in saved["local_days_off"]
    # The deadline of a step of two working hours started on a Friday at 10:00 WIB, counted
    # in the saved calendar as the workflow counts it: Monday 09:00, no longer Friday 12:00.
    calendar = WorkingCalendar(
        days=[
            WorkingDay(
                h["weekday"], *(int(t[:2]) * 60 + int(t[3:]) for t in (h["start"], h["end"]))
            )
            for h in saved["hours"]
        ]
    )
    friday = datetime(2026, 12, 11, 10, tzinfo=WIB)
    assert add_working_hours(friday, 2, calendar, frozenset()) == datetime(
        2026, 12, 14, 9, tzinfo=WIB
    ).astimezone(UTC)


def test_the_number_format_is_built_from_parts_with_a_live_example(
    stack: Stack, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    _sign_in(desk, base, "/pengaturan/profil/ubah")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Ubah profil desa")
    example = desk.locator("#contoh-nomor")
    expect(example).to_contain_text("Contoh nomor berikutnya:")
    expect(desk.get_by_label("Bagian 1", exact=True)).to_have_value("kode")
    expect(desk.get_by_label("Angka nomor urut bagian 3")).to_have_value("3")
    # Only the input a part needs is shown.
    expect(desk.get_by_label("Angka nomor urut bagian 1", exact=True)).to_be_hidden()
    visit.page(desk, "format-nomor")

    desk.get_by_label("Angka nomor urut bagian 3").select_option("5")
    expect(example).to_contain_text("/00001/")
    desk.get_by_label("Bagian 4", exact=True).select_option("-")
    desk.get_by_label("Bagian 5", exact=True).select_option("teks")
    desk.get_by_label("Teks bebas bagian 5").fill("Desa Rcs")
    expect(example).to_contain_text("/00001-Desa Rcs/")
    visit.page(desk, "format-nomor-diubah")
    # Without the year the example says why, in the builder's words (nothing was saved).
    desk.get_by_label("Bagian 9", exact=True).select_option("")
    expect(example).to_contain_text("wajib memuat bagian Tahun")
    desk.get_by_role("link", name="Batal").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Profil desa Rancasari")


def test_route_options_are_explained_and_the_operator_cannot_sign(
    stack: Stack, desk: Page, visit: Visit, rancasari_settings: dict[str, Any]
) -> None:
    base = stack.endpoints.verification
    _sign_in(desk, base, "/pengaturan/surat/SKD")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Alur Surat Keterangan Domisili")
    skip = desk.get_by_role(
        "checkbox", name="Langkah 1 boleh dilewati bila desa tidak punya staf untuk peran ini"
    )
    # What "boleh dilewati" means is the checkbox's description.
    described = skip.get_attribute("aria-describedby")
    assert described == "arti-lewati"
    expect(desk.locator(f"#{described}")).to_contain_text("langsung ke langkah berikutnya")
    signer = desk.locator("#f-penanda_tangan")  # labelled "Penanda tangan *"
    expect(signer).to_be_visible()
    expect(signer.locator("option[value=operator]")).to_have_count(0)
    visit.page(desk, "alur-dijelaskan")

    # A form that still offers the operator (an old page) is refused by the use case.
    signer.evaluate("s => s.add(new Option('Operator Desa', 'operator'))")
    desk.get_by_label("Peran langkah 3").select_option("operator")
    signer.select_option("operator")
    desk.get_by_role("button", name="Simpan alur").click()
    expect(desk.get_by_role("alert")).to_contain_text(
        "Operator Desa tidak dapat menjadi penanda tangan."
    )
    visit.page(desk, "alur-operator-ditolak")


def test_stopping_a_service_asks_first(
    stack: Stack, journey: Journey, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    _sign_in(desk, base, "/pengaturan/surat")
    sku = "Surat Keterangan Usaha"
    desk.get_by_role("link", name=f"Hentikan layanan {sku}").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Hentikan layanan {sku}?")
    expect(desk.get_by_text("tetap diproses sampai selesai")).to_be_visible()
    visit.page(desk, "hentikan-sku")
    # Changing one's mind changes nothing.
    desk.get_by_role("link", name="Batal, tetap dilayani").click()
    expect(desk.get_by_role("row").filter(has_text=f"{sku} (SKU)")).to_contain_text("Dilayani")
    headers = {"Authorization": f"Bearer {journey.staff_token(KADES, PASSWORD)}"}
    route = journey.http.get(f"{base}/api/v1/routes/SKU", headers=headers).json()
    assert route["offered"] is True
