"""Desa administration in the real browser: the Sekdes changes the SKD route (the operator
checks first, the Sekdes signs a.n. the Kepala Desa) and a letter submitted afterwards starts
in the operator's inbox; creates a Kasi Kesra account and grants a Plt; switches a letter type
off and intake refuses it; a Kasi gets the refusal page for the admin forms.

The stack is shared by the session's browser tests: everything changed here is put back."""

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from common.wib import WIB
from scripts.journey import Journey, sample_pdf, sample_png
from tests.e2e.test_journey import NIK_A, PASSWORD, PHONE_A, Stack
from tests.support.browser import Visit

SEKDES = "sekdes.pamanukan"
KASI = "pemerintahan.pamanukan"
PAMANUKAN = "32.13.11.2004"


def sign_in(page: Page, visit: Visit, base: str, username: str, name: str) -> None:
    page.goto(f"{base}/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Selamat datang")
    visit.page(page, name)


@pytest.fixture
def put_back(stack: Stack, journey: Journey) -> Iterator[None]:
    """Default SKD route and every letter type offered again, whatever the test did."""
    yield
    base = stack.endpoints.verification
    headers = {"Authorization": f"Bearer {journey.staff_token(SEKDES, PASSWORD)}"}
    assert httpx.delete(f"{base}/api/v1/routes/SKD", headers=headers).status_code == 200
    r = httpx.put(f"{base}/api/v1/routes/SKBM/offered", json={"offered": True}, headers=headers)
    assert r.status_code == 200


def test_sekdes_administers_the_desa(
    stack: Stack, journey: Journey, desk: Page, visit: Visit, put_back: None
) -> None:
    base = stack.endpoints.verification
    sign_in(desk, visit, base, SEKDES, "beranda-sekdes")

    desk.get_by_role("link", name="Pengaturan desa").first.click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Pengaturan desa")
    visit.page(desk, "pengaturan")

    # The SKD route: operator first, then Kasi Pemerintahan, then the Sekdes signs a.n. Kades.
    desk.get_by_role("link", name="Jenis surat dan alurnya").click()
    visit.page(desk, "jenis-surat")
    desk.get_by_role("link", name="Ubah alur Surat Keterangan Domisili", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Alur Surat Keterangan Domisili")
    visit.page(desk, "alur-skd")
    # An invalid route first: the signer must be the last step's role.
    desk.get_by_label("Penanda tangan").select_option("sekdes")
    desk.get_by_role("button", name="Simpan alur").click()
    expect(desk.get_by_role("alert")).to_contain_text("Penanda tangan harus peran pada langkah")
    visit.page(desk, "alur-skd-galat")

    desk.get_by_label("Peran langkah 1").select_option("operator")
    desk.get_by_label("Tenggat langkah 1 (jam kerja)").fill("4")
    desk.get_by_label("Peran langkah 2").select_option("kasi_pemerintahan")
    desk.get_by_label("Peran langkah 3").select_option("sekdes")
    desk.get_by_label("Peran langkah 4").select_option("")
    desk.get_by_label("Penanda tangan").select_option("sekdes")
    desk.get_by_label("Atas nama (a.n.)").select_option("kades")
    desk.get_by_role("button", name="Simpan alur").click()
    expect(desk.get_by_role("status")).to_contain_text("Alur surat disimpan")
    expect(desk.get_by_text("Alur desa sendiri, diubah oleh sekdes.pamanukan")).to_be_visible()
    visit.page(desk, "alur-skd-disimpan")
    desk.get_by_role("link", name="Jenis surat dan alurnya").click()
    skd_row = desk.get_by_role("row").filter(has_text="Surat Keterangan Domisili (SKD)")
    expect(skd_row).to_contain_text("Operator Desa → Kasi Pemerintahan → Sekretaris Desa")
    expect(skd_row).to_contain_text("a.n. Kepala Desa")

    # A letter submitted afterwards starts with the operator.
    resident = journey.resident_sign_in(NIK_A, PHONE_A)
    app_id = journey.create_application(
        resident,
        "Persyaratan membuka rekening bank",
        {"nama": "Budi Santoso", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "L"},
    )
    assert journey.upload(resident, app_id, "KTP", "ktp.png", sample_png()).status_code == 201
    assert journey.upload(resident, app_id, "KK", "kk.pdf", sample_pdf()).status_code == 201
    assert journey.submit(resident, app_id).status_code == 202
    operator = journey.staff_token("operator.pamanukan", PASSWORD)
    task = journey.wait_for_task(operator, app_id, 0)
    assert task["step"]["role"] == "operator"
    assert journey.cancel(resident, app_id).status_code in (200, 202)

    # Switching SKBM off: intake no longer lists it for the desa and refuses it.
    skbm = "Surat Keterangan Belum Menikah"
    desk.get_by_role("link", name=f"Hentikan layanan {skbm}").click()
    # Asked first, with what happens to letters in progress.
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Hentikan layanan {skbm}?")
    expect(desk.get_by_text("tetap diproses sampai selesai")).to_be_visible()
    visit.page(desk, "hentikan-skbm")
    desk.get_by_role("button", name="Ya, hentikan layanan").click()
    expect(desk.get_by_role("status")).to_contain_text("Layanan jenis surat diubah")
    expect(desk.get_by_role("row").filter(has_text=f"{skbm} (SKBM)")).to_contain_text(
        "Tidak dilayani"
    )
    visit.page(desk, "jenis-surat-skbm-mati")
    offered = httpx.get(
        f"{stack.endpoints.intake}/api/v1/letter-types", params={"desa": PAMANUKAN}
    ).json()
    assert "SKBM" not in {t["code"] for t in offered} and "SKD" in {t["code"] for t in offered}
    refused = journey.http.post(
        f"{stack.endpoints.intake}/api/v1/applications",
        headers={"Authorization": f"Bearer {resident}"},
        json={"desa_code": PAMANUKAN, "letter_type": "SKBM", "purpose": "Menikah", "fields": {}},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == "Desa ini belum melayani surat ini."
    desk.get_by_role("button", name=f"Layani {skbm}").click()
    expect(desk.get_by_role("row").filter(has_text=f"{skbm} (SKBM)")).to_contain_text("Dilayani")

    # A new Kasi Kesra account.
    kesra = f"kesra-{uuid.uuid4().hex[:6]}.pamanukan"
    desk.goto(f"{base}/pengaturan/akun")
    visit.page(desk, "akun")
    desk.get_by_label("Nama pengguna").fill(kesra)
    desk.get_by_label("Jabatan").select_option("kasi_kesra")
    desk.get_by_label("Kata sandi awal").fill("pendek")
    desk.get_by_role("button", name="Buat akun").click()
    expect(desk.get_by_text("Kata sandi paling sedikit 10 karakter.").first).to_be_visible()
    visit.page(desk, "akun-galat")
    desk.get_by_label("Kata sandi awal").fill("kata-sandi-awal-1")
    desk.get_by_role("button", name="Buat akun").click()
    expect(desk.get_by_role("status")).to_contain_text("Akun staf dibuat")
    accounts = desk.get_by_role("table", name="Akun staf desa")
    expect(accounts.get_by_role("row").filter(has_text=kesra)).to_contain_text(
        "Kasi Kesejahteraan Rakyat"
    )
    visit.page(desk, "akun-dibuat")
    journey.staff_token(kesra, "kata-sandi-awal-1")  # the new account signs in

    # The new Kasi Kesra acts as Kasi Pemerintahan for a week.
    desk.get_by_role("link", name="Pengaturan desa").first.click()
    desk.get_by_role("link", name="Pelaksana tugas (Plt)").click()
    visit.page(desk, "plt")
    desk.get_by_label("Staf").select_option(kesra)
    desk.get_by_label("Menjalankan jabatan").select_option("kasi_pemerintahan")
    week = datetime.now(WIB) + timedelta(days=7)
    desk.get_by_label("Sampai (WIB)").fill(week.strftime("%Y-%m-%dT%H:%M"))
    desk.get_by_label("Alasan atau nomor SK").fill("Cuti tahunan")
    desk.get_by_role("button", name="Tetapkan Plt").click()
    expect(desk.get_by_role("status")).to_contain_text("Plt ditetapkan")
    row = desk.get_by_role("row").filter(has_text=kesra)
    expect(row).to_contain_text("Kasi Pemerintahan")
    expect(row).to_contain_text("Berjalan")
    visit.page(desk, "plt-ditetapkan")
    row.get_by_role("button", name=f"Akhiri sekarang Plt {kesra}").click()
    expect(desk.get_by_role("status")).to_contain_text("Masa Plt diakhiri")
    expect(desk.get_by_role("row").filter(has_text=kesra)).to_have_count(0)


def test_a_kasi_gets_the_refusal_page_for_the_admin_forms(
    stack: Stack, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    sign_in(desk, visit, base, KASI, "beranda-kasi")
    desk.goto(f"{base}/pengaturan")
    expect(desk.get_by_text("hanya Sekretaris Desa atau Kepala Desa")).to_be_visible()
    visit.page(desk, "pengaturan-kasi")

    for path, name in (
        ("/pengaturan/akun", "akun-kasi"),
        ("/pengaturan/surat/SKD", "alur-kasi"),
    ):
        response = desk.goto(f"{base}{path}")
        assert response is not None and response.status == 403
        expect(desk.get_by_role("heading", level=1)).to_have_text("Tidak diizinkan")
        expect(desk.get_by_role("alert")).to_contain_text("Sekretaris Desa atau Kepala Desa")
        visit.page(desk, name)

    # Read-only where the API lets every staff member read.
    desk.goto(f"{base}/pengaturan/surat")
    expect(desk.get_by_role("link", name="Hentikan layanan", exact=False)).to_have_count(0)
    visit.page(desk, "jenis-surat-kasi")
    desk.goto(f"{base}/pengaturan/jam-kerja")
    expect(desk.get_by_role("button", name="Simpan")).to_have_count(0)
    visit.page(desk, "jam-kerja-kasi")
    desk.goto(f"{base}/pengaturan/plt")
    expect(desk.get_by_role("button", name="Tetapkan Plt")).to_have_count(0)
    visit.page(desk, "plt-kasi")
