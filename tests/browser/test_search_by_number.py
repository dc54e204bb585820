"""Search by application number in the real browser (issue 15, item 2): the Kasi types the
number as the resident reads it out over the phone (lower case, spaces around) into "Cari
nomor permohonan" on the inbox and lands on the application; a number that is not theirs gets
"Nomor permohonan tidak ditemukan" beside the field. Both pages pass axe-core."""

from playwright.sync_api import Page, expect

from scripts.journey import Journey
from tests.browser.test_staff_inbox import KASI, _resident, _sign_in, _submitted_application
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit


def test_the_kasi_finds_an_application_by_the_number_read_out(
    stack: Stack, journey: Journey, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    app_id = _submitted_application(
        journey, _resident(journey), "Persyaratan membuka rekening bank"
    )
    task = journey.wait_for_task(journey.staff_token(KASI, PASSWORD), app_id, 0)
    number = task["application_number"]
    assert number

    _sign_in(desk, base, KASI, visit, "kotak-masuk-cari")
    search = desk.get_by_role("textbox", name="Cari nomor permohonan")
    search.fill("SKU-1999-999999")
    desk.get_by_role("button", name="Cari", exact=True).click()
    expect(desk.locator("#f-nomor-galat")).to_have_text("Nomor permohonan tidak ditemukan.")
    expect(search).to_have_value("SKU-1999-999999")
    visit.page(desk, "kotak-masuk-cari-tidak-ditemukan")

    search.fill(f"  {number.lower()} ")
    desk.get_by_role("button", name="Cari", exact=True).click()
    expect(desk).to_have_url(f"{base}/permohonan/{app_id}")
    expect(desk.get_by_text(number).first).to_be_visible()
