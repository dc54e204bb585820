"""The whole journey of one letter, by clicking only, in the real browser.

A resident on a 360-px phone signs in with NIK and the one-time code, chooses the Surat
Keterangan Domisili (default route Kasi Pemerintahan -> Sekdes -> Kades), reads its syarat,
fills it, uploads the documents and submits; the Kasi Pemerintahan opens it from the inbox,
looks at the attachments and the letter preview, and returns it for revision; the resident
reads the reason, fixes a field and a document, and sends it back; the Kasi, the Sekdes and the
Kades approve it, each in their own browser; the resident downloads the signed letter, whose
signature the public verification service accepts, and opens the letter's verification page.

Only the pages drive the journey: the APIs are read, never written (the one-time code from the
dev WhatsApp/SMS sink, the downloaded PDF checked by the verification service).
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from scripts.journey import PAMANUKAN, Journey, sample_pdf, sample_png, wait_until
from tests.browser.resident_messages import told_and_shown
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import DESK, Visit, new_context

# Kecamatan Pamanukan (32.13.11), a woman born 27-06-1988 (day + 40), serial 0707: used by no
# other test, so its code limit and its applications are this test's alone.
NIK = "3213116706880707"
PHONE = "081377660707"
KASI = "pemerintahan.pamanukan"
SEKDES = "sekdes.pamanukan"
KADES = "kades.pamanukan"
REASON = "Alamat belum mencantumkan RT dan RW; mohon dilengkapi."
FIXED_ADDRESS = "Dusun Sukamaju RT 004 RW 002"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The workflow moves between the pages (intake -> Temporal -> outboxes -> NATS -> the task
# projection, and signing at the end); on a busy machine that may take a while.
MOVES_WITHIN_S = 120.0
LOOK_MS = 5_000


def _until_visible(page: Page, target: Locator, within: float = MOVES_WITHIN_S) -> None:
    """`expect` polls the page as it is; when the change comes from elsewhere (the workflow),
    the page is reloaded between rounds until it shows it."""
    deadline = time.monotonic() + within
    while True:
        try:
            expect(target).to_be_visible(timeout=LOOK_MS)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def _accept_confirmations(page: Page) -> list[str]:
    """`Setujui` asks first (window.confirm); the officer says yes. Returns what was asked."""
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


@contextmanager
def _office_browser(browser: Browser) -> Iterator[Page]:
    """Another officer's own browser at the desa office (cookies of nobody else)."""
    context = new_context(browser, DESK)
    try:
        yield context.new_page()
    finally:
        context.close()


def _staff_signs_in(page: Page, base: str, username: str, visit: Visit, name: str) -> None:
    page.goto(f"{base}/kotak-masuk")
    expect(page).to_have_url(f"{base}/masuk?lanjut=/kotak-masuk")
    visit.page(page, f"{name}-masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
    expect(page.get_by_role("button", name=f"Keluar ({username})")).to_be_visible()
    visit.page(page, f"{name}-kotak-masuk")


def _opens_from_inbox(
    page: Page, base: str, app_id: str, step: int, visit: Visit, name: str
) -> None:
    """The task waits in the inbox (the list refreshes by itself; reloaded if need be); the
    officer opens it by its link."""
    row = page.locator(f'li.tugas[data-id="{app_id}"]').filter(has_text=f"Tahap {step}:")
    _until_visible(page, row)
    visit.page(page, f"{name}-tugas-tiba")
    row.get_by_role("link", name="Surat Keterangan Domisili").click()
    expect(page).to_have_url(f"{base}/permohonan/{app_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Domisili")
    visit.page(page, f"{name}-permohonan")


def _approves(page: Page, base: str, visit: Visit, name: str, *, signs: bool = False) -> None:
    asked = _accept_confirmations(page)
    # The step is open for a decision (a task shown a moment early gets its form on reload).
    _until_visible(page, page.get_by_role("region", name="Keputusan"))
    if signs:  # the last step: approving signs the letter, and the Kades is told so
        expect(page.locator("#info-tanda-tangan")).to_contain_text(
            "Menyetujui berarti menandatangani surat ini."
        )
        page.get_by_role("button", name="Setujui dan tandatangani").click()
        expect(page).to_have_url(f"{base}/kotak-masuk?selesai=ditandatangani")
        expect(page.get_by_role("status").first).to_have_text(
            "Surat telah ditandatangani dan dikirim ke pemohon."
        )
        assert len(asked) == 1 and "menandatangani surat ini" in asked[0]
    else:
        page.get_by_role("button", name="Setujui", exact=True).click()
        expect(page).to_have_url(f"{base}/kotak-masuk?selesai=setujui")
        expect(page.get_by_role("status").first).to_contain_text("Permohonan disetujui")
        assert asked == ["Setujui permohonan ini?"]
    visit.page(page, f"{name}-setelah-setuju")


_REQUIREMENTS = {"KTP": "KTP pemohon", "KK": "Kartu Keluarga"}


def _uploads(page: Page, name: str, kind: str, path: Path) -> None:
    page.get_by_label(f"{name}: {_REQUIREMENTS[kind]}").set_input_files(path)
    expect(page.locator(f"#teks-{kind}")).to_contain_text("Berkas terunggah", timeout=60_000)
    expect(page.locator(f'[data-keadaan="{kind}"]')).to_contain_text("Sudah diunggah")


def test_the_whole_journey_by_clicking(
    stack: Stack,
    journey: Journey,
    browser: Browser,
    phone: Page,
    desk: Page,
    visit: Visit,
    tmp_path: Path,
) -> None:
    portal = stack.endpoints.intake
    office = stack.endpoints.verification
    ktp = tmp_path / "ktp.png"
    ktp.write_bytes(sample_png())
    kk = tmp_path / "kk.pdf"
    kk.write_bytes(sample_pdf())
    ktp_again = tmp_path / "ktp-jelas.png"
    ktp_again.write_bytes(sample_png(64, 40))

    # -- 1. The resident signs in, chooses the letter, fills it, uploads and submits -----------
    phone.goto(f"{portal}/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Urus surat desa dari HP Anda")
    visit.page(phone, "beranda")
    phone.get_by_role("link", name="Masuk dengan NIK").click()
    expect(phone).to_have_url(f"{portal}/masuk")
    visit.page(phone, "masuk")
    phone.get_by_label("NIK").fill(NIK)
    phone.get_by_label("Nomor HP").fill(PHONE)
    before = len(journey.dev_messages(PHONE))
    phone.get_by_role("button", name="Kirim kode masuk").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Masukkan kode masuk")
    expect(phone.get_by_label("Kode masuk")).to_be_focused()  # ready for the code
    visit.page(phone, "masuk-kode")

    def code() -> str | None:
        messages = journey.dev_messages(PHONE)  # the phone's WhatsApp/SMS, read only
        if len(messages) <= before:
            return None
        found = re.search(r"\b(\d{6})\b", messages[0]["body"])
        return found.group(1) if found else None

    phone.get_by_label("Kode masuk").fill(wait_until("the one-time code", code))
    phone.get_by_role("button", name="Masuk", exact=True).click()
    expect(phone).to_have_url(f"{portal}/permohonan")
    visit.page(phone, "permohonan-saya")

    phone.get_by_role("link", name="Ajukan surat baru").click()
    expect(phone).to_have_url(f"{portal}/permohonan/baru")
    domisili = phone.get_by_role("region", name="Surat Keterangan Domisili", exact=True)
    expect(domisili.get_by_text("KTP pemohon")).to_be_visible()  # its syarat, read first
    expect(domisili.get_by_text("Kartu Keluarga")).to_be_visible()
    visit.page(phone, "pilih-surat")
    domisili.get_by_role("link", name="Ajukan Surat Keterangan Domisili", exact=True).click()
    expect(phone).to_have_url(f"{portal}/permohonan/baru/SKD")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Domisili")
    visit.page(phone, "isi-surat")

    # The desa list starts with her own kecamatan (from the NIK: 32.13.11, Pamanukan).
    desa = phone.get_by_label("Desa tujuan")
    expect(desa.locator("optgroup").first).to_have_attribute(
        "label", "Kecamatan Pamanukan (kecamatan Anda)"
    )
    desa.select_option(PAMANUKAN)
    phone.get_by_label("Keperluan").fill("Persyaratan membuka rekening bank")
    phone.get_by_label("Nama lengkap").fill("Ratna Sari Dewi")
    phone.get_by_label("Tempat lahir").fill("Subang")
    # The phone's own date picker; the day it holds is written out beside it.
    born = phone.get_by_label("Tanggal lahir")
    expect(born).to_have_attribute("type", "date")
    born.fill("1988-06-27")
    expect(phone.locator("#f-isian_tanggal_lahir-kata")).to_have_text("27 Juni 1988")
    phone.get_by_label("Jenis kelamin").select_option(label="Perempuan")
    visit.page(phone, "isi-surat-terisi")
    phone.get_by_role("textbox", name="Alamat", exact=True).fill("Dusun Sukamaju")
    phone.get_by_role("button", name="Simpan dan lanjut unggah syarat").click()
    expect(phone).to_have_url(re.compile(re.escape(portal) + f"/permohonan/{UUID}$"))
    app_id = phone.url.rsplit("/", 1)[1]
    expect(phone.locator("#status")).to_have_text("Draf, belum diajukan")
    visit.page(phone, "draf")

    _uploads(phone, "Pilih foto atau PDF", "KTP", ktp)
    _uploads(phone, "Pilih foto atau PDF", "KK", kk)
    visit.page(phone, "syarat-terunggah")
    phone.get_by_role("button", name="Ajukan").click()
    expect(phone.get_by_role("status")).to_contain_text("Permohonan sudah diajukan")
    expect(phone.locator("#status")).to_have_text("Sedang diperiksa")
    timeline = phone.locator(".garis-waktu")
    expect(timeline).to_contain_text("Permohonan diterima dengan nomor SKD-")
    # It waits on the Kasi Pemerintahan (once the workflow assigned the first step): the page
    # opens with the step and its deadline.
    _until_visible(phone, timeline.get_by_text("Sekarang diperiksa oleh Kasi Pemerintahan"))
    expect(phone.locator("#sekarang")).to_contain_text(
        "Sekarang diperiksa oleh Kasi Pemerintahan. Batas waktu:"
    )
    # What the phone was told is on the page, in the same words.
    told_and_shown(journey, PHONE, phone, "Permohonan diterima dengan nomor")
    visit.page(phone, "diajukan")

    # -- 2. The Kasi opens it, looks at the documents and the preview, returns it -------------
    _staff_signs_in(desk, office, KASI, visit, "kasi")
    _opens_from_inbox(desk, office, app_id, 1, visit, "kasi")
    expect(desk.get_by_text("Persyaratan membuka rekening bank")).to_be_visible()
    expect(desk.get_by_text("Dusun Sukamaju", exact=True)).to_be_visible()
    lampiran = desk.get_by_role("region", name="Lampiran")
    expect(lampiran.get_by_role("img", name="Lampiran KTP pemohon")).to_be_visible()
    expect(lampiran.locator('iframe[title="Lampiran Kartu Keluarga (PDF)"]')).to_be_visible()
    preview = desk.get_by_role("region", name="Pratinjau surat")
    expect(preview.locator('iframe[title="Pratinjau surat (PDF)"]')).to_be_visible()
    for frame in (
        lampiran.locator('iframe[title="Lampiran Kartu Keluarga (PDF)"]'),
        preview.locator('iframe[title="Pratinjau surat (PDF)"]'),
    ):
        src = frame.get_attribute("src")
        assert src is not None
        shown = desk.request.get(f"{office}{src}")  # what the frame shows, with the page's cookie
        assert shown.status == 200 and shown.body().startswith(b"%PDF-")
    zoom = lampiran.get_by_role("button", name="Perbesar lampiran KTP pemohon")
    zoom.click()
    expect(zoom).to_have_attribute("aria-pressed", "true")
    visit.page(desk, "kasi-lampiran-diperbesar")

    desk.get_by_label("Alasan (wajib untuk perbaikan atau penolakan)").fill(REASON)
    desk.get_by_role("button", name="Kembalikan untuk perbaikan").click()
    expect(desk).to_have_url(f"{office}/kotak-masuk?selesai=perbaikan")
    expect(desk.get_by_role("status").first).to_contain_text("dikembalikan kepada pemohon")
    visit.page(desk, "kasi-setelah-perbaikan")

    # -- 3. The resident reads the reason, fixes the address and the KTP photo, resubmits -----
    _until_visible(phone, phone.get_by_role("heading", name="Permohonan perlu diperbaiki"))
    expect(phone.locator("#status")).to_have_text("Perlu perbaikan")
    expect(phone.get_by_text(f"Yang perlu diperbaiki: {REASON}").first).to_be_visible()
    expect(timeline).to_contain_text("Dikembalikan untuk perbaikan.")
    expect(timeline).to_contain_text("oleh Kasi Pemerintahan")
    expect(timeline).to_contain_text(REASON)
    told_and_shown(journey, PHONE, phone, "Dikembalikan untuk perbaikan")
    visit.page(phone, "perlu-perbaikan")

    phone.get_by_role("textbox", name="Alamat", exact=True).fill(FIXED_ADDRESS)
    phone.get_by_role("button", name="Simpan isian").click()
    expect(phone.get_by_role("status")).to_contain_text("Perubahan isian sudah disimpan")
    expect(phone.get_by_role("textbox", name="Alamat", exact=True)).to_have_value(FIXED_ADDRESS)
    _uploads(phone, "Ganti berkas", "KTP", ktp_again)
    visit.page(phone, "diperbaiki")
    phone.get_by_role("button", name="Kirim perbaikan").click()
    expect(phone.get_by_role("status")).to_contain_text("Perbaikan sudah dikirim")
    expect(phone.locator("#status")).to_have_text("Sedang diperiksa")
    expect(timeline).to_contain_text("Perbaikan dikirim ulang")
    visit.page(phone, "perbaikan-dikirim")

    # -- 4. Three approvals: the Kasi, then the Sekdes and the Kades in their own browsers ----
    menu = desk.get_by_role("navigation", name="Menu utama")
    menu.get_by_role("link", name="Kotak masuk").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
    _opens_from_inbox(desk, office, app_id, 1, visit, "kasi-lagi")
    expect(desk.get_by_text(FIXED_ADDRESS, exact=True)).to_be_visible()
    expect(desk.get_by_role("region", name="Riwayat")).to_contain_text(
        "Diajukan kembali setelah perbaikan"
    )
    _approves(desk, office, visit, "kasi")
    # The second step reached: one short line on the phone, the same line on the page.
    told_and_shown(journey, PHONE, phone, "Sekarang diperiksa oleh Sekretaris Desa")
    visit.page(phone, "di-sekdes")

    for username, step, name in ((SEKDES, 2, "sekdes"), (KADES, 3, "kades")):
        with _office_browser(browser) as page:
            _staff_signs_in(page, office, username, visit, name)
            _opens_from_inbox(page, office, app_id, step, visit, name)
            expect(page.get_by_role("region", name="Riwayat")).to_contain_text("Disetujui")
            _approves(page, office, visit, name, signs=name == "kades")

    # -- 5. The letter is issued: downloaded, its signature checked, its page opened ---------
    _until_visible(phone, phone.get_by_role("heading", name="Surat Anda sudah terbit"))
    expect(phone.locator("#status")).to_have_text("Surat sudah terbit")
    expect(timeline).to_contain_text("Disetujui oleh Kepala Desa")
    expect(timeline).to_contain_text("Surat sudah terbit dengan nomor")
    told_and_shown(journey, PHONE, phone, "Surat sudah terbit dengan nomor")
    visit.page(phone, "surat-terbit")

    with phone.expect_download() as download:
        phone.get_by_role("link", name="Unduh surat").click()
    assert download.value.suggested_filename.endswith(".pdf")
    letter = Path(download.value.path()).read_bytes()
    assert letter.startswith(b"%PDF-")
    verdict = journey.verify_pdf(letter)  # the public verification service, as anyone may
    assert verdict["conclusion"] == "valid", verdict
    number = verdict["registered"]["number"]
    expect(phone.get_by_text(f"Nomor surat: {number}")).to_be_visible()

    check = phone.get_by_role("link", name="halaman verifikasi surat")
    expect(check).to_have_attribute(
        "href", re.compile(re.escape(stack.endpoints.signing) + r"/verifikasi/[^/]+$")
    )
    check.click()
    expect(phone).to_have_url(re.compile(re.escape(stack.endpoints.signing) + "/verifikasi/"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Surat ini asli dan tercatat")
    expect(phone.get_by_text(number, exact=True)).to_be_visible()
    expect(phone.get_by_text("Berlaku", exact=True)).to_be_visible()
    visit.page(phone, "verifikasi-surat")
    # The holder checks the PDF they were given on the same page, and is answered in words.
    phone.get_by_label("Berkas PDF surat", exact=True).set_input_files(download.value.path())
    phone.get_by_role("button", name="Periksa berkas").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Berkas ini asli")
    expect(phone.get_by_text(number).first).to_be_visible()
    visit.page(phone, "verifikasi-berkas")
