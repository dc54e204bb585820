"""The Kasi's working day in the real browser, through the whole stack: the inbox (deadline in
working time, filters, refreshed by itself over server-sent events when a new application
arrives), the application page (request beside attachments, letter preview, timeline), the
workflow's refusal shown plainly, a return for revision with its reason required, and the
keyboard shortcuts; staff of another desa and residents cannot open the page."""

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from scripts.journey import Journey, sample_pdf, sample_png
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit

KASI = "pemerintahan.pamanukan"
OTHER_DESA = "kades.rancasari"
# The whole chain (intake -> workflow -> intake's outbox -> NATS -> the task projection) may
# take a while on a busy machine; `expect` polls until then.
ARRIVES_MS = 60_000


def _resident(journey: Journey) -> str:
    """A fresh resident of Kecamatan Pamanukan (a structurally valid NIK), signed in by OTP."""
    nik = f"321311550890{secrets.randbelow(9998) + 1:04d}"
    phone = f"0813{secrets.randbelow(10**8):08d}"
    return journey.resident_sign_in(nik, phone)


def _submitted_application(journey: Journey, token: str, purpose: str) -> str:
    app_id = journey.create_application(
        token,
        purpose,
        {"nama": "Siti Aminah", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "P"},
    )
    for kind, name, content in (("KTP", "ktp.png", sample_png()), ("KK", "kk.pdf", sample_pdf())):
        r = journey.upload(token, app_id, kind, name, content)
        assert r.status_code == 201, r.text
    r = journey.submit(token, app_id)
    assert r.status_code == 202, r.text
    return app_id


@pytest.fixture
def resident(journey: Journey) -> Iterator[str]:
    yield _resident(journey)


def _sign_in(page: Page, base: str, username: str, visit: Visit, name: str) -> None:
    page.goto(f"{base}/kotak-masuk")
    expect(page).to_have_url(f"{base}/masuk?lanjut=/kotak-masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
    visit.page(page, name)


def _row(page: Page, app_id: str) -> Locator:
    return page.locator(f'li.tugas[data-id="{app_id}"]')


def test_the_kasi_works_through_the_inbox(
    stack: Stack, journey: Journey, resident: str, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    first = _submitted_application(journey, resident, "Persyaratan membuka rekening bank")
    kasi_token = journey.staff_token(KASI, PASSWORD)
    journey.wait_for_task(kasi_token, first, 0)

    # -- the inbox: the task, how long it waited, its deadline in working time ---------------
    _sign_in(desk, base, KASI, visit, "kotak-masuk")
    row = _row(desk, first)
    expect(row.get_by_role("link", name="Surat Keterangan Domisili")).to_be_visible()
    expect(row).to_contain_text("Menunggu")
    expect(row).to_contain_text(re.compile(r"(Sisa|Terlambat) .*kerja"))
    expect(row).to_contain_text("WIB")
    expect(desk.locator("#pintasan kbd").first).to_be_visible()

    # Filters are a plain GET form.
    desk.get_by_label("Keadaan").select_option("tertahan")
    desk.get_by_role("button", name="Terapkan saringan").click()
    expect(desk).to_have_url(re.compile(r"keadaan=tertahan"))
    expect(row).to_have_count(0)
    visit.page(desk, "kotak-masuk-saringan")
    desk.get_by_role("link", name="Hapus saringan").click()
    desk.get_by_label("Jenis surat").select_option("SKD")
    desk.get_by_role("button", name="Terapkan saringan").click()
    expect(desk).to_have_url(re.compile(r"jenis=SKD"))
    expect(row).to_be_visible()

    # -- a new application arrives while the page is open: the list refreshes by itself -----
    expect(desk.locator("#wilayah-daftar")).to_have_attribute("data-tersambung", "ya")
    desk.evaluate("window.__belumDimuatUlang = true")
    second = _submitted_application(journey, resident, "Persyaratan melamar pekerjaan")
    expect(_row(desk, second)).to_be_visible(timeout=ARRIVES_MS)
    expect(desk.locator("#pengumuman")).to_contain_text("Kotak masuk diperbarui")
    assert desk.evaluate("window.__belumDimuatUlang === true")  # swapped in, not reloaded
    visit.page(desk, "kotak-masuk-diperbarui")

    # -- the application page -----------------------------------------------------------------
    row.get_by_role("link").click()
    expect(desk).to_have_url(f"{base}/permohonan/{first}")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Domisili")
    expect(desk.get_by_text("Persyaratan membuka rekening bank")).to_be_visible()
    image = desk.get_by_role("img", name="Lampiran KTP pemohon")
    expect(image).to_be_visible()
    zoom = desk.get_by_role("button", name="Perbesar lampiran KTP pemohon")
    zoom.click()
    expect(zoom).to_have_attribute("aria-pressed", "true")
    expect(desk.locator('iframe[title="Lampiran Kartu Keluarga (PDF)"]')).to_be_attached()
    expect(desk.locator('iframe[title="Pratinjau surat (PDF)"]')).to_be_attached()
    for src in (
        desk.locator('iframe[title="Lampiran Kartu Keluarga (PDF)"]').get_attribute("src"),
        desk.locator('iframe[title="Pratinjau surat (PDF)"]').get_attribute("src"),
    ):
        assert src is not None
        framed = desk.request.get(f"{base}{src}")  # the page's own cookie
        assert framed.status == 200
        assert framed.headers["content-type"] == "application/pdf"
        assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    timeline = desk.get_by_role("region", name="Riwayat")
    expect(timeline).to_contain_text("Permohonan diajukan")
    expect(timeline).to_contain_text("Menunggu keputusan")
    visit.page(desk, "permohonan")

    # -- a second tab decides first (keyboard: s, confirmed); the first tab is refused -------
    other_tab = desk.context.new_page()
    other_tab.goto(f"{base}/permohonan/{first}")
    expect(other_tab.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Domisili")
    visit.page(other_tab, "permohonan-tab-kedua")
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    other_tab.on("dialog", accept)
    other_tab.keyboard.press("s")
    expect(other_tab).to_have_url(f"{base}/kotak-masuk?selesai=setujui")
    expect(other_tab.get_by_role("status").first).to_contain_text("Permohonan disetujui")
    assert asked == ["Setujui permohonan ini?"]
    visit.page(other_tab, "kotak-masuk-setelah-setuju")
    other_tab.close()

    desk.get_by_label("Alasan (wajib untuk perbaikan atau penolakan)").fill("Foto KTP buram.")
    desk.get_by_role("button", name="Kembalikan untuk perbaikan").click()
    alert = desk.get_by_role("alert")
    expect(alert).to_contain_text("Keputusan tidak dapat disimpan")
    expect(alert).to_contain_text("Langkah ini sudah tidak menunggu keputusan")
    # Nothing typed is lost: the step moved on, so the reason is kept to copy.
    expect(desk.get_by_label("Alasan yang Anda tulis (belum tersimpan)")).to_have_value(
        "Foto KTP buram."
    )
    visit.page(desk, "permohonan-ditolak-alur")

    # -- keyboard: j/k to the second application, Enter, p, reason required, Ctrl+Enter ------
    desk.goto(f"{base}/kotak-masuk")
    visit.page(desk, "kotak-masuk-lagi")
    expect(_row(desk, second)).to_be_visible()
    count = desk.locator("li.tugas").count()
    for _ in range(count):
        desk.keyboard.press("j")
        if desk.locator("li.tugas.terpilih").get_attribute("data-id") == second:
            break
    expect(desk.locator("li.tugas.terpilih")).to_have_attribute("data-id", second)
    desk.keyboard.press("Enter")
    expect(desk).to_have_url(f"{base}/permohonan/{second}")
    visit.page(desk, "permohonan-kedua")

    reason = desk.get_by_label("Alasan (wajib untuk perbaikan atau penolakan)")
    desk.keyboard.press("?")
    expect(desk.locator("#pintasan")).to_have_class(re.compile("disorot"))
    desk.keyboard.press("p")
    expect(reason).to_be_focused()
    reason.press("Control+Enter")  # no reason yet: the server says what is missing
    expect(desk.get_by_text("Tuliskan apa yang harus diperbaiki pemohon.")).to_be_visible()
    expect(reason).to_have_attribute("aria-invalid", "true")
    visit.page(desk, "permohonan-alasan-wajib")
    reason.fill("Lampirkan KK terbaru.")  # typing "p" or "t" here fires no shortcut
    reason.press("t")
    expect(reason).to_have_value("Lampirkan KK terbaru.t")
    reason.fill("Lampirkan KK terbaru.")
    desk.evaluate("document.activeElement.blur()")
    desk.keyboard.press("p")  # perbaikan (still) chosen: Ctrl+Enter in the reason sends it
    expect(reason).to_be_focused()
    expect(desk.get_by_role("button", name="Kembalikan untuk perbaikan")).to_have_class(
        re.compile("dipilih")
    )
    reason.press("Control+Enter")
    expect(desk).to_have_url(f"{base}/kotak-masuk?selesai=perbaikan")
    expect(desk.get_by_role("status").first).to_contain_text("dikembalikan kepada pemohon")
    visit.page(desk, "kotak-masuk-setelah-perbaikan")
    journey.wait_for_status(resident, second, "revision_requested")


def test_another_desa_and_residents_cannot_open_the_application(
    stack: Stack, journey: Journey, resident: str, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    app_id = _submitted_application(journey, resident, "Persyaratan administrasi sekolah")
    journey.wait_for_task(journey.staff_token(KASI, PASSWORD), app_id, 0)

    _sign_in(desk, base, OTHER_DESA, visit, "kotak-masuk-desa-lain")
    expect(_row(desk, app_id)).to_have_count(0)
    csrf = desk.locator('input[name="csrf_token"]').first.get_attribute("value")
    response = desk.goto(f"{base}/permohonan/{app_id}")
    assert response is not None and response.status == 404
    expect(desk.get_by_role("heading", level=1)).to_have_text("Tidak ditemukan")
    visit.page(desk, "permohonan-desa-lain")
    # Nor may they decide on it by posting the form.
    posted = desk.request.post(
        f"{base}/permohonan/{app_id}/keputusan",
        form={"csrf_token": csrf or "", "keputusan": "setujui", "langkah": "0"},
    )
    assert posted.status == 404

    # A resident's token is no staff session: no page, sent to sign in; by API, 401.
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        page = client.get(f"/permohonan/{app_id}", headers={"Authorization": f"Bearer {resident}"})
        assert page.status_code == 303
        assert page.headers["location"].startswith("/masuk")
        assert "Siti" not in page.text
        events = client.get(
            "/kotak-masuk/kejadian", headers={"Authorization": f"Bearer {resident}"}
        )
        assert events.status_code in (303, 401)
