"""The kabupaten view in the real browser: two letters of Desa Pamanukan (one decided by the
Kasi), Diskominfo's operator sees them counted per kecamatan and desa and the Kasi's step time,
every row links to the stack's Temporal UI filtered to it, and following a link shows the
letter's workflow there. A desa staff member gets the refusal page."""

from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from playwright.sync_api import Page, expect

from scripts.journey import Journey, sample_pdf, sample_png, wait_until
from tests.e2e.test_journey import NIK_A, PASSWORD, PHONE_A, Stack
from tests.support.browser import Visit
from tests.support.web import sign_in_form

PAMANUKAN = "32.13.11.2004"
KECAMATAN = "32.13.11"
DISKOMINFO = "diskominfo.subang"
STATES = ("masuk", "diproses", "terlambat", "terbit", "ditolak", "dibatalkan", "kedaluwarsa")


def _submitted_application(journey: Journey, resident: str, purpose: str) -> str:
    app_id = journey.create_application(
        resident,
        purpose,
        {"nama": "Budi Santoso", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "L"},
    )
    for kind, name, content in (("KTP", "ktp.png", sample_png()), ("KK", "kk.pdf", sample_pdf())):
        assert journey.upload(resident, app_id, kind, name, content).status_code == 201
    assert journey.submit(resident, app_id).status_code == 202
    return app_id


def _summary(stack: Stack, token: str, **params: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.endpoints.verification}/api/v1/kabupaten/summary",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sign_in(page: Page, visit: Visit, base: str, username: str, target: str) -> None:
    page.goto(f"{base}{target}")
    expect(page).to_have_url(f"{base}/masuk?lanjut={target}")
    visit.page(page, "masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()


def _row_counts(page: Page, table: str, code: str) -> dict[str, int]:
    cells = page.locator(f"#{table} tr[data-kode='{code}'] td.angka").all_inner_texts()
    return dict(zip(STATES, (int(c) for c in cells), strict=True))


def test_the_kabupaten_operator_sees_letters_step_times_and_temporal_links(
    stack: Stack, journey: Journey, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    temporal_ui = f"http://127.0.0.1:{stack.env['SMARTDESA_DEV_TEMPORAL_UI_PORT']}"

    resident = journey.resident_sign_in(NIK_A, PHONE_A)
    decided = _submitted_application(journey, resident, "Persyaratan membuka rekening bank")
    waiting = _submitted_application(journey, resident, "Persyaratan melamar pekerjaan")
    kasi = journey.staff_token("pemerintahan.pamanukan", PASSWORD)
    journey.wait_for_task(kasi, decided, 0)
    journey.wait_for_task(kasi, waiting, 0)
    assert journey.decide(kasi, decided, "approve", step=0).status_code == 200

    operator = journey.staff_token(DISKOMINFO, PASSWORD)

    def projected() -> dict[str, Any] | None:
        summary = _summary(stack, operator)
        desa = {row["code"]: row for row in summary["desa"]}
        kasi_steps = [s for s in summary["steps"] if s["role"] == "kasi"]
        ready = PAMANUKAN in desa and desa[PAMANUKAN]["counts"]["masuk"] >= 2 and kasi_steps
        return summary if ready else None

    wait_until("both letters in the kabupaten summary", projected)

    _sign_in(desk, visit, base, DISKOMINFO, "/kabupaten")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Pantauan kabupaten")
    expect(desk.get_by_role("link", name="Pantauan kabupaten")).to_have_attribute(
        "aria-current", "page"
    )
    visit.page(desk, "kabupaten")

    # The page shows the API's numbers (other tests' letters may be counted too).
    summary = _summary(stack, operator)
    desa = {row["code"]: row for row in summary["desa"]}
    kecamatan = {row["code"]: row for row in summary["kecamatan"]}
    assert _row_counts(desk, "tabel-desa", PAMANUKAN) == desa[PAMANUKAN]["counts"]
    assert _row_counts(desk, "tabel-kecamatan", KECAMATAN) == kecamatan[KECAMATAN]["counts"]
    assert desa[PAMANUKAN]["counts"]["masuk"] >= 2
    for key in STATES:
        expect(desk.locator(f"dd[data-keadaan='{key}']")).to_have_text(str(summary["total"][key]))
    kasi_row = desk.locator("#tabel-tahap tr[data-peran='kasi']")
    expect(kasi_row.get_by_role("rowheader")).to_have_text("Kasi")
    [kasi_steps] = [s for s in summary["steps"] if s["role"] == "kasi"]
    expect(kasi_row.locator("td").first).to_have_text(str(kasi_steps["decided"]))
    expect(kasi_row.locator("td").nth(1)).to_contain_text("kerja")  # the median in working time

    # Every row links to the Temporal UI of this stack, filtered to it.
    def link_query(name: str) -> str:
        href = desk.get_by_role("link", name=name).get_attribute("href")
        assert href is not None
        parts = urlsplit(href)
        assert f"{parts.scheme}://{parts.netloc}" == temporal_ui
        assert parts.path == "/namespaces/default/workflows"
        return parse_qs(parts.query)["query"][0]

    assert link_query("Desa Pamanukan di Temporal UI") == f'DesaCode = "{PAMANUKAN}"'
    assert link_query("Kecamatan Pamanukan di Temporal UI") == f'KecamatanCode = "{KECAMATAN}"'
    assert link_query("Semua yang terlambat di Temporal UI") == "Overdue = true"
    for row in summary["overdue"]:  # none unless a deadline passed; each a workflow's list
        overdue_link = desk.locator(f"tr[data-permohonan='{row['application_id']}'] a")
        expect(overdue_link).to_have_attribute("href", row["temporal_url"])

    # Narrowed to the kecamatan: its desa are all listed.
    desk.get_by_label("Kecamatan", exact=True).select_option(KECAMATAN)
    desk.get_by_role("button", name="Tampilkan").click()
    expect(desk.locator("#tabel-kecamatan tbody tr")).to_have_count(1)
    expect(desk.locator("#tabel-desa tbody tr")).to_have_count(8)
    assert parse_qs(urlsplit(desk.url).query)["kecamatan"] == [KECAMATAN]
    visit.page(desk, "kabupaten-pamanukan")

    # A period that ends before it starts: the message sits by the field, nothing is shown.
    desk.get_by_label("Periode", exact=True).select_option("pilihan")
    desk.get_by_label("Dari tanggal").fill("2026-11-30")
    desk.get_by_label("Sampai tanggal").fill("2026-11-01")
    desk.get_by_role("button", name="Tampilkan").click()
    expect(desk.get_by_role("alert")).to_contain_text("Periksa kembali")
    expect(desk.locator("#f-sampai-galat")).to_have_text(
        "Tanggal akhir tidak boleh sebelum tanggal awal."
    )
    expect(desk.locator("#tabel-desa")).to_have_count(0)
    visit.page(desk, "kabupaten-periode-salah")

    # Follow the desa's link into the real Temporal UI (not our page: no axe there).
    desk.goto(f"{base}/kabupaten?kecamatan={quote(KECAMATAN)}")
    visit.page(desk, "kabupaten-lagi")
    desk.get_by_role("link", name="Desa Pamanukan di Temporal UI").click()
    expect(desk).to_have_url(
        f"{temporal_ui}/namespaces/default/workflows?query="
        + quote(f'DesaCode = "{PAMANUKAN}"', safe="")
    )
    expect(desk.get_by_text(f"surat-{decided}").first).to_be_visible(timeout=60_000)
    expect(desk.get_by_text(f"surat-{waiting}").first).to_be_visible()


def test_the_dpmd_viewer_reads_the_view_and_desa_staff_are_refused(
    stack: Stack, desk: Page, visit: Visit
) -> None:
    base = stack.endpoints.verification
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        signed_in = client.post(
            "/masuk",
            data=sign_in_form(client, username="dpmd.subang", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        page = client.get("/kabupaten")
        assert page.status_code == 200
        assert "Pantauan kabupaten" in page.text
        assert 'id="tabel-kecamatan"' in page.text

    _sign_in(desk, visit, base, "pemerintahan.pamanukan", "/kabupaten")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Tidak diizinkan")
    expect(desk.get_by_role("alert")).to_have_text("Fitur ini hanya untuk petugas kabupaten.")
    visit.page(desk, "kabupaten-ditolak")
