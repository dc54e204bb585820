"""The survey and complaint pages in the real browser, against the whole running stack (the
approval worker's process runs the complaint workflow too), each page checked with axe-core:
a resident answers the survey from the link of a refused letter; anyone files a complaint on a
phone and reads the answer by number and secret; desa staff answer it at the desk and see the
satisfaction index."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from common.config import CommonSettings
from common.signed_links import link_key, sign_path
from scripts.journey import Journey
from tests.browser.test_staff_inbox import _resident, _submitted_application
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import Visit

COMPLAINT = "Surat domisili saya sudah seminggu belum diproses, mohon dibantu."
ANSWER = "Mohon maaf, surat Anda sudah kami proses hari ini dan bisa diunduh."


def _survey_link(stack: Stack, application_id: str) -> str:
    settings = CommonSettings(data_dir=Path(stack.env["SMARTDESA_DATA_DIR"]))
    path = sign_path(
        link_key(settings), f"/survei/{application_id}", datetime.now(UTC) + timedelta(days=30)
    )
    return f"{stack.endpoints.intake}{path}"


def test_a_resident_answers_the_survey_once(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    token = _resident(journey)
    app_id = _submitted_application(journey, token, "Survei: ditolak")
    kasi = journey.staff_token("pemerintahan.pamanukan", PASSWORD)
    journey.wait_for_task(kasi, app_id, 0)
    r = journey.decide(kasi, app_id, "reject", reason="Bukan warga desa ini.")
    assert r.status_code == 200, r.text
    journey.wait_for_status(token, app_id, "rejected")

    link = _survey_link(stack, app_id)
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_have_text("Survei kepuasan pelayanan")
    visit.page(phone, "survei")
    phone.get_by_role("button", name="Kirim penilaian").click()
    expect(phone.get_by_role("alert")).to_contain_text("Mohon beri nilai 1 sampai 4")
    visit.page(phone, "survei-galat")
    for group in phone.locator("fieldset").all():
        group.get_by_label(re.compile("Baik ·|· Baik|3 · Baik")).first.check()
    phone.get_by_label("Saran atau komentar (boleh kosong)").fill("Petugas ramah.")
    phone.get_by_role("button", name="Kirim penilaian").click()
    expect(phone.get_by_role("status")).to_contain_text("Terima kasih")
    visit.page(phone, "survei-terima-kasih")
    phone.goto(link)
    expect(phone.get_by_role("status")).to_contain_text("sudah diisi")


def test_a_complaint_is_filed_answered_and_read(
    stack: Stack, phone: Page, desk: Page, visit: Visit
) -> None:
    portal = stack.endpoints.intake
    phone.goto(f"{portal}/pengaduan")
    visit.page(phone, "pengaduan")
    phone.get_by_role("button", name="Kirim pengaduan").click()
    expect(phone.get_by_role("alert")).to_be_visible()
    visit.page(phone, "pengaduan-galat")
    phone.get_by_label("Desa").select_option("32.13.11.2004")
    phone.get_by_label("Perihal").select_option("permohonan")
    phone.get_by_label("Isi pengaduan").fill(COMPLAINT)
    phone.get_by_role("button", name="Kirim pengaduan").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Pengaduan terkirim")
    visit.page(phone, "pengaduan-terkirim")
    number, secret = phone.locator("dd strong").all_inner_texts()[:2]

    base = stack.endpoints.verification
    desk.goto(f"{base}/pengaduan")
    desk.get_by_label("Nama pengguna").fill("operator.pamanukan")
    desk.get_by_label("Kata sandi").fill(PASSWORD)
    desk.get_by_role("button", name="Masuk").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Pengaduan")
    visit.page(desk, "kotak-pengaduan")
    desk.get_by_role("link", name=number).click()
    expect(desk.get_by_text(COMPLAINT)).to_be_visible()
    visit.page(desk, "pengaduan-rinci")
    desk.get_by_label("Jawaban untuk pelapor").fill(ANSWER)
    desk.get_by_role("button", name="Kirim jawaban").click()
    expect(desk.get_by_role("cell", name=re.compile("dijawab"))).to_be_visible()
    visit.page(desk, "pengaduan-dijawab")
    desk.goto(f"{base}/kepuasan")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Kepuasan warga")
    visit.page(desk, "kepuasan")

    phone.goto(f"{portal}/pengaduan/lacak")
    visit.page(phone, "pengaduan-lacak")
    phone.get_by_label("Nomor pengaduan").fill(number)
    phone.get_by_label("Kode rahasia").fill(secret)
    phone.get_by_role("button", name="Lihat pengaduan").click()
    expect(phone.get_by_text(ANSWER)).to_be_visible()
    visit.page(phone, "pengaduan-jawaban")
