"""Pengajuan langsung in the real browser: the operator finds the resident in the desa's
population register, files an SKD from it with two scans (a refused scan is chosen again, the
other stays), and prints a receipt; the resident is told by WhatsApp and finds it after signing
in; the Kasi's inbox has the task. A NIK the register does not hold is added to it in the same
flow, and an error keeps both scans. Only the operator (also as Plt) files, and only for their
own desa."""

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
# Not in any register until the operator adds her (woman born 15-04-1992).
NEW_NIK = "3213115504920011"
NEW_PHONE = "081377700789"


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


def find_resident(page: Page, query: str) -> None:
    page.get_by_label("Cari di data penduduk: nama, NIK atau nomor KK").fill(query)
    page.get_by_role("button", name=re.compile(r"^Cari")).click()


def register_resident(journey: Journey, stack: Stack) -> None:
    """A resident of Pamanukan in its register, with the phone the operator will confirm."""
    operator = journey.staff_token(OPERATOR, PASSWORD)
    added = httpx.post(
        f"{stack.endpoints.verification}/api/v1/residents",
        headers={"Authorization": f"Bearer {operator}"},
        json={
            "nik": NIK,
            "name": "DADANG SUTISNA",
            "sex": 1,
            "kk_number": "3213110101160004",
            "kk_level": 1,
            "birth_place": "SUBANG",
            "birth_date": "1988-03-22",
            "religion": 1,
            "address": "KP. KRAJAN",
            "dusun": "KRAJAN",
            "rw": "004",
            "rt": "002",
            "phones": [PHONE],
        },
    )
    assert added.status_code in (201, 409), added.text  # 409: an earlier run of this stack


def test_the_operator_files_a_walk_in_from_the_register_and_the_resident_follows_it(
    stack: Stack, journey: Journey, desk: Page, visit: Visit, tmp_path: Path
) -> None:
    base = stack.endpoints.verification
    ktp = tmp_path / "ktp.png"
    ktp.write_bytes(sample_png())
    kk = tmp_path / "kk.pdf"
    kk.write_bytes(sample_pdf())
    text_file = tmp_path / "bukan-pindaian.pdf"
    text_file.write_bytes(b"ini bukan pindaian")
    register_resident(journey, stack)

    sign_in(desk, base, OPERATOR, visit, "operator")
    visit.page(desk, "beranda-operator")
    desk.get_by_role("link", name="Pengajuan langsung").first.click()
    choose_skd(desk, base, visit, "operator")
    visit.page(desk, "formulir-skd")

    # Found by NIK (sent in the form's body), chosen: the register's values, read-only.
    find_resident(desk, NIK)
    visit.page(desk, "cari-penduduk")
    desk.get_by_role("button", name="Pilih DADANG SUTISNA").click()
    expect(desk.get_by_text("Dari data penduduk desa (versi 1)")).to_be_visible()
    expect(desk.get_by_role("group", name="Isian dari data penduduk")).to_contain_text("KP. KRAJAN")
    expect(desk.get_by_label("Nama lengkap")).to_have_count(0)
    expect(desk.get_by_label("Nomor HP warga (WhatsApp/SMS)")).to_have_value(PHONE)
    assert NIK not in desk.url
    visit.page(desk, "formulir-dari-data-penduduk")

    # A text file posing as a PDF: intake refuses that scan alone; the KTP stays chosen.
    desk.get_by_label("Keperluan").fill("Persyaratan melamar pekerjaan")
    desk.get_by_label("KTP pemohon").set_input_files(str(ktp))
    desk.get_by_label("Kartu Keluarga").set_input_files(str(text_file))
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.locator("#f-berkas_KK-galat")).to_contain_text("JPEG, PNG, atau dokumen PDF")
    expect(desk.locator("#tersimpan-KTP")).to_contain_text("ktp.png")
    expect(desk.get_by_text("pilih lagi semua berkas")).to_have_count(0)
    expect(desk.get_by_label("Keperluan")).to_have_value("Persyaratan melamar pekerjaan")
    visit.page(desk, "formulir-berkas-salah")

    desk.get_by_label("Kartu Keluarga").set_input_files(str(kk))
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Permohonan terdaftar")
    receipt = desk.locator(".tanda-terima")
    expect(receipt).to_contain_text("Surat Keterangan Domisili")
    expect(receipt).to_contain_text("DADANG SUTISNA")  # intake took it from the register
    expect(receipt).to_contain_text("************0007")
    expect(receipt).to_contain_text("0813*****123")
    expect(receipt).to_contain_text("2 pindaian diterima")
    expect(receipt).to_contain_text(stack.endpoints.intake)
    number = receipt.locator(".tanda-terima-nomor strong").inner_text()
    assert re.fullmatch(r"SKD-\d{4}-\d{6}", number), number
    assert NIK not in desk.content()
    expect(desk.get_by_role("button", name="Cetak tanda terima")).to_be_visible()
    visit.page(desk, "tanda-terima")
    desk.emulate_media(media="print")
    expect(desk.locator(".kepala")).to_be_hidden()
    expect(desk.get_by_role("heading", name="Yang diterima warga")).to_be_hidden()
    expect(receipt).to_be_visible()
    visit.page(desk, "tanda-terima-cetak")
    desk.emulate_media(media="screen")
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
    assert "Surat Keterangan Domisili" in body and "/permohonan" in body and number in body
    assert NIK not in body and "DADANG" not in body

    # Signing in with the NIK and the register's phone shows it in their list, filled from
    # the register (its version kept for the letter).
    token = journey.resident_sign_in(NIK, PHONE)
    listed = httpx.get(
        f"{stack.endpoints.intake}/api/v1/applications",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    mine = next(a for a in listed if a["id"] == application_id)
    assert mine["channel"] == "walk_in" and mine["status"] == "in_review"
    assert mine["fields"]["nama"] == "DADANG SUTISNA"
    assert sorted(a["kind"] for a in mine["attachments"]) == ["KK", "KTP"]
    assert mine["timeline"][0]["reason"] == "Didaftarkan di kantor desa oleh petugas"

    # The Kasi Pemerintahan has the task (SKD's first step).
    kasi = journey.staff_token(KASI_PEMERINTAHAN, PASSWORD)
    task = journey.wait_for_task(kasi, application_id, 0)
    assert task["application_id"] == application_id


def test_an_unregistered_nik_is_added_to_the_register_and_filed(
    stack: Stack, journey: Journey, desk: Page, visit: Visit, tmp_path: Path
) -> None:
    base = stack.endpoints.verification
    ktp = tmp_path / "ktp-baru.png"
    ktp.write_bytes(sample_png())
    kk = tmp_path / "kk-baru.pdf"
    kk.write_bytes(sample_pdf())
    sign_in(desk, base, OPERATOR, visit, "operator")
    choose_skd(desk, base, visit, "operator-baru")
    find_resident(desk, NEW_NIK)
    expect(desk.get_by_role("heading", name="Tambah ke data penduduk")).to_be_visible()
    expect(desk.locator("#f-nik")).to_have_value(NEW_NIK)
    visit.page(desk, "nik-belum-terdaftar")
    add = desk.locator("section", has=desk.get_by_role("heading", name="Tambah ke data penduduk"))
    add.locator("#f-name").fill("ENDANG KURNIA")
    add.locator("#f-sex").select_option("2")
    add.locator("#f-birth_place").fill("SUBANG")
    add.locator("#f-birth_date").fill("1992-04-15")
    add.locator("#f-address").fill("KP. SUKAMULYA")
    add.locator("#f-dusun").fill("SUKAMULYA")
    add.locator("#f-rw").fill("002")
    add.locator("#f-rt").fill("005")
    desk.get_by_role("button", name="Simpan ke data penduduk").click()
    expect(desk.get_by_text("Dari data penduduk desa (versi 1)")).to_be_visible()
    assert NEW_NIK not in desk.url

    # An error (no purpose) with both scans chosen; then the purpose alone: both still there.
    desk.get_by_label("Nomor HP warga (WhatsApp/SMS)").fill(NEW_PHONE)
    desk.get_by_label("KTP pemohon").set_input_files(str(ktp))
    desk.get_by_label("Kartu Keluarga").set_input_files(str(kk))
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.locator("#f-keperluan-galat")).to_contain_text("Keperluan")
    expect(desk.locator("#tersimpan-KTP")).to_contain_text("ktp-baru.png")
    expect(desk.locator("#tersimpan-KK")).to_contain_text("kk-baru.pdf")
    visit.page(desk, "keperluan-kosong-berkas-tersimpan")
    desk.get_by_label("Keperluan").fill("Persyaratan membuka rekening")
    desk.get_by_role("button", name="Daftarkan permohonan").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Permohonan terdaftar")
    receipt = desk.locator(".tanda-terima")
    expect(receipt).to_contain_text("ENDANG KURNIA")
    expect(receipt).to_contain_text("2 pindaian diterima")
    assert NEW_NIK not in desk.content()
    visit.page(desk, "tanda-terima-penduduk-baru")


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
