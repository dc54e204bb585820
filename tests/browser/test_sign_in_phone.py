"""The operator's sign-in pages in the real browser (issue 13 item 6): a resident who changed
SIM card has the number changed at the office after an in-person check, and then signs in
with the new number only; the list of phones bound by family knowledge. Every page visited is
checked with axe-core and at 360 px."""

import httpx
from playwright.sync_api import Page, expect

from scripts.journey import Journey
from tests.browser.test_walk_in import OPERATOR, sign_in
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit

# A resident of Pamanukan nobody else in the browser tests uses (woman born 09-09-1991).
NIK = "3213114909910009"
OLD_PHONE = "081377700991"
NEW_PHONE = "085277700991"


def test_the_operator_changes_a_residents_phone_at_the_office(
    stack: Stack, journey: Journey, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    operator = journey.staff_token(OPERATOR, PASSWORD)
    created = journey.http.post(
        f"{base}/api/v1/residents",
        headers={"Authorization": f"Bearer {operator}"},
        json={
            "nik": NIK,
            "name": "Wati Kurniasih",
            "sex": 2,
            "dusun": "Krajan",
            "rw": "001",
            "rt": "003",
            "phones": [OLD_PHONE],
        },
    )
    assert created.status_code == 201, created.text
    resident_id = created.json()["id"]
    old_token = journey.resident_sign_in(NIK, OLD_PHONE)

    sign_in(desk, base, OPERATOR, visit, "nomor-hp")
    desk.goto(f"{base}/penduduk/{resident_id}/nomor-hp")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Ganti nomor HP: Wati Kurniasih")
    visit.page(desk, "ganti-nomor-hp")
    desk.get_by_label("Nomor HP baru").fill(NEW_PHONE)
    desk.get_by_role("button", name="Ganti nomor HP").click()
    expect(desk.get_by_role("alert").first).to_contain_text("diperiksa langsung")
    visit.page(desk, "ganti-nomor-hp-belum-diperiksa")
    desk.get_by_label("Saya telah memeriksa KTP dan KK warga ini secara langsung").check()
    desk.get_by_role("button", name="Ganti nomor HP").click()
    expect(desk.get_by_text("Nomor HP diganti")).to_be_visible()
    visit.page(desk, "ganti-nomor-hp-selesai")

    # The old number's session ended; the new number signs in.
    r = httpx.get(
        f"{stack.endpoints.intake}/api/v1/applications",
        headers={"Authorization": f"Bearer {old_token}"},
    )
    assert r.status_code == 401
    journey.resident_sign_in(NIK, NEW_PHONE)

    desk.goto(f"{base}/masuk-warga")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Nomor HP masuk warga")
    visit.page(desk, "nomor-hp-masuk-warga")
