"""The register on the portal, in the real browser with axe on every page: a registered
resident sees their register-held fields read-only, asks for a correction ("Data tidak sesuai?
Ajukan perbaikan"), the operator accepts it on the staff pages and the resident reads the
outcome; a birth letter's child is chosen from the resident's own KK; a KTP uploaded once is
offered again ("Pakai KTP yang tersimpan")."""

import httpx
from playwright.sync_api import Page, expect

from scripts.journey import Journey
from tests.browser.test_portal_application import sign_in
from tests.browser.test_walk_in import sign_in as staff_sign_in
from tests.e2e.test_journey import PASSWORD, Stack
from tests.intake.samples import photo
from tests.support.browser import Visit

PAMANUKAN = "32.13.11.2004"
# A mother and her son nobody else in the browser tests uses (woman born 01-01-1995; boy born
# 15-01-2020), in one KK.
NIK = "3213114101950007"
NIK_CHILD = "3213111501200008"
KK = "3213110101200077"
PHONE = "081377700456"
OPERATOR = "operator.pamanukan"


def register(journey: Journey, stack: Stack) -> None:
    """The operator adds the two to Pamanukan's register through the staff API."""
    token = journey.staff_token(OPERATOR, PASSWORD)
    common = {"kk_number": KK, "dusun": "KRAJAN", "rw": "002", "rt": "005", "address": "KP. KRAJAN"}
    for body in (
        {
            "nik": NIK,
            "name": "RINA MARLINA",
            "sex": 2,
            "kk_level": 1,
            "birth_place": "SUBANG",
            "birth_date": "1995-01-01",
            "religion": 1,
            "phones": [PHONE],
            **common,
        },
        {
            "nik": NIK_CHILD,
            "name": "RAKA PRATAMA",
            "sex": 1,
            "kk_level": 4,
            "birth_place": "SUBANG",
            "birth_date": "2020-01-15",
            "mother_name": "RINA MARLINA",
            "father_name": "DEDI",
            **common,
        },
    ):
        r = httpx.post(
            f"{stack.endpoints.verification}/api/v1/residents",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text


def test_register_fields_correction_family_member_and_kept_ktp(
    stack: Stack, journey: Journey, phone: Page, desk: Page, visit: Visit
) -> None:
    register(journey, stack)
    base = stack.endpoints.intake
    token = sign_in(journey, phone, base, NIK, PHONE)

    # The form shows what the register holds, read-only, and asks only for the rest.
    phone.goto(f"{base}/permohonan/baru/SKD")
    held = phone.locator("#data-penduduk")
    expect(held).to_contain_text("RINA MARLINA")
    expect(phone.get_by_label("Nama lengkap")).to_have_count(0)
    visit.page(phone, "formulir-data-penduduk")

    # Data tidak sesuai? Ajukan perbaikan.
    held.get_by_role("link", name="Data tidak sesuai? Ajukan perbaikan").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Ajukan perbaikan data")
    visit.page(phone, "perbaikan-formulir")
    phone.get_by_label("Data yang tidak sesuai").select_option("tempat_lahir")
    phone.get_by_label("Data yang benar").fill("BANDUNG")
    phone.get_by_label("Keterangan (bila perlu)").fill("Sesuai akta kelahiran")
    phone.get_by_label("Foto dokumen pendukung (bila ada): KTP, KK, atau akta").set_input_files(
        {"name": "akta.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    phone.get_by_role("button", name="Kirim permintaan perbaikan").click()
    expect(phone.get_by_role("status")).to_contain_text("sudah dikirim ke operator desa")
    expect(phone.locator("#daftar-perbaikan")).to_contain_text("Menunggu diperiksa")
    visit.page(phone, "data-saya-menunggu")

    # The operator accepts it on the staff pages.
    staff_base = stack.endpoints.verification
    staff_sign_in(desk, staff_base, OPERATOR, visit, "operator")
    desk.goto(f"{staff_base}/perbaikan-data")
    visit.page(desk, "perbaikan-daftar")
    desk.get_by_role("link", name="RINA MARLINA").first.click()
    expect(desk.locator("#usulan")).to_have_text("BANDUNG")
    visit.page(desk, "perbaikan-rinci")
    desk.get_by_role("button", name="Terima dan perbaiki data").click()
    expect(desk.locator("#keadaan")).to_have_text("Diterima")
    visit.page(desk, "perbaikan-diterima")

    # The resident reads the outcome; the register now says Bandung.
    phone.goto(f"{base}/data-saya")
    expect(phone.locator("#daftar-perbaikan")).to_contain_text("Diterima")
    expect(phone.locator("#data-penduduk")).to_contain_text("BANDUNG")
    visit.page(phone, "data-saya-diterima")

    # A birth letter: the child is chosen from her own KK and filled from the register.
    phone.goto(f"{base}/permohonan/baru/SKL")
    visit.page(phone, "skl-pilih-anak")
    phone.get_by_label("Desa tujuan").select_option(PAMANUKAN)
    phone.get_by_label("Keperluan").fill("Mengurus akta kelahiran")
    phone.get_by_label("Anak yang lahir: pilih dari Kartu Keluarga Anda").select_option(
        label="RAKA PRATAMA (anak, 2020-01-15)"
    )
    phone.get_by_role("button", name="Simpan dan lanjut unggah syarat").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Kelahiran")
    expect(phone.locator("#data-penduduk")).to_contain_text("RAKA PRATAMA")
    visit.page(phone, "skl-dari-data-penduduk")

    # A KTP uploaded once is offered for the next application.
    first = phone.url.rsplit("/", 1)[-1]
    r = journey.upload(token, first, "KTP", "ktp.jpg", photo())
    assert r.status_code == 201, r.text
    second = journey.create_application(token, "Melamar kerja", {})
    phone.goto(f"{base}/permohonan/{second}")
    phone.get_by_role("button", name="Pakai KTP yang tersimpan").click()
    expect(phone.get_by_role("status")).to_contain_text("Berkas tersimpan sudah dipakai")
    expect(phone.locator('[data-keadaan="KTP"]')).to_contain_text("Sudah diunggah")
    visit.page(phone, "ktp-tersimpan-dipakai")
    body = journey.application(token, second).json()
    assert [a["kind"] for a in body["attachments"]] == ["KTP"]
