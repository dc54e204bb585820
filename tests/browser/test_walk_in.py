"""Pengajuan langsung in the real browser: the operator files an SKD for a resident at the desa
office with two scans; the resident is told by WhatsApp and finds it after signing in with the
NIK and phone the operator typed; the Kasi's inbox has the task. Only the operator (also as
Plt) files, and only for their own desa."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from scripts.journey import Journey, sample_pdf, sample_png, wait_until
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit

OPERATOR = "operator.pamanukan"
KASI_PEMERINTAHAN = "pemerintahan.pamanukan"
KASI_KESRA = "kesra.pamanukan"
PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"
# A resident of Pamanukan nobody else in the browser tests uses (man born 22-03-1988).
NIK = "3213112203880007"
PHONE = "081377700123"


def sign_in(page: Page, base: str, username: str, visit: Visit, name: str) -> None:
    page.goto(f"{base}/masuk")
    visit.page(page, f"masuk-{name}")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Selamat datang")


def choose_skd(page: Page, base: str, visit: Visit, name: str) -> None:
    page.goto(f"{base}/pengajuan-langsung")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pengajuan langsung")
    visit.page(page, f"{name}-pilih-jenis")
    page.get_by_label("Jenis surat").select_option("SKD")
    page.get_by_role("button", name="Pilih").click()
    expect(page.get_by_role("heading", name="Surat Keterangan Domisili")).to_be_visible()


def fill_resident(page: Page, nik: str, phone: str) -> None:
    page.get_by_label("NIK (16 digit)").fill(nik)
    page.get_by_label("Nomor HP warga (WhatsApp/SMS)").fill(phone)
    page.get_by_label("Keperluan").fill("Persyaratan melamar pekerjaan")
    page.get_by_label("Nama lengkap").fill("Dadang Sutisna")
    page.get_by_role("textbox", name="Alamat", exact=True).fill(
        "Dusun Krajan RT 02 RW 04, Pamanukan"
    )


def test_the_operator_files_a_walk_in_and_the_resident_follows_it(
    stack: Stack, journey: Journey, desk: Page, visit: Visit, tmp_path: Path
) -> None:
    base = stack.endpoints.verification
    ktp = tmp_path / "ktp.png"
    ktp.write_bytes(sample_png())
    kk = tmp_path / "kk.pdf"
    kk.write_bytes(sample_pdf())
    text_file = tmp_path / "bukan-pindaian.pdf"
    text_file.write_bytes(b"ini bukan pindaian")

    sign_in(desk, base, OPERATOR, visit, "operator")
    visit.page(desk, "beranda-operator")
    desk.get_by_role("link", name="Pengajuan langsung").first.click()
    choose_skd(desk, base, visit, "operator")
    visit.page(desk, "formulir-skd")

    # A wrong NIK and a text file posing as a PDF: the message by the field, values kept.
    fill_resident(desk, "1234", PHONE)
    desk.get_by_label("KTP pemohon").set_input_files(str(ktp))
    desk.get_by_label("Kartu Keluarga").set_input_files(str(text_file))
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.locator("#f-nik-galat")).to_contain_text("NIK")
    expect(desk.get_by_label("Nomor HP warga (WhatsApp/SMS)")).to_have_value(PHONE)
    expect(desk.get_by_label("Nama lengkap")).to_have_value("Dadang Sutisna")
    expect(desk.get_by_role("note")).to_contain_text("pilih lagi semua berkas")
    visit.page(desk, "formulir-nik-salah")

    desk.get_by_label("NIK (16 digit)").fill(NIK)
    desk.get_by_label("KTP pemohon").set_input_files(str(ktp))
    desk.get_by_label("Kartu Keluarga").set_input_files(str(text_file))
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.locator("#f-berkas_KK-galat")).to_contain_text("JPEG, PNG, atau dokumen PDF")
    visit.page(desk, "formulir-berkas-salah")

    desk.get_by_label("KTP pemohon").set_input_files(str(ktp))
    desk.get_by_label("Kartu Keluarga").set_input_files(str(kk))
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Permohonan terdaftar")
    expect(desk.get_by_text("0813*****123")).to_be_visible()
    expect(desk.get_by_text("2 pindaian tersimpan")).to_be_visible()
    visit.page(desk, "terdaftar")
    match = re.search(r"/pengajuan-langsung/([0-9a-f-]{36})$", desk.url)
    assert match, desk.url
    application_id = match.group(1)

    # The resident is told by WhatsApp where to follow it; the message names nobody.
    def walk_in_notice() -> dict[str, object] | None:
        for message in journey.dev_messages(PHONE):
            if "didaftarkan oleh petugas di kantor desa" in str(message["body"]):
                return message
        return None

    notice = wait_until("the walk-in notice in the dev sink", walk_in_notice)
    body = str(notice["body"])
    assert "Surat Keterangan Domisili" in body and "/permohonan" in body
    assert NIK not in body and "Dadang" not in body

    # Signing in with the NIK and the phone the operator typed shows it in their list.
    token = journey.resident_sign_in(NIK, PHONE)
    listed = httpx.get(
        f"{stack.endpoints.intake}/api/v1/applications",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    mine = next(a for a in listed if a["id"] == application_id)
    assert mine["channel"] == "walk_in" and mine["status"] == "in_review"
    assert sorted(a["kind"] for a in mine["attachments"]) == ["KK", "KTP"]
    assert mine["timeline"][0]["reason"] == "Didaftarkan di kantor desa oleh petugas"

    # The Kasi Pemerintahan has the task (SKD's first step).
    kasi = journey.staff_token(KASI_PEMERINTAHAN, PASSWORD)
    task = journey.wait_for_task(kasi, application_id, 0)
    assert task["application_id"] == application_id


def test_only_the_operator_files_and_only_for_their_own_desa(
    stack: Stack, journey: Journey, desk: Page, visit: Visit, tmp_path: Path
) -> None:
    base = stack.endpoints.verification
    # A Kasi Kesra of the same desa: no menu entry, the page and the post are refused.
    sign_in(desk, base, KASI_KESRA, visit, "kesra")
    expect(desk.get_by_role("link", name="Pengajuan langsung")).to_have_count(0)
    desk.goto(f"{base}/pengajuan-langsung")
    expect(desk.get_by_role("heading", level=1)).to_be_visible()
    expect(desk.get_by_text("Hanya Operator Desa")).to_be_visible()
    visit.page(desk, "kesra-ditolak")
    kesra = journey.staff_token(KASI_KESRA, PASSWORD)
    refused = httpx.post(
        f"{base}/pengajuan-langsung",
        headers={"Authorization": f"Bearer {kesra}"},
        data={"jenis": "SKD", "nik": NIK, "hp": PHONE},
    )
    assert refused.status_code == 403

    # Another desa's operator (Rancasari's Kasi, made Plt operator by its Kades) files only
    # for Rancasari: a desa_code in the form is not even read.
    kades = journey.staff_token("kades.rancasari", PASSWORD)
    plt = httpx.post(
        f"{base}/api/v1/plt",
        headers={"Authorization": f"Bearer {kades}"},
        json={
            "username": "pemerintahan.rancasari",
            "role": "operator",
            "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "reason": "Operator cuti",
        },
    )
    assert plt.status_code == 201, plt.text
    other = journey.staff_token("pemerintahan.rancasari", PASSWORD)
    scan = sample_pdf()
    filed = httpx.post(
        f"{base}/pengajuan-langsung",
        headers={"Authorization": f"Bearer {other}"},
        data={
            "request_id": "rancasari-walk-in-1",
            "desa_code": PAMANUKAN,
            "jenis": "SKD",
            "nik": "3213110305790009",
            "hp": "081377700456",
            "keperluan": "Persyaratan bank",
            "isian_nama": "Ujang",
            "isian_alamat": "Rancasari",
        },
        files={
            "berkas_KTP": ("ktp.pdf", scan, "application/pdf"),
            "berkas_KK": ("kk.pdf", scan, "application/pdf"),
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text
    application_id = filed.headers["location"].rsplit("/", 1)[-1]
    kasi_rancasari = other  # the same person, as Kasi Pemerintahan of Rancasari
    task = journey.wait_for_task(kasi_rancasari, application_id, 0)
    assert task["application_id"] == application_id
    # Pamanukan's Kasi never sees it, and Pamanukan's operator cannot open its confirmation.
    kasi_pamanukan = journey.staff_token(KASI_PEMERINTAHAN, PASSWORD)
    assert application_id not in {t["application_id"] for t in journey.tasks(kasi_pamanukan)}
    sign_in(desk, base, OPERATOR, visit, "operator")
    desk.goto(f"{base}/pengajuan-langsung/{application_id}")
    expect(desk.get_by_text("Permohonan tidak ditemukan")).to_be_visible()
    visit.page(desk, "desa-lain-tidak-ditemukan")
