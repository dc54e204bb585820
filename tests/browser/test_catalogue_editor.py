"""The letter catalogue's editor in the real browser, with its script: a placeholder button puts
the placeholder at the caret of the text last chosen, and the preview follows the text (the
draft is saved as typed, its problem shown instead of the preview while there is one). The draft
is discarded at the end; nothing is published, so other page tests see the seed catalogue."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit

CODE = "SKBP"  # a seed type no other page test issues


def test_placeholders_go_in_at_the_caret_and_the_preview_follows(
    stack: Stack, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    desk.goto(f"{base}/kabupaten/katalog/{CODE}")
    desk.get_by_label("Nama pengguna").fill("diskominfo.subang")
    desk.get_by_label("Kata sandi").fill(PASSWORD)
    desk.get_by_role("button", name="Masuk").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text(f"({CODE})")
    preview = desk.locator("[data-pratinjau]")
    expect(preview).to_be_visible()
    visit.page(desk, "editor")

    text = desk.get_by_label("Teks blok 2", exact=True)
    text.fill("Awal akhir")
    text.evaluate("t => { t.focus(); t.setSelectionRange(5, 5); }")
    desk.locator("[data-palet]").get_by_role("button", name="{desa.nama}").click()
    expect(text).to_have_value("Awal {desa.nama}akhir")
    # Saved by the script, and the preview is fetched again.
    expect(desk.locator("[data-pratinjau]")).to_have_attribute("src", re.compile(r"\?t=\d+"))

    text.fill("Awal { akhir")
    expect(desk.locator("#masalah-draf")).to_contain_text("Belum dapat diterbitkan")
    visit.page(desk, "editor-masalah")

    desk.get_by_role("button", name="Buang draf").click()
    expect(desk.get_by_text("Yang tampil adalah versi yang berlaku")).to_be_visible()
