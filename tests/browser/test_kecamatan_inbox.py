"""The kecamatan tier in the real browser, through the whole stack (issue 18, item 2): the
kabupaten operator creates the camat on the kecamatan's page and sends a letter type through
the kecamatan; the camat's inbox shows a letter of one of the kecamatan's desa as soon as the
Kades approved it (server-sent events, no reload), with its desa; the camat opens it, is told
that approving signs "mengetahui", approves, and the resident's letter is issued and valid.
A desa page is refused in Indonesian. Every page passes axe and fits 360 px."""

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from scripts.journey import Journey, sample_pdf, sample_png
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import DESK, Visit, new_context

KEC_PAMANUKAN = "32.13.11"
DISKOMINFO = "diskominfo.subang"
CAMAT = "camat.pamanukan"
CAMAT_PASSWORD = "sandi-camat-pamanukan-1"
CAMAT_NAME = "Drs. H. Asep Saepudin, M.Si."
DESA_STEPS = (("pemerintahan.pamanukan", 0), ("sekdes.pamanukan", 1))
KADES = "kades.pamanukan"
SKD = "Surat Keterangan Domisili"
ARRIVES_MS = 60_000
TYPES = "/api/v1/kabupaten/kecamatan-letter-types"


@pytest.fixture
def operator_page(browser: Browser) -> Iterator[Page]:
    context = new_context(browser, DESK)
    yield context.new_page()
    context.close()


@pytest.fixture
def camat_page(browser: Browser) -> Iterator[Page]:
    context = new_context(browser, DESK)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, base: str, path: str, username: str, password: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def _skd(journey: Journey) -> tuple[str, str]:
    """A resident of Pamanukan and their submitted SKD."""
    nik = f"321311550890{secrets.randbelow(9998) + 1:04d}"
    token = journey.resident_sign_in(nik, f"0813{secrets.randbelow(10**8):08d}")
    app_id = journey.create_application(
        token,
        "Persyaratan beasiswa",
        {"nama": "Siti Aminah", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "P"},
    )
    for kind, name, content in (("KTP", "ktp.png", sample_png()), ("KK", "kk.pdf", sample_pdf())):
        r = journey.upload(token, app_id, kind, name, content)
        assert r.status_code == 201, r.text
    r = journey.submit(token, app_id)
    assert r.status_code == 202, r.text
    return token, app_id


def test_the_camat_decides_from_the_kecamatan_inbox(
    stack: Stack, journey: Journey, operator_page: Page, camat_page: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    operator_token = journey.staff_token(DISKOMINFO, PASSWORD)
    try:
        # -- the operator: the kecamatan, its camat, the letter type through it -----------
        page = operator_page
        _sign_in(page, base, "/kabupaten/kecamatan", DISKOMINFO, PASSWORD)
        expect(page.get_by_role("heading", level=1)).to_have_text("Kecamatan")
        visit.page(page, "kecamatan")
        page.get_by_role("link", name="Kecamatan Pamanukan").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Kecamatan Pamanukan")
        page.get_by_label("Nama pengguna").fill(CAMAT)
        page.get_by_label("Jabatan").select_option("camat")
        page.get_by_label("Nama lengkap (dengan gelar)").fill(CAMAT_NAME)
        page.get_by_role("button", name="Buat akun").click()
        link = page.locator("#tautan-sandi")
        expect(link).to_contain_text("/akun/atur-sandi?t=")
        visit.page(page, "kecamatan-akun-dibuat")
        token = re.sub(r".*\?t=", "", link.inner_text().strip())

        page.goto(f"{base}/kabupaten/kecamatan/jenis-surat")
        page.locator("#f-jenis").select_option("SKD")
        page.locator("#f-peran_0").select_option("camat")
        page.locator("#f-peran_1").select_option("")
        page.get_by_role("button", name="Simpan").click()
        expect(page.get_by_role("status")).to_contain_text("melalui kecamatan")
        expect(page.get_by_role("table")).to_contain_text(f"{SKD} (SKD)")
        visit.page(page, "jenis-surat-kecamatan")
        # The kecamatan offices' working hours (the kabupaten's default): axe and 360 px.
        page.goto(f"{base}/kabupaten/kecamatan/jam-kerja")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Jam kerja bawaan kantor kecamatan"
        )
        visit.page(page, "jam-kerja-kecamatan")

        r = journey.http.post(
            f"{base}/api/v1/auth/set-password",
            json={"token": token, "new_password": CAMAT_PASSWORD},
        )
        assert r.status_code == 200, r.text

        # -- a letter of Desa Pamanukan, approved by the desa up to its Kades -------------
        resident, app_id = _skd(journey)
        for username, step in DESA_STEPS:
            staff = journey.staff_token(username, PASSWORD)
            journey.wait_for_task(staff, app_id, step)
            assert journey.decide(staff, app_id, "approve", step=step).status_code == 200
        kades = journey.staff_token(KADES, PASSWORD)
        journey.wait_for_task(kades, app_id, 2)

        # -- the camat's inbox, open before the Kades approves: the row arrives by itself --
        camat = camat_page
        _sign_in(camat, base, "/kotak-masuk", CAMAT, CAMAT_PASSWORD)
        expect(camat.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
        expect(camat.get_by_role("link", name="Kotak masuk kecamatan")).to_be_visible()
        expect(camat.get_by_text("dari desa di Kecamatan Pamanukan")).to_be_visible()
        row = camat.locator(f'li.tugas[data-id="{app_id}"]')
        expect(row).to_have_count(0)
        visit.page(camat, "kotak-masuk-kecamatan-kosong")
        assert journey.decide(kades, app_id, "approve", step=2).status_code == 200
        expect(row.get_by_role("link", name=SKD)).to_be_visible(timeout=ARRIVES_MS)
        expect(row).to_contain_text("Desa Pamanukan")
        expect(row).to_contain_text("Tahap 4: Camat")
        expect(row).to_contain_text(re.compile(r"(Sisa|Terlambat) .*kerja"))
        visit.page(camat, "kotak-masuk-kecamatan")

        # -- the task: the desa's decisions so far, and what approving means --------------
        row.get_by_role("link", name=SKD).click()
        expect(camat.get_by_role("heading", level=1)).to_have_text(SKD)
        timeline = camat.get_by_role("region", name="Riwayat")
        expect(timeline).to_contain_text("oleh Kepala Desa")
        expect(camat.get_by_role("region", name="Isian permohonan")).to_contain_text(
            "Desa Pamanukan"
        )
        expect(camat.locator("#info-tanda-tangan")).to_contain_text("sebagai Camat")
        visit.page(camat, "permohonan-camat")
        asked: list[str] = []

        def accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        camat.on("dialog", accept)
        camat.get_by_role("button", name="Setujui dan tandatangani (mengetahui)").click()
        expect(camat.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
        expect(camat.get_by_role("status").first).to_contain_text("ditandatangani")
        assert asked and "sebagai Camat" in asked[0]
        expect(row).to_have_count(0)

        # A desa page: refused, in Indonesian.
        camat.goto(f"{base}/penduduk")
        expect(camat.get_by_role("heading", level=1)).to_have_text("Tidak diizinkan")
        expect(camat.get_by_role("alert")).to_have_text("Fitur ini hanya untuk staf desa.")
        visit.page(camat, "halaman-desa-ditolak")

        # -- the resident's letter: issued, and valid -------------------------------------
        journey.wait_for_status(resident, app_id, "issued")
        letter = journey.letter_pdf(resident, app_id)
        assert letter.status_code == 200
        verdict = journey.verify_pdf(letter.content)
        assert verdict["conclusion"] == "valid", verdict
    finally:
        # The stack is shared by the session's page tests: SKD goes the desa's way again.
        journey.http.delete(
            f"{base}{TYPES}/SKD", headers={"Authorization": f"Bearer {operator_token}"}
        )
