"""The decision page on an office screen (issue 15, items 4 and 7), through the whole stack:
at 1366x768 the decision buttons are in view without scrolling, the request reads in order
with dates in Indonesian, attachments are named by their syarat and the letter preview sits
beside them; the inbox says whose request it is; at the last step the Kades is told that
approving signs the letter, and afterwards that it was signed and sent; a desa that does not
sign with BSrE asks no passphrase; the kabupaten operator has an inbox of what was escalated
to them and opens it there."""

import asyncio
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Browser, Dialog, Locator, Page, ViewportSize, expect

from common.domain.events import APPLICATION_ESCALATED
from common.events import public_subject
from scripts.journey import Journey, sample_pdf, sample_png
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit, new_context
from tests.verification.events import PAMANUKAN, application_event

KASI = "pemerintahan.pamanukan"
SEKDES = "sekdes.pamanukan"
KADES = "kades.pamanukan"
DISKOMINFO = "diskominfo.subang"
SCREEN: ViewportSize = {"width": 1366, "height": 768}
ARRIVES_MS = 60_000
SKU = "Surat Keterangan Usaha"


def _resident(journey: Journey) -> str:
    """Siti, in Pamanukan's register with her phone: an SKU attests what the register says,
    and her sign-in code goes to the register's phone (issue 13)."""
    nik = f"321311550890{secrets.randbelow(9998) + 1:04d}"
    phone = f"0813{secrets.randbelow(10**8):08d}"
    operator = journey.staff_token("operator.pamanukan", PASSWORD)
    r = journey.http.post(
        f"{journey.ep.verification}/api/v1/residents",
        headers={"Authorization": f"Bearer {operator}"},
        json={
            "nik": nik,
            "name": "Siti Aminah",
            "sex": 2,
            "birth_place": "Subang",
            "birth_date": "1990-08-15",
            "address": "Dusun Krajan",
            "dusun": "Krajan",
            "rw": "001",
            "rt": "002",
            "phones": [phone],
        },
    )
    assert r.status_code == 201, r.text
    return journey.resident_sign_in(nik, phone)


def _sku(journey: Journey, token: str) -> str:
    """A Surat Keterangan Usaha with its four syarat, submitted."""
    app_id = journey.create_application(
        token,
        "Pengajuan kredit usaha rakyat",
        {
            "nama": "Siti Aminah",
            "tempat_lahir": "Subang",
            "tanggal_lahir": "1990-08-15",
            "jenis_kelamin": "P",
            "alamat": "Dusun Krajan",
            "rw": "001",
            "rt": "002",
            "nama_usaha": "Warung Bu Siti",
            "jenis_usaha": "Warung sembako",
            "alamat_usaha": "Jalan Raya Pamanukan 12",
        },
        letter_type="SKU",
    )
    for kind, name, content in (
        ("KTP", "ktp.png", sample_png()),
        ("KK", "kk.pdf", sample_pdf()),
        ("PENGANTAR_RT", "pengantar.pdf", sample_pdf()),
        ("FOTO_USAHA", "warung.png", sample_png()),
    ):
        r = journey.upload(token, app_id, kind, name, content)
        assert r.status_code == 201, r.text
    r = journey.submit(token, app_id)
    assert r.status_code == 202, r.text
    return app_id


def _at_the_kades(journey: Journey) -> str:
    """An SKU that the Kasi and the Sekdes approved: it waits on the Kades, who signs it."""
    app_id = _sku(journey, _resident(journey))
    for username, step in ((KASI, 0), (SEKDES, 1)):
        token = journey.staff_token(username, PASSWORD)
        journey.wait_for_task(token, app_id, step)
        r = journey.decide(token, app_id, "approve", step=step)
        assert r.status_code == 200, r.text
    journey.wait_for_task(journey.staff_token(KADES, PASSWORD), app_id, 2)
    return app_id


def _office(browser: Browser) -> Page:
    return new_context(browser, SCREEN).new_page()


def _sign_in(page: Page, base: str, username: str, visit: Visit) -> None:
    page.goto(f"{base}/kotak-masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
    visit.page(page, f"{username}-kotak-masuk")


def _in_view(page: Page, target: Locator) -> None:
    """Wholly inside the window as it opened: no scrolling needed to see or reach it."""
    # Laid out with its stylesheet: after a click the heading can be there before the CSS is,
    # and the unstyled page is thousands of pixels long (seen on a loaded machine).
    page.wait_for_load_state("load")
    box = target.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert page.evaluate("window.scrollY") == 0
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (box, size)


def test_the_kasi_decides_on_one_screen(
    stack: Stack, journey: Journey, browser: Browser, visit: Visit
) -> None:
    base = stack.endpoints.verification
    app_id = _sku(journey, _resident(journey))
    journey.wait_for_task(journey.staff_token(KASI, PASSWORD), app_id, 0)
    page = _office(browser)
    try:
        _sign_in(page, base, KASI, visit)
        # The inbox says whose request it is and which letter, in words.
        row = page.locator(f'li.tugas[data-id="{app_id}"]')
        expect(row).to_contain_text("Siti Aminah", timeout=ARRIVES_MS)
        expect(row.get_by_role("link", name=SKU)).to_be_visible()

        row.get_by_role("link", name=SKU).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(SKU)
        # The decision buttons are in view at once, at 1366x768, without scrolling.
        for name in ("Setujui", "Kembalikan untuk perbaikan", "Tolak"):
            button = page.get_by_role("button", name=name, exact=True)
            expect(button).to_be_visible()
            _in_view(page, button)
        # The request in reading order: name, NIK, birth, address with RT before RW, then the
        # letter's own fields; dates and codes in words.
        request = page.get_by_role("region", name="Isian permohonan")
        labels = request.locator("dt").all_inner_texts()
        order = ["Nama lengkap", "NIK pemohon", "Tempat lahir", "Tanggal lahir"]
        order += ["Jenis kelamin", "Alamat", "RT", "RW", "Nama usaha", "Keperluan"]
        assert [label for label in labels if label in order] == order, labels
        expect(request).to_contain_text("15 Agustus 1990")
        expect(request).to_contain_text("Perempuan")
        expect(request).not_to_contain_text("1990-08-15")
        expect(request).not_to_contain_text("TTTT")
        # Attachments named by their syarat, the letter preview beside them.
        attachments = page.get_by_role("region", name="Lampiran")
        headings = attachments.get_by_role("heading", level=3).all_inner_texts()
        assert headings == [
            "KTP pemohon",
            "Kartu Keluarga",
            "Surat pengantar RT/RW",
            "Foto tempat usaha",
        ]
        expect(attachments).not_to_contain_text("PENGANTAR_RT")
        preview = page.get_by_role("region", name="Pratinjau surat")
        a, p = attachments.bounding_box(), preview.bounding_box()
        assert a is not None and p is not None
        assert p["x"] >= a["x"] + a["width"] and abs(p["y"] - a["y"]) < 5, (a, p)
        visit.page(page, "permohonan-1366")
        # Scrolled to the foot of the page, the bar is still there.
        page.mouse.wheel(0, 5000)
        expect(page.get_by_role("button", name="Tolak", exact=True)).to_be_in_viewport()
    finally:
        page.context.close()


def test_the_kades_is_told_that_approving_signs_the_letter(
    stack: Stack, journey: Journey, browser: Browser, visit: Visit
) -> None:
    base = stack.endpoints.verification
    app_id = _at_the_kades(journey)
    page = _office(browser)
    try:
        _sign_in(page, base, KADES, visit)
        page.goto(f"{base}/permohonan/{app_id}")
        notice = page.locator("#info-tanda-tangan")
        expect(notice).to_contain_text("Menyetujui berarti menandatangani surat ini.")
        expect(notice).to_contain_text("dikirim ke pemohon")
        sign = page.get_by_role("button", name="Setujui dan tandatangani")
        _in_view(page, sign)
        visit.page(page, "kades-menandatangani")
        asked: list[str] = []

        def accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        sign.click()
        expect(page).to_have_url(f"{base}/kotak-masuk?selesai=ditandatangani")
        expect(page.get_by_role("status").first).to_have_text(
            "Surat telah ditandatangani dan dikirim ke pemohon."
        )
        assert asked == [
            "Anda akan menandatangani surat ini secara elektronik. Surat langsung terbit dan "
            "dikirim ke pemohon. Tandatangani sekarang?"
        ]
        visit.page(page, "kades-sudah-menandatangani")
    finally:
        page.context.close()


def test_a_desa_not_signing_with_bsre_asks_no_passphrase(
    stack: Stack, journey: Journey, browser: Browser, visit: Visit
) -> None:
    """The dev stack's desa sign with a local key (signing's GetSigner says "local")."""
    base = stack.endpoints.verification
    app_id = _at_the_kades(journey)
    page = _office(browser)
    try:
        _sign_in(page, base, KADES, visit)
        page.goto(f"{base}/permohonan/{app_id}")
        expect(page.get_by_role("button", name="Setujui dan tandatangani")).to_be_visible()
        expect(page.locator('input[name="passphrase"]')).to_have_count(0)
        expect(page.get_by_text("BSrE")).to_have_count(0)
        visit.page(page, "tanpa-passphrase")
    finally:
        page.context.close()


async def _escalate_to_kabupaten(nats_url: str, app_id: str) -> None:
    """What the workflow publishes when the Kades step's deadline passes (escalation to the
    kabupaten operator), sent as the public event the inbox projects; the workflow itself
    stays on its own clock, so it still judges any decision."""
    import nats

    from common.messaging import publish

    nc = await nats.connect(nats_url)
    try:
        event = application_event(
            APPLICATION_ESCALATED,
            app_id,
            step_index=2,
            step_role="kades",
            escalated_to_role="kabupaten_operator",
            escalation_level=1,
            letter_type="SKU",
        )
        await publish(nc.jetstream(), public_subject(PAMANUKAN, event.name), event)
    finally:
        await nc.close()


def test_the_kabupaten_operator_has_an_inbox_of_escalated_letters(
    stack: Stack, journey: Journey, browser: Browser, visit: Visit
) -> None:
    base = stack.endpoints.verification
    app_id = _at_the_kades(journey)
    page = _office(browser)
    try:
        _sign_in(page, base, DISKOMINFO, visit)
        expect(page.get_by_text("Fitur ini hanya untuk staf desa")).to_have_count(0)
        row = page.locator(f'li.tugas[data-id="{app_id}"]')
        expect(row).to_have_count(0)  # not escalated yet: the desa's own
        opened = page.goto(f"{base}/permohonan/{app_id}")
        assert opened is not None and opened.status == 404

        # Playwright's sync API holds this thread's event loop: publish from another thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _escalate_to_kabupaten(stack.nats_url, app_id)).result()
        # Its inbox does not refresh by itself (no event stream across desa): reload until the
        # projection has the escalation.
        page.goto(f"{base}/kotak-masuk")
        deadline = time.monotonic() + ARRIVES_MS / 1000
        while True:
            try:
                expect(row).to_be_visible(timeout=3_000)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                page.reload()
        expect(row).to_contain_text("Desa Pamanukan, Kec. Pamanukan")
        expect(row).to_contain_text("Dieskalasi")
        expect(row).not_to_contain_text("Siti")  # no applicant's name in the kabupaten's list
        visit.page(page, "kabupaten-kotak-masuk")

        row.get_by_role("link", name=SKU).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(SKU)
        expect(page.get_by_role("region", name="Isian permohonan")).to_contain_text(
            "Desa Pamanukan, Kec. Pamanukan"
        )
        # The last approval signs the letter: not theirs to give; the other two are.
        expect(page.locator("#info-tanda-tangan")).to_contain_text(
            "hanya penandatangan desa yang dapat melakukannya"
        )
        expect(page.get_by_role("button", name="Setujui", exact=True)).to_have_count(0)
        _in_view(page, page.get_by_role("button", name="Tolak", exact=True))
        visit.page(page, "kabupaten-permohonan")
        # The workflow judges the decision: here it has not escalated the step itself (its
        # deadline is days away), so it refuses, in words, and nothing changes.
        page.get_by_label("Alasan (wajib untuk perbaikan atau penolakan)").fill(
            "Pengantar RT tidak terbaca."
        )
        page.get_by_role("button", name="Kembalikan untuk perbaikan").click()
        expect(page.get_by_role("alert")).to_contain_text("Keputusan tidak dapat disimpan")
        expect(page.get_by_role("alert")).to_contain_text("Kepala Desa")
        visit.page(page, "kabupaten-ditolak-alur")
    finally:
        page.context.close()
