"""A resident's application page on a 360-px phone, in the real browser: chunked uploads with a
progress bar that survive a dropped connection, `Ajukan`, a revision fixed on the page and
resubmitted, and the signed letter downloaded once the three approvals are in."""

import hashlib
import io
import os
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import FilePayload, Page, Route, expect

from scripts.journey import Journey, sample_pdf
from services.intake import file_safety
from tests.e2e.test_journey import PASSWORD, Stack
from tests.intake.samples import JPEG, padded_pdf, padding_of
from tests.support.browser import Visit, sticking_out_at_zoom

KASI = "pemerintahan.pamanukan"
SEKDES = "sekdes.pamanukan"
KADES = "kades.pamanukan"
FIELDS = {"nama": "Siti Rahmawati", "alamat": "Dusun Sukamaju RT 003 RW 002", "jenis_kelamin": "P"}
CHUNK = 256 * 1024


def noisy_photo(width: int, height: int) -> bytes:
    """A real JPEG of random pixels: noise does not compress, so it is a few chunks long."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        out, "JPEG", quality=95
    )
    return out.getvalue()


def stored_sha(photo: bytes) -> str:
    """The SHA-256 of the clean copy intake stores of `photo` (an image's is the same every
    time; tests/intake/test_safe_uploads.py checks what it holds)."""
    return hashlib.sha256(file_safety.clean(photo).content).hexdigest()


# A phone photo of the KTP and a scanned KK, each a few chunks long.
KTP_PHOTO = noisy_photo(900, 600)
KK_SCAN = padded_pdf(CHUNK * 3 + 999, fill=os.urandom(4096))


def sign_in(journey: Journey, page: Page, base: str, nik: str, phone: str) -> str:
    """The resident signed in: the API's token as the portal's session cookie."""
    token = journey.resident_sign_in(nik, phone)
    page.context.add_cookies([{"name": "sd_warga", "value": token, "url": base}])
    return token


def attachment_sha(journey: Journey, token: str, application_id: str, kind: str) -> str:
    body: dict[str, Any] = journey.application(token, application_id).json()
    return str(next(a["sha256"] for a in body["attachments"] if a["kind"] == kind))


def attachment_size(journey: Journey, token: str, application_id: str, kind: str) -> int:
    body: dict[str, Any] = journey.application(token, application_id).json()
    return int(next(a["size_bytes"] for a in body["attachments"] if a["kind"] == kind))


def upload(page: Page, label: str, kind: str, name: str, mime: str, content: bytes) -> None:
    page.get_by_label(label).set_input_files({"name": name, "mimeType": mime, "buffer": content})
    text = page.locator(f"#teks-{kind}")
    expect(text).to_contain_text("100%", timeout=60_000)
    expect(text).to_contain_text("Berkas terunggah")
    expect(page.locator(f"#kemajuan-{kind}")).to_have_js_property("value", 100)
    expect(page.locator(f'[data-keadaan="{kind}"]')).to_contain_text("Sudah diunggah")


def test_upload_submit_revise_resubmit_and_download(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    token = sign_in(journey, phone, base, "3213116505920003", "081298765401")
    app_id = journey.create_application(token, "Persyaratan membuka rekening bank", FIELDS)

    phone.goto(f"{base}/permohonan/{app_id}")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Domisili")
    expect(phone.locator("#status")).to_have_text("Draf, belum diajukan")
    # One upload control per syarat (the phone offers its camera from it).
    expect(phone.locator("#syarat-KTP input[type=file]")).to_have_count(1)
    visit.page(phone, "draf")

    # The KTP photo, in chunks, with the progress announced.
    upload(phone, "Pilih foto atau PDF: KTP pemohon", "KTP", "ktp.jpg", "image/jpeg", KTP_PHOTO)
    assert attachment_sha(journey, token, app_id, "KTP") == stored_sha(KTP_PHOTO)
    # What was chosen shows beside the control: the photo small, and its name.
    sent = phone.locator("#terkirim-KTP")
    expect(sent.get_by_role("img", name="Foto yang dipilih: KTP pemohon")).to_be_visible()
    expect(sent).to_contain_text("ktp.jpg")

    # The KK scan: the connection drops during the second chunk; the page asks the server
    # where it stands and carries on from there.
    offsets: list[str] = []
    dropped: list[str] = []

    def flaky(route: Route) -> None:
        request = route.request
        if request.method == "PUT":
            offset = request.headers.get("upload-offset", "")
            offsets.append(offset)
            if offset == str(CHUNK) and not dropped:
                dropped.append(offset)
                route.abort("connectionreset")
                return
        route.continue_()

    phone.route("**/api/v1/uploads/*", flaky)
    upload(phone, "Pilih foto atau PDF: Kartu Keluarga", "KK", "kk.pdf", "application/pdf", KK_SCAN)
    phone.unroute("**/api/v1/uploads/*")
    assert dropped == [str(CHUNK)]
    # Resumed at the dropped chunk's offset, never from the start again.
    assert offsets == [str(n * CHUNK) for n in (0, 1, 1, 2, 3)], offsets
    # Stored as its clean copy (the PDF written anew), which keeps every chunk's bytes
    # (tests/intake/test_resumable_uploads.py checks them byte for byte).
    assert attachment_size(journey, token, app_id, "KK") > len(padding_of(KK_SCAN))
    expect(phone.locator("#terkirim-KK")).to_contain_text("kk.pdf")
    visit.page(phone, "syarat-terunggah")
    # After a reload the photo sent comes from the server, small.
    phone.reload()
    thumbnail = phone.locator("#terkirim-KTP").get_by_role(
        "img", name="Foto yang terkirim: KTP pemohon"
    )
    expect(thumbnail).to_be_visible()
    expect(thumbnail).not_to_have_js_property("naturalWidth", 0)
    # … and a PDF's name stands beside its badge.
    expect(phone.locator('[data-nama-berkas="KK"]')).to_have_text("kk.pdf")
    # At 200 % zoom nothing sticks out sideways: not the badges, not the upload controls.
    assert sticking_out_at_zoom(phone) == []

    phone.get_by_role("button", name="Ajukan").click()
    expect(phone.get_by_role("status")).to_contain_text("Permohonan sudah diajukan")
    expect(phone.locator("#status")).to_have_text("Sedang diperiksa")
    number = journey.application(token, app_id).json()["number"]
    expect(phone.locator("#nomor-permohonan")).to_have_text(number)
    expect(phone.locator(".garis-waktu")).to_contain_text(
        f"Permohonan diterima dengan nomor {number}."
    )
    visit.page(phone, "diajukan")

    # The Kasi returns it for revision.
    kasi = journey.staff_token(KASI, PASSWORD)
    journey.wait_for_task(kasi, app_id, 0)
    returned = journey.decide(kasi, app_id, "revise", reason="Foto KTP buram, mohon difoto ulang")
    assert returned.status_code == 200, returned.text
    journey.wait_for_status(token, app_id, "revision_requested")

    phone.reload()
    expect(phone.locator("#status")).to_have_text("Perlu perbaikan")
    expect(phone.get_by_role("heading", name="Permohonan perlu diperbaiki")).to_be_visible()
    expect(phone.locator("#isi")).to_contain_text("Foto KTP buram, mohon difoto ulang")
    expect(phone.locator(".garis-waktu")).to_contain_text("Dikembalikan untuk perbaikan.")
    expect(phone.locator(".garis-waktu")).to_contain_text("oleh Kasi Pemerintahan")
    # What to do next, naming the button below by its name.
    expect(phone.locator("#sekarang")).to_contain_text('lalu tekan "Kirim perbaikan"')
    visit.page(phone, "perlu-perbaikan")

    # Fixed on the page: the address and a new KTP photo; then sent back.
    phone.get_by_label("Alamat").fill("Dusun Sukamaju RT 003 RW 002, Pamanukan")
    phone.get_by_role("button", name="Simpan isian").click()
    expect(phone.get_by_role("status")).to_contain_text("Perubahan isian sudah disimpan")
    new_photo = noisy_photo(500, 400)
    upload(phone, "Ganti berkas: KTP pemohon", "KTP", "ktp-baru.jpg", "image/jpeg", new_photo)
    visit.page(phone, "diperbaiki")
    phone.get_by_role("button", name="Kirim perbaikan").click()
    expect(phone.get_by_role("status")).to_contain_text("Perbaikan sudah dikirim")
    expect(phone.locator(".garis-waktu")).to_contain_text("Perbaikan dikirim ulang")
    resubmitted = journey.application(token, app_id).json()
    assert resubmitted["fields"]["alamat"] == "Dusun Sukamaju RT 003 RW 002, Pamanukan"
    assert attachment_sha(journey, token, app_id, "KTP") == stored_sha(new_photo)

    # Three approvals, then the letter is signed and issued.
    for username, step in ((KASI, 0), (SEKDES, 1), (KADES, 2)):
        staff = journey.staff_token(username, PASSWORD)
        journey.wait_for_task(staff, app_id, step)
        decided = journey.decide(staff, app_id, "approve")
        assert decided.status_code == 200, decided.text
    journey.wait_for_status(token, app_id, "issued")

    phone.reload()
    expect(phone.get_by_role("heading", name="Surat Anda sudah terbit")).to_be_visible()
    expect(phone.locator(".garis-waktu")).to_contain_text("Disetujui oleh Kepala Desa")
    expect(phone.get_by_role("link", name="halaman verifikasi surat")).to_have_attribute(
        "href", journey.application(token, app_id).json()["letter"]["verification_url"]
    )
    visit.page(phone, "surat-terbit")
    with phone.expect_download() as download:
        phone.get_by_role("link", name="Unduh surat").click()
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.value.suggested_filename.startswith("surat-")

    # `Cetak` shows the same letter in the browser rather than downloading it.
    printable = phone.get_by_role("link", name="Cetak")
    href = printable.get_attribute("href")
    assert href == f"/permohonan/{app_id}/surat.pdf"
    cookies = {"sd_warga": token}
    inline = httpx.get(f"{base}{href}", cookies=cookies, headers={"Accept-Encoding": "gzip"})
    assert inline.status_code == 200
    assert inline.headers["content-disposition"].startswith("inline;")
    assert inline.content.startswith(b"%PDF-")
    assert "content-encoding" not in inline.headers  # a PDF goes as it is, never gzipped


def test_without_script_the_plain_forms_work_and_refusals_are_plain(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    """unggah.js never arrives (an old phone, a dropped request): the plain forms still work.
    (The script is blocked rather than JavaScript turned off, so axe-core can still run.)"""
    base = stack.endpoints.intake
    phone.route("**/static/unggah.js", lambda route: route.abort())
    token = sign_in(journey, phone, base, "3213114612880004", "081298765402")
    app_id = journey.create_application(token, "Persyaratan sekolah anak", FIELDS)
    phone.goto(f"{base}/permohonan/{app_id}")
    expect(phone.locator("#syarat-KTP").get_by_role("button", name="Unggah")).to_be_visible()
    visit.page(phone, "tanpa-skrip")

    phone.get_by_label("Pilih foto atau PDF: KTP pemohon").set_input_files(
        {"name": "ktp.jpg", "mimeType": "image/jpeg", "buffer": JPEG}
    )
    phone.locator("#syarat-KTP").get_by_role("button", name="Unggah").click()
    expect(phone.get_by_role("status")).to_contain_text("Berkas sudah diunggah")
    expect(phone.locator('[data-keadaan="KTP"]')).to_contain_text("Sudah diunggah: foto JPEG")
    visit.page(phone, "berkas-terunggah")

    # Not a picture nor a PDF: refused next to its syarat, nothing kept.
    phone.get_by_label("Pilih foto atau PDF: Kartu Keluarga").set_input_files(
        {"name": "kk.pdf", "mimeType": "application/pdf", "buffer": b"bukan PDF sama sekali"}
    )
    phone.locator("#syarat-KK").get_by_role("button", name="Unggah").click()
    expect(phone.locator("#galat-KK")).to_have_text(
        "Berkas harus berupa gambar JPEG, PNG, atau dokumen PDF."
    )
    visit.page(phone, "berkas-ditolak")
    assert [a["kind"] for a in journey.application(token, app_id).json()["attachments"]] == ["KTP"]

    # Submitting with the KK missing: the API's refusal, in plain words.
    phone.get_by_role("button", name="Ajukan").click()
    expect(phone.get_by_role("alert").first).to_contain_text(
        "Syarat belum lengkap: Kartu Keluarga (KK)"
    )
    visit.page(phone, "syarat-kurang")
    assert journey.application(token, app_id).json()["status"] == "draft"

    # A wrong value is shown next to its field.
    phone.get_by_label("Keperluan").fill("")
    phone.get_by_role("button", name="Simpan isian").click()
    expect(phone.locator("#f-purpose-galat")).to_have_text("Keperluan wajib diisi.")
    visit.page(phone, "isian-salah")


def test_another_residents_application_is_not_found(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    owner = journey.resident_sign_in("3213110303910005", "081298765403")
    app_id = journey.create_application(owner, "Persyaratan kerja", FIELDS)
    sign_in(journey, phone, base, "3213110404930006", "081298765404")
    response = phone.goto(f"{base}/permohonan/{app_id}")
    assert response is not None and response.status == 404
    expect(phone.get_by_role("heading", level=1)).to_have_text("Tidak ditemukan")
    expect(phone.get_by_role("alert")).to_have_text("Permohonan tidak ditemukan.")
    visit.page(phone, "bukan-miliknya")
    assert journey.application(owner, app_id).status_code == 200


def test_an_upload_cut_off_by_a_reload_resumes_when_the_same_file_is_chosen(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    token = sign_in(journey, phone, base, "3213115012950007", "081298765405")
    app_id = journey.create_application(token, "Persyaratan pindah domisili", FIELDS)
    phone.goto(f"{base}/permohonan/{app_id}")
    visit.page(phone, "draf")

    offsets: list[str] = []
    offline = [True]

    def cut_after_the_first_chunk(route: Route) -> None:
        if route.request.method == "PUT":
            offset = route.request.headers.get("upload-offset", "")
            offsets.append(offset)
            if offline[0] and offset != "0":
                route.abort("internetdisconnected")
                return
        route.continue_()

    phone.route("**/api/v1/uploads/*", cut_after_the_first_chunk)
    scan: FilePayload = {"name": "kk.pdf", "mimeType": "application/pdf", "buffer": KK_SCAN}
    phone.get_by_label("Pilih foto atau PDF: Kartu Keluarga").set_input_files(scan)
    expect(phone.locator("#teks-KK")).to_contain_text("Koneksi terputus. Mencoba lagi")
    visit.page(phone, "koneksi-terputus")

    # The resident gives up and reloads; later, back online, they choose the same file. Back
    # online only after the reload: before it, the page's own retry could still send the second
    # chunk (seen on a loaded machine), and the resumption would rightly start after it.
    phone.reload()
    expect(phone.locator("#teks-KK")).to_contain_text(
        "Unggahan \u201ckk.pdf\u201d belum selesai. Pilih berkas yang sama untuk melanjutkannya."
    )
    visit.page(phone, "unggahan-tertunda")
    offline[0] = False
    offsets.clear()
    phone.get_by_label("Pilih foto atau PDF: Kartu Keluarga").set_input_files(scan)
    expect(phone.locator("#teks-KK")).to_contain_text("Berkas terunggah", timeout=60_000)
    assert offsets == [str(n * CHUNK) for n in (1, 2, 3)], offsets  # not from the start
    # Stored as its clean copy (the PDF written anew), which keeps every chunk's bytes
    # (tests/intake/test_resumable_uploads.py checks them byte for byte).
    assert attachment_size(journey, token, app_id, "KK") > len(padding_of(KK_SCAN))
    visit.page(phone, "unggahan-dilanjutkan")


def test_cancelling_asks_first(stack: Stack, journey: Journey, phone: Page, visit: Visit) -> None:
    base = stack.endpoints.intake
    token = sign_in(journey, phone, base, "3213111108970008", "081298765406")
    app_id = journey.create_application(token, "Persyaratan bantuan sosial", FIELDS)
    for kind, name, content in (("KTP", "ktp.jpg", JPEG), ("KK", "kk.pdf", sample_pdf())):
        assert journey.upload(token, app_id, kind, name, content).status_code == 201
    assert journey.submit(token, app_id).status_code == 202

    phone.goto(f"{base}/permohonan/{app_id}")
    expect(phone.locator("#status")).to_have_text("Sedang diperiksa")
    phone.get_by_role("link", name="Batalkan permohonan").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Batalkan permohonan?")
    visit.page(phone, "yakin-batal")
    phone.get_by_role("link", name="Tidak, kembali").click()
    expect(phone.locator("#status")).to_have_text("Sedang diperiksa")

    phone.get_by_role("link", name="Batalkan permohonan").click()
    phone.get_by_role("button", name="Ya, batalkan permohonan").click()
    expect(phone.get_by_role("status")).to_contain_text("Permohonan sudah dibatalkan")
    expect(phone.locator("#status")).to_have_text("Dibatalkan")
    expect(phone.locator(".garis-waktu")).to_contain_text("Dibatalkan oleh pemohon")
    expect(phone.get_by_role("link", name="Batalkan permohonan")).to_have_count(0)
    visit.page(phone, "dibatalkan")
    assert journey.application(token, app_id).json()["status"] == "cancelled"


def test_an_optional_syarat_is_uploaded_by_the_script_and_never_required(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    """SKJAMKESOS takes a referral if the resident has one ("Tidak wajib"): the page offers its
    upload like a required one's, through the chunked upload, and labels it."""
    base = stack.endpoints.intake
    # A resident of Pamanukan's register nobody else in the browser tests uses: SKJAMKESOS
    # attests what the register says.
    nik, number = "3213115203880009", "081377700791"
    staff = journey.staff_token("operator.pamanukan", PASSWORD)
    added = httpx.post(
        f"{stack.endpoints.verification}/api/v1/residents",
        json={
            "nik": nik,
            "name": "NENG SUMIATI",
            "sex": 2,
            "kk_level": 1,
            "birth_place": "SUBANG",
            "birth_date": "1988-03-12",
            "religion": 1,
            "phones": [number],
            "kk_number": "3213110101880099",
            "dusun": "KRAJAN",
            "rw": "002",
            "rt": "004",
            "address": "KP. KRAJAN",
        },
        headers={"Authorization": f"Bearer {staff}"},
    )
    assert added.status_code == 201, added.text
    token = sign_in(journey, phone, base, nik, number)
    app_id = journey.create_application(
        token,
        "Berobat ke puskesmas",
        {**FIELDS, "fasilitas_kesehatan": "Puskesmas Pamanukan"},
        letter_type="SKJAMKESOS",
    )
    phone.goto(f"{base}/permohonan/{app_id}")
    optional = phone.locator("#syarat-RUJUKAN")
    expect(optional.get_by_role("heading", level=3)).to_contain_text("Tidak wajib")
    expect(phone.locator('[data-keadaan="RUJUKAN"]')).to_have_text("Belum diunggah (tidak wajib)")
    visit.page(phone, "syarat-tidak-wajib")
    upload(
        phone, "Pilih foto atau PDF: Surat rujukan", "RUJUKAN", "rujukan.jpg", "image/jpeg", JPEG
    )
    assert attachment_sha(journey, token, app_id, "RUJUKAN") == stored_sha(JPEG)
