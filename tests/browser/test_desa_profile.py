"""The desa profile in the real browser: the Kades changes the kop surat's address, the numbering
format (with its live example) and the logo (with its preview), sees them saved and the sample
letter made with them; a bad numbering format is refused next to the field with every value
kept; a Kasi sees the profile but cannot change it.

Rancasari's profile is used (and its text fields put back afterwards), so that the letters other
page tests issue in Pamanukan keep their usual numbers."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from scripts.journey import Journey, sample_pdf, sample_png
from tests.e2e.test_journey import PASSWORD, Stack
from tests.signing.pdf_text import page_texts, squeeze
from tests.support.browser import Visit
from tests.support.images import png

KADES = "kades.rancasari"
KASI = "pemerintahan.rancasari"
NEW_ADDRESS = "Jl. Pantura Rancasari No. 7"
NEW_FORMAT = "{kode}/{seq:03d}/Rcs/{bulan_romawi}/{tahun}"
API = "/api/v1/desa-profile"
_KEYS = (
    "name", "kecamatan", "kabupaten", "address", "kode_pos", "phone", "email", "kades_name",
    "kades_nip", "sekdes_name", "sekdes_nip", "paper", "number_format", "officials",
)  # fmt: skip


@pytest.fixture
def rancasari_profile(stack: Stack, journey: Journey) -> Iterator[dict[str, Any]]:
    """Rancasari's profile as it was; its text fields are put back after the test."""
    base = stack.endpoints.verification
    headers = {"Authorization": f"Bearer {journey.staff_token(KADES, PASSWORD)}"}
    before = journey.http.get(f"{base}{API}", headers=headers)
    assert before.status_code == 200, before.text
    profile: dict[str, Any] = before.json()
    yield profile
    restored = journey.http.put(
        f"{base}{API}", json={k: profile[k] for k in _KEYS}, headers=headers
    )
    assert restored.status_code == 200, restored.text


def _sign_in(page: Page, username: str) -> None:
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()


def test_the_kades_changes_the_desa_profile_and_a_kasi_cannot(
    stack: Stack, desk: Page, visit: Visit, tmp_path: Path, rancasari_profile: dict[str, Any]
) -> None:
    base = stack.endpoints.verification
    desk.goto(f"{base}/pengaturan/profil")
    expect(desk).to_have_url(f"{base}/masuk?lanjut=/pengaturan/profil")
    _sign_in(desk, KADES)
    expect(desk.get_by_role("heading", level=1)).to_have_text("Profil desa Rancasari")
    expect(desk.get_by_text(rancasari_profile["address"])).to_be_visible()
    visit.page(desk, "profil")

    desk.get_by_role("link", name="Ubah profil desa").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Ubah profil desa")
    visit.page(desk, "ubah-profil")

    desk.get_by_label("Alamat kantor desa").fill(NEW_ADDRESS)
    # The number format from its parts: the desa code (part 5) becomes the free text "Rcs",
    # and the example follows each change.
    expect(desk.get_by_label("Teks bebas bagian 5")).to_be_hidden()
    desk.get_by_label("Bagian 5", exact=True).select_option("teks")
    desk.get_by_label("Teks bebas bagian 5").fill("Rcs")
    expect(desk.locator("#contoh-nomor")).to_contain_text(
        re.compile(r"Contoh nomor berikutnya: 400\.12\.2/\d{3}/Rcs/[IVX]+/\d{4}")
    )
    logo = tmp_path / "logo-rancasari.png"
    logo.write_bytes(png(160, 160, (150, 30, 30)))
    desk.get_by_label("Logo baru").set_input_files(logo)
    expect(desk.get_by_alt_text("Pratinjau logo baru")).to_be_visible()
    visit.page(desk, "ubah-profil-terisi")

    desk.get_by_role("button", name="Simpan profil").click()
    expect(desk).to_have_url(f"{base}/pengaturan/profil?tersimpan=1")
    expect(desk.get_by_role("status")).to_contain_text("Profil desa tersimpan")
    expect(desk.get_by_text(NEW_ADDRESS)).to_be_visible()
    expect(desk.get_by_text(NEW_FORMAT)).to_be_visible()
    expect(desk.locator("#nomor-berikutnya")).to_have_text(
        re.compile(r"400\.12\.2/\d{3}/Rcs/[IVX]+/\d{4}")
    )
    shown = desk.get_by_alt_text("Logo desa Rancasari")
    expect(shown).to_be_visible()
    # Visible is not loaded: wait for the image itself before reading its size.
    shown.evaluate(
        "img => img.complete || new Promise(done => { img.onload = img.onerror = done; })"
    )
    assert shown.evaluate("img => img.naturalWidth") == 160  # the new logo, loaded
    visit.page(desk, "profil-tersimpan")

    # The sample letter is made with the new profile.
    sample_link = desk.get_by_role("link", name="Lihat contoh surat (PDF)")
    href = sample_link.get_attribute("href")
    assert href is not None
    sample = desk.request.get(f"{base}{href}")
    assert sample.status == 200 and sample.headers["content-type"] == "application/pdf"
    text = squeeze(page_texts(sample.body())[0])
    assert squeeze(NEW_ADDRESS) in text and squeeze("PRATINJAU — BUKAN SURAT SAH") in text
    assert re.search(r"Nomor:400\.12\.2/___/Rcs/[IVX]+/\d{4}", text), text[:400]

    # A bad format: refused next to the field, every value kept, nothing saved.
    desk.get_by_role("link", name="Ubah profil desa").click()
    desk.get_by_label("Alamat kantor desa").fill("Alamat yang tidak tersimpan")
    desk.get_by_label("Bagian 9", exact=True).select_option("")  # the year left out
    expect(desk.locator("#contoh-nomor")).to_contain_text("wajib memuat bagian Tahun")
    desk.get_by_role("button", name="Simpan profil").click()
    expect(desk.get_by_role("alert").first).to_contain_text("Profil desa belum tersimpan")
    error = desk.locator("#f-number_format-galat")
    expect(error).to_contain_text("wajib memuat bagian Tahun")
    expect(desk.get_by_label("Teks bebas bagian 5")).to_have_value("Rcs")
    expect(desk.get_by_label("Alamat kantor desa")).to_have_value("Alamat yang tidak tersimpan")
    visit.page(desk, "format-ditolak")
    desk.get_by_role("link", name="Batal").click()
    expect(desk.get_by_text(NEW_ADDRESS)).to_be_visible()

    # A Kasi of the desa sees the profile but may not change it.
    desk.get_by_role("button", name=f"Keluar ({KADES})").click()
    desk.goto(f"{base}/masuk?lanjut=/pengaturan/profil")
    _sign_in(desk, KASI)
    expect(desk.get_by_role("heading", level=1)).to_have_text("Profil desa Rancasari")
    expect(desk.get_by_text("Hanya Sekretaris Desa atau Kepala Desa")).to_be_visible()
    expect(desk.get_by_role("link", name="Ubah profil desa")).to_have_count(0)
    visit.page(desk, "profil-kasi")
    csrf = desk.locator("input[name=csrf_token]").first.get_attribute("value")
    assert csrf

    response = desk.goto(f"{base}/pengaturan/profil/ubah")
    assert response is not None and response.status == 403
    expect(desk.get_by_role("heading", level=1)).to_have_text("Tidak diizinkan")
    expect(desk.get_by_role("alert")).to_contain_text(
        "Hanya Sekretaris Desa atau Kepala Desa yang dapat melakukan perubahan ini."
    )
    visit.page(desk, "ubah-ditolak-kasi")
    forged = desk.request.post(
        f"{base}/pengaturan/profil/ubah",
        multipart={"csrf_token": csrf, "address": "Diubah Kasi", "number_format": NEW_FORMAT},
    )
    assert forged.status == 403
    assert NEW_ADDRESS in desk.request.get(f"{base}{API}").text()


PAMANUKAN_FORMAT = "{kode}/{seq:03d}/Pmk/{bulan}/{tahun}"
NIK = "3213112003850007"  # Kecamatan Pamanukan, man born 20-03-1985 (no other test uses it)
PHONE = "081277001122"


def test_the_next_issued_letter_follows_the_new_number_format(
    stack: Stack, journey: Journey
) -> None:
    """Behind the pages: a format saved through the profile API numbers the next letter the
    workflow issues; Pamanukan's format is put back afterwards."""
    base = stack.endpoints.verification
    kades = journey.staff_token("kades.pamanukan", PASSWORD)
    headers = {"Authorization": f"Bearer {kades}"}
    profile = journey.http.get(f"{base}{API}", headers=headers).json()
    body = {k: profile[k] for k in _KEYS}
    saved = journey.http.put(
        f"{base}{API}", json=body | {"number_format": PAMANUKAN_FORMAT}, headers=headers
    )
    assert saved.status_code == 200, saved.text
    try:
        resident = journey.resident_sign_in(NIK, PHONE)
        app_id = journey.create_application(
            resident,
            "Persyaratan administrasi",
            {"nama": "Warga Uji", "alamat": "Dusun Krajan RT 003 RW 001", "jenis_kelamin": "L"},
        )
        assert journey.upload(resident, app_id, "KTP", "ktp.png", sample_png()).status_code == 201
        assert journey.upload(resident, app_id, "KK", "kk.pdf", sample_pdf()).status_code == 201
        assert journey.submit(resident, app_id).status_code == 202
        for step, username in enumerate(
            ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")
        ):
            token = journey.staff_token(username, PASSWORD)
            journey.wait_for_task(token, app_id, step)
            decided = journey.decide(token, app_id, "approve")
            assert decided.status_code == 200, decided.text
        letter = journey.wait_for_status(resident, app_id, "issued")["letter"]
        assert re.fullmatch(r"\d{3}(\.\d+)*/\d{3}/Pmk/\d{2}/\d{4}", letter["number"]), letter
    finally:
        restored = journey.http.put(f"{base}{API}", json=body, headers=headers)
        assert restored.status_code == 200, restored.text
