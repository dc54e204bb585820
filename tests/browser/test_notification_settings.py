"""The portal's notification settings on a 360-px phone, axe on each page: from "Permohonan
saya" the resident opens Pengaturan pemberitahuan, switches off the one short line at each
step (issue 15 item 1), saves, and finds it off, in notification's store too (its API)."""

import httpx
from playwright.sync_api import Page, expect

from scripts.journey import Journey
from tests.browser.test_portal_application import sign_in
from tests.e2e.test_journey import Stack
from tests.support.browser import Visit

NIK = "3213115203930011"  # Kecamatan Pamanukan, woman born 12-03-1993 (no other test uses it)
PHONE = "081299001234"


def test_a_resident_switches_off_the_step_lines(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    token = sign_in(journey, phone, base, NIK, PHONE)
    phone.goto(f"{base}/permohonan")
    phone.get_by_role("link", name="Pengaturan pemberitahuan").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Pengaturan pemberitahuan")
    step_lines = phone.get_by_label("Kirim satu pesan singkat", exact=False)
    expect(step_lines).to_be_checked()
    visit.page(phone, "pengaturan-pemberitahuan")

    step_lines.uncheck()
    phone.get_by_label("Email", exact=True).uncheck()
    phone.get_by_role("button", name="Simpan pengaturan").click()
    expect(phone.get_by_role("status")).to_have_text("Pengaturan pemberitahuan sudah disimpan.")
    expect(step_lines).not_to_be_checked()
    expect(phone.get_by_label("WhatsApp", exact=True)).to_be_checked()
    visit.page(phone, "pengaturan-pemberitahuan-tersimpan")

    # Notification's own API, with the same resident's token, reads what the page stored.
    stored = httpx.get(
        f"{stack.endpoints.notification}/api/v1/preferences",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["step_updates"] is False
    assert stored.json()["channels"] == ["whatsapp", "sms"]
