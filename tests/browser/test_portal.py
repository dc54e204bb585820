"""The resident portal on a 360-px phone in the real browser: signing in with NIK and the
one-time code, the own applications list, choosing a letter type with its syarat, the form
with its errors and the draft it creates, the draft kept offline by the service worker and
localStorage, the first view's weight, and the installable PWA (manifest + service worker)."""

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from scripts.journey import Journey, wait_until
from tests.e2e.test_journey import PASSWORD, Stack
from tests.support.browser import CHROMIUM, PHONE, Visit, sticking_out_at_zoom
from tests.support.web import sign_in_form

# Kecamatan Pamanukan (32.13.11), born 01-01-1990; one resident per test (the code limit is
# per resident).
NIK_SIGN_IN = "3213110101900101"
NIK_FORM = "3213110101900102"
NIK_OFFLINE = "3213110101900103"
NIK_OWNER = "3213110101900104"
NIK_OTHER = "3213110101900105"
PHONE_SIGN_IN = "081311000101"
PHONE_FORM = "081311000102"
PHONE_OFFLINE = "081311000103"
PHONE_OWNER = "081311000104"
PHONE_OTHER = "081311000105"
PAMANUKAN = "32.13.11.2004"
FIRST_VIEW_BUDGET = 100_000  # bytes, images aside
# Resolves once the service worker controls the page (evaluate, not wait_for_function: the
# page's CSP refuses the eval that polling needs).
CONTROLLED = """navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller
    || new Promise(done => navigator.serviceWorker.addEventListener("controllerchange", done)))
    .then(() => true)"""


def _code_from_sink(journey: Journey, phone: str, before: int) -> str:
    def code() -> str | None:
        messages = journey.dev_messages(phone)
        if len(messages) <= before:
            return None
        match = re.search(r"\b(\d{6})\b", messages[0]["body"])
        return match.group(1) if match else None

    return wait_until("the one-time code in the dev sink", code)


def _signed_in(page: Page, stack: Stack, journey: Journey, nik: str, phone: str) -> str:
    """Signs in behind the pages (the API's token is what the page's cookie holds)."""
    token = journey.resident_sign_in(nik, phone)
    page.context.add_cookies([{"name": "sd_warga", "value": token, "url": stack.endpoints.intake}])
    return token


def _in_the_register(journey: Journey, nik: str, name: str, phone_number: str) -> None:
    """The resident in Pamanukan's population register with this phone (letters other than an
    SKD attest what the register says; the sign-in code goes to the register's phone)."""
    operator = journey.staff_token("operator.pamanukan", PASSWORD)
    r = journey.http.post(
        f"{journey.ep.verification}/api/v1/residents",
        headers={"Authorization": f"Bearer {operator}"},
        json={
            "nik": nik,
            "name": name,
            "sex": 1,
            "dusun": "Krajan",
            "rw": "001",
            "rt": "002",
            "phones": [phone_number],
        },
    )
    assert r.status_code in (201, 409), r.text  # 409: a rerun on the same stack


def test_resident_signs_in_with_nik_and_the_code(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    urls: list[str] = []
    phone.on("request", lambda r: urls.append(r.url))

    phone.goto(f"{base}/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Urus surat desa dari HP Anda")
    visit.page(phone, "beranda")
    phone.get_by_role("link", name="Masuk dengan NIK").click()
    expect(phone).to_have_url(f"{base}/masuk")
    visit.page(phone, "masuk")

    # A NIK that cannot be one: the message stands next to the field.
    phone.get_by_label("NIK").fill("3213113208900001")
    phone.get_by_label("Nomor HP").fill(PHONE_SIGN_IN)
    phone.get_by_role("button", name="Kirim kode masuk").click()
    expect(phone.locator("#f-nik-galat")).to_contain_text("NIK")
    expect(phone.get_by_label("NIK")).to_have_attribute("aria-invalid", "true")
    expect(phone.get_by_label("Nomor HP")).to_have_value(PHONE_SIGN_IN)  # kept
    visit.page(phone, "masuk-nik-salah")

    before = len(journey.dev_messages(PHONE_SIGN_IN))
    phone.get_by_label("NIK").fill(NIK_SIGN_IN)
    phone.get_by_role("button", name="Kirim kode masuk").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Masukkan kode masuk")
    expect(phone.get_by_role("status")).to_contain_text("Kode masuk telah dikirim")
    expect(phone.get_by_label("Kode masuk")).to_be_focused()  # the code goes straight in
    visit.page(phone, "masuk-kode")
    code = _code_from_sink(journey, PHONE_SIGN_IN, before)

    # The one before on this phone never signed out: what the service worker kept of their
    # pages is gone once someone signs in.
    phone.evaluate(CONTROLLED)
    kept = "caches.open('smartdesa-halaman-v3').then(c => c.put('/permohonan/orang-lain',"
    kept += " new Response('<p>lama</p>', {headers: {'content-type': 'text/html'}})))"
    phone.evaluate(kept)
    pages = "caches.keys().then(names => Promise.all(names.map(n => caches.open(n)"
    pages += ".then(c => c.keys())))).then(lists => lists.flat().map(r => r.url))"
    assert f"{base}/permohonan/orang-lain" in phone.evaluate(pages)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    phone.get_by_label("Kode masuk").fill(wrong)
    phone.get_by_role("button", name="Masuk", exact=True).click()
    expect(phone.locator("#f-otp-galat")).to_contain_text("Kode masuk salah")
    visit.page(phone, "masuk-kode-salah")
    assert f"{base}/permohonan/orang-lain" not in phone.evaluate(pages)
    assert not [c for c in phone.context.cookies() if c["name"] == "sd_warga"]

    phone.get_by_label("Kode masuk").fill("12ab")
    phone.get_by_role("button", name="Masuk", exact=True).click()
    expect(phone.locator("#f-otp-galat")).to_contain_text("6 digit angka")

    phone.get_by_label("Kode masuk").fill(code)
    phone.get_by_role("button", name="Masuk", exact=True).click()
    expect(phone).to_have_url(f"{base}/permohonan")
    expect(phone.get_by_text("Anda belum punya permohonan")).to_be_visible()
    visit.page(phone, "permohonan-kosong")

    cookie = next(c for c in phone.context.cookies() if c["name"] == "sd_warga")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["expires"] > 0  # lasts the resident token's lifetime, not the tab's

    # Signed in, the landing and sign-in pages lead on to the own applications.
    phone.goto(f"{base}/")
    expect(phone).to_have_url(f"{base}/permohonan")
    visit.page(phone, "beranda-ke-permohonan")
    phone.goto(f"{base}/masuk?lanjut=/permohonan/baru")
    expect(phone).to_have_url(f"{base}/permohonan/baru")
    visit.page(phone, "masuk-ke-lanjut")

    phone.get_by_role("button", name="Keluar").click()
    expect(phone.get_by_role("status")).to_contain_text("Anda sudah keluar")
    visit.page(phone, "keluar")
    assert not [c for c in phone.context.cookies() if c["name"] == "sd_warga"]

    # Neither the NIK nor the phone number ever went into a URL.
    for url in urls:
        assert NIK_SIGN_IN not in url and PHONE_SIGN_IN not in url, url


def test_too_many_wrong_codes_are_refused_next_to_the_field(stack: Stack, journey: Journey) -> None:
    nik, number = "3213110101900106", "081311000106"
    before = len(journey.dev_messages(number))
    with httpx.Client(base_url=stack.endpoints.intake, follow_redirects=False) as client:
        assert (
            client.post("/masuk", data=sign_in_form(client, nik=nik, phone=number)).status_code
            == 200
        )
        code = _code_from_sink(journey, number, before)
        form = sign_in_form(client, nik=nik, phone=number)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [client.post("/masuk/kode", data={**form, "otp": wrong}) for _ in range(6)]
        # Even the right code is refused now: a new one must be asked for.
        last = client.post("/masuk/kode", data={**form, "otp": code})
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert last.status_code == 429
    assert "Terlalu banyak percobaan kode yang salah" in last.text
    assert 'id="f-otp-galat"' in last.text
    assert "sd_warga" not in last.cookies
    assert "Kirim kode baru" in last.text


def test_not_signed_in_goes_to_sign_in_and_back(stack: Stack, phone: Page, visit: Visit) -> None:
    base = stack.endpoints.intake
    phone.goto(f"{base}/permohonan/baru")
    expect(phone).to_have_url(f"{base}/masuk?lanjut=/permohonan/baru")
    visit.page(phone, "masuk-lanjut")
    expect(phone.locator("input[name=lanjut]")).to_have_value("/permohonan/baru")


def test_choose_a_letter_type_fill_it_and_get_a_draft(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    token = _signed_in(phone, stack, journey, NIK_FORM, PHONE_FORM)

    phone.goto(f"{base}/permohonan")
    visit.page(phone, "permohonan-awal")
    phone.get_by_role("link", name="Ajukan surat baru").click()
    expect(phone).to_have_url(f"{base}/permohonan/baru")
    usaha = phone.get_by_role("region", name="Surat Keterangan Usaha")
    expect(usaha.get_by_text("Foto tempat usaha")).to_be_visible()  # its syarat, explained
    expect(usaha.get_by_text("papan nama")).to_be_visible()
    visit.page(phone, "pilih-surat")

    phone.get_by_role("link", name="Ajukan Surat Keterangan Domisili", exact=True).click()
    expect(phone).to_have_url(f"{base}/permohonan/baru/SKD")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Domisili")
    visit.page(phone, "isi-surat")

    # Wrong and missing fields: every error next to its field, what was typed kept.
    phone.get_by_label("Nama lengkap").fill("Siti Aminah")
    phone.get_by_role("textbox", name="RT", exact=True).fill("0a3")
    phone.get_by_label("Tanggal lahir").fill("2999-01-01")
    phone.get_by_role("button", name="Simpan dan lanjut unggah syarat").click()
    expect(phone.get_by_role("alert").first).to_contain_text("Periksa kembali")
    expect(phone.locator("#f-desa_code-galat")).to_contain_text("Pilih desa")
    expect(phone.locator("#f-purpose-galat")).to_contain_text("Keperluan wajib diisi")
    expect(phone.locator("#f-isian_alamat-galat")).to_contain_text("Alamat wajib diisi")
    expect(phone.locator("#f-isian_rt-galat")).to_contain_text("harus berupa angka")
    expect(phone.locator("#f-isian_tanggal_lahir-galat")).to_have_text(
        "Tanggal lahir harus tanggal yang valid dan sudah lewat, misalnya 15 Agustus 1990."
    )
    expect(phone.get_by_label("Tanggal lahir")).to_have_value("2999-01-01")  # kept in the picker
    expect(phone.locator("#f-isian_tanggal_lahir-kata")).to_have_text("1 Januari 2999")
    expect(phone.get_by_label("Nama lengkap")).to_have_value("Siti Aminah")
    expect(phone.get_by_role("textbox", name="RT", exact=True)).to_have_value("0a3")
    visit.page(phone, "isi-surat-galat")
    assert sticking_out_at_zoom(phone) == []  # 200 %: the errors, the picker, the desa list

    phone.get_by_label("Desa tujuan").select_option(PAMANUKAN)
    phone.get_by_label("Keperluan").fill("Persyaratan melamar pekerjaan")
    phone.get_by_role("textbox", name="Alamat", exact=True).fill("Dusun Krajan")
    phone.get_by_role("textbox", name="RT", exact=True).fill("003")
    phone.get_by_label("Tanggal lahir").fill("1990-01-01")
    expect(phone.locator("#f-isian_tanggal_lahir-kata")).to_have_text("1 Januari 1990")
    sex = phone.get_by_label("Jenis kelamin")
    expect(sex.locator("option")).to_have_text(["Pilih", "Laki-laki", "Perempuan"])
    sex.select_option(label="Perempuan")
    phone.get_by_role("button", name="Simpan dan lanjut unggah syarat").click()
    expect(phone).to_have_url(re.compile(re.escape(base) + r"/permohonan/[0-9a-f-]{36}$"))
    visit.page(phone, "permohonan-baru-dibuat")
    application_id = phone.url.rsplit("/", 1)[1]

    created = journey.application(token, application_id)
    assert created.status_code == 200, created.text
    body: dict[str, Any] = created.json()
    assert body["status"] == "draft"
    assert body["desa_code"] == PAMANUKAN
    assert body["letter_type"] == "SKD"
    assert body["fields"]["nama"] == "Siti Aminah"
    assert body["fields"]["rt"] == "003"
    assert body["fields"]["jenis_kelamin"] == "P"

    phone.goto(f"{base}/permohonan")
    entry = phone.get_by_role("listitem").filter(
        has=phone.get_by_role("link", name="Surat Keterangan Domisili")
    )
    expect(entry).to_contain_text("Draf, belum diajukan")
    expect(entry.get_by_role("link")).to_have_attribute("href", f"/permohonan/{application_id}")
    visit.page(phone, "permohonan-daftar")
    assert sticking_out_at_zoom(phone) == []  # 200 %: the status badges wrap


def test_the_draft_survives_going_offline(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    _in_the_register(journey, NIK_OFFLINE, "Dedi Kurnia", PHONE_OFFLINE)  # an SKU needs it
    _signed_in(phone, stack, journey, NIK_OFFLINE, PHONE_OFFLINE)
    context = phone.context

    phone.goto(f"{base}/permohonan/baru/SKU")
    phone.evaluate(CONTROLLED)
    phone.reload()  # now through the service worker, which keeps a copy of the page
    visit.page(phone, "isi-surat-lewat-sw")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Surat Keterangan Usaha")

    phone.get_by_label("Keperluan").fill("Pengajuan KUR")
    # The name is the register's, shown read-only (issue 13): nothing to type.
    expect(phone.get_by_text("Dedi Kurnia")).to_be_visible()
    phone.get_by_label("Nama usaha").fill("Warung Berkah")
    phone.get_by_label("Desa tujuan").select_option(PAMANUKAN)

    context.set_offline(True)
    response = phone.reload()
    assert response is not None and response.from_service_worker
    expect(phone.get_by_role("status").filter(has_text="Draf tersimpan dipulihkan")).to_be_visible()
    expect(phone.get_by_role("status").filter(has_text="salinan tersimpan")).to_be_visible()
    expect(phone.get_by_label("Nama usaha")).to_have_value("Warung Berkah")
    expect(phone.get_by_label("Keperluan")).to_have_value("Pengajuan KUR")
    expect(phone.get_by_label("Desa tujuan")).to_have_value(PAMANUKAN)
    visit.page(phone, "draf-luring")

    # Sending offline keeps the draft and says so.
    phone.get_by_label("Jenis usaha").fill("Warung sembako")
    phone.get_by_role("button", name="Simpan dan lanjut unggah syarat").click()
    expect(phone.get_by_role("alert")).to_contain_text(
        "Anda sedang luring; draf disimpan, kirim lagi saat tersambung"
    )
    expect(phone).to_have_url(f"{base}/permohonan/baru/SKU")
    saved = phone.evaluate("localStorage.getItem('smartdesa:draf:SKU')")
    assert saved is not None and "Warung sembako" in saved
    assert NIK_OFFLINE not in saved

    # A page never visited comes from the offline page.
    phone.goto(f"{base}/permohonan/baru/SKTM")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Anda sedang luring")
    visit.page(phone, "luring")
    expect(phone.get_by_text("salinan tersimpan")).to_have_count(0)

    # Back online: the draft is restored once more, sent, and then forgotten.
    context.set_offline(False)
    phone.goto(f"{base}/permohonan/baru/SKU")
    visit.page(phone, "isi-surat-tersambung")
    expect(phone.get_by_label("Jenis usaha")).to_have_value("Warung sembako")
    phone.get_by_role("textbox", name="Alamat", exact=True).fill("Dusun Krajan")
    phone.get_by_label("Alamat tempat usaha").fill("Pasar Pamanukan")
    phone.get_by_role("button", name="Simpan dan lanjut unggah syarat").click()
    expect(phone).to_have_url(re.compile(r"/permohonan/[0-9a-f-]{36}$"))
    visit.page(phone, "permohonan-kedua")
    wait_until(
        "the draft to be forgotten",
        lambda: phone.evaluate("localStorage.getItem('smartdesa:draf:SKU') === null") or None,
    )
    phone.goto(f"{base}/permohonan/baru/SKU")
    visit.page(phone, "isi-surat-bersih")
    expect(phone.get_by_label("Nama usaha")).to_have_value("")
    phone.get_by_label("Nama usaha").fill("Toko Sebelah")  # a draft left behind
    # An unfinished upload as static/unggah.js keeps it (the file's name in the key).
    phone.evaluate("localStorage.setItem('sd-unggah:x:KTP:1-a:ktp-dedi.jpg', '{}')")
    drafts = "Object.keys(localStorage).filter(k => /^(smartdesa:draf:|sd-unggah:)/.test(k))"
    assert sorted(phone.evaluate(drafts)) == [
        "sd-unggah:x:KTP:1-a:ktp-dedi.jpg",
        "smartdesa:draf:SKU",
    ]

    # Signing out empties the pages the service worker kept and the drafts (a shared phone
    # shows the next person nothing).
    cached = "caches.keys().then(names => Promise.all(names.map(n => caches.open(n)"
    cached += ".then(c => c.keys())))).then(lists => lists.flat().map(r => r.url))"
    assert f"{base}/permohonan/baru/SKU" in phone.evaluate(cached)
    phone.get_by_role("button", name="Keluar").click()
    expect(phone.get_by_role("status")).to_contain_text("Anda sudah keluar")
    visit.page(phone, "keluar")
    assert not [u for u in phone.evaluate(cached) if "/permohonan" in u]
    assert phone.evaluate(drafts) == []


def _first_view_bytes(
    context: BrowserContext, page: Page, base: str, visit: Visit
) -> tuple[int, list[str]]:
    """Every response of the landing page and the sign-in page (the service worker's own
    fetches of the app shell included), images aside: what a phone downloads on first use."""
    sizes: list[tuple[int, str]] = []

    def count(r: Response) -> None:
        kind = r.headers.get("content-type", "")
        if r.request.resource_type == "image" or kind.startswith("image/"):
            return
        if 300 <= r.status < 400:  # a redirect has no body
            return
        sizes.append((len(r.body()), r.url))  # read now: gone after the next navigation

    context.on("response", count)
    page.goto(f"{base}/")
    page.evaluate(CONTROLLED)
    visit.page(page, "beranda")  # screenshots and axe-core fetch nothing from the site
    page.get_by_role("link", name="Masuk dengan NIK").click()
    expect(page.get_by_label("NIK")).to_be_visible()
    page.wait_for_load_state("networkidle")
    context.remove_listener("response", count)
    return sum(size for size, _ in sizes), [f"{size:>7} {url}" for size, url in sizes]


def test_the_first_view_is_light(stack: Stack, phone: Page, visit: Visit) -> None:
    total, seen = _first_view_bytes(phone.context, phone, stack.endpoints.intake, visit)
    assert any(line.endswith("/static/umum/app.css") for line in seen), seen
    assert total < FIRST_VIEW_BUDGET, "\n".join(seen)
    visit.page(phone, "masuk")


def test_the_portal_is_an_installable_app(
    stack: Stack, browser: Browser, phone: Page, visit: Visit, tmp_path: Path
) -> None:
    base = stack.endpoints.intake
    phone.goto(f"{base}/")
    visit.page(phone, "beranda")
    scope = phone.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{base}/"

    manifest = phone.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["lang"] == "id"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    assert manifest["theme_color"] == "#0b5d3b"
    assert manifest["short_name"] == "Smart Desa"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512", "any"}
    for icon in manifest["icons"]:
        r = httpx.get(f"{base}{icon['src']}")
        assert r.status_code == 200 and r.headers["content-type"] == icon["type"]

    # Chromium's own installability checks; they need a profile on disk (a test's context is
    # incognito, which Chromium never offers to install from).
    with browser.browser_type.launch_persistent_context(
        tmp_path / "profil",
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="id-ID",
    ) as profile:
        page = profile.pages[0] if profile.pages else profile.new_page()
        page.goto(f"{base}/")
        page.evaluate(CONTROLLED)
        visit.page(page, "beranda-profil")
        cdp = profile.new_cdp_session(page)
        parsed = cdp.send("Page.getAppManifest")
        assert parsed["errors"] == [], parsed["errors"]
        assert parsed["url"] == f"{base}/manifest.webmanifest"
        installability = cdp.send("Page.getInstallabilityErrors")
        errors = [e["errorId"] for e in installability["installabilityErrors"]]
        assert errors == [], errors


def test_a_resident_sees_only_their_own_applications(
    stack: Stack, journey: Journey, phone: Page, visit: Visit
) -> None:
    base = stack.endpoints.intake
    other = journey.resident_sign_in(NIK_OTHER, PHONE_OTHER)
    theirs = journey.create_application(
        other, "Milik orang lain", {"nama": "Orang Lain", "alamat": "Dusun Lain"}
    )
    owner = _signed_in(phone, stack, journey, NIK_OWNER, PHONE_OWNER)
    mine = journey.create_application(
        owner, "Punya saya", {"nama": "Pemilik", "alamat": "Dusun Krajan"}
    )

    phone.goto(f"{base}/permohonan")
    expect(phone.locator(f"a[href='/permohonan/{mine}']")).to_have_count(1)
    expect(phone.locator(f"a[href='/permohonan/{theirs}']")).to_have_count(0)
    visit.page(phone, "permohonan-sendiri")

    # A form post without this session's CSRF token is refused, even with the cookie.
    forged = httpx.post(
        f"{base}/permohonan/baru/SKD",
        data={"desa_code": PAMANUKAN, "purpose": "x", "isian_nama": "x", "isian_alamat": "x"},
        cookies={"sd_warga": owner},
    )
    assert forged.status_code == 403 and "Formulir sudah kedaluwarsa" in forged.text

    response = phone.goto(f"{base}/permohonan/{theirs}")
    assert response is not None and response.status == 404
    expect(phone.get_by_role("heading", level=1)).to_have_text("Tidak ditemukan")
    visit.page(phone, "permohonan-orang-lain")
