"""The desa administration pages (/pengaturan) in-process: they check role and desa as the API
does, re-show a form with the Indonesian message on bad input, and change nothing then."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def _signed_in(service: Service, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the same in-process app, signed in by the session cookie."""
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username=username, password=PASSWORD),
        )
        assert r.status_code == 303, r.text
        yield client


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None
    return match.group(1)


async def test_a_kasi_sees_the_overview_but_not_the_admin_forms(service: Service) -> None:
    async with _signed_in(service, "pemerintahan.pamanukan") as kasi:
        overview = await kasi.get("/pengaturan")
        assert overview.status_code == 200
        assert "hanya Sekretaris Desa atau Kepala Desa" in overview.text
        for path in (
            "/pengaturan/akun",
            "/pengaturan/surat/SKD",
            "/pengaturan/akun/kesra.pamanukan",
        ):
            r = await kasi.get(path)
            assert r.status_code == 403, path
            assert "Tidak diizinkan" in r.text
        token = await _csrf(kasi, "/pengaturan/jam-kerja")
        r = await kasi.post(
            "/pengaturan/surat/SKD/layanan", data={"csrf_token": token, "dilayani": "0"}
        )
        assert r.status_code == 403
        assert (await kasi.get("/pengaturan/surat")).text.count("Tidak dilayani") == 0


async def test_a_form_post_without_the_csrf_token_changes_nothing(service: Service) -> None:
    async with _signed_in(service, "sekdes.pamanukan") as sekdes:
        r = await sekdes.post("/pengaturan/akun/kesra.pamanukan/status", data={"aktif": "0"})
        assert r.status_code == 403
        page = await sekdes.get("/pengaturan/akun/kesra.pamanukan")
        assert "Nonaktifkan akun" in page.text


async def test_sekdes_changes_a_role_and_is_told_what_is_refused(service: Service) -> None:
    async with _signed_in(service, "sekdes.pamanukan") as sekdes:
        token = await _csrf(sekdes, "/pengaturan/akun/pemerintahan.pamanukan")
        r = await sekdes.post(
            "/pengaturan/akun/pemerintahan.pamanukan/jabatan",
            data={"csrf_token": token, "role": "kasi_pelayanan"},
        )
        assert r.status_code == 303
        page = await sekdes.get(r.headers["location"])
        assert "Jabatan diubah" in page.text and "Kasi Pelayanan" in page.text
        accounts = await sekdes.get("/pengaturan/akun")
        assert "Jabatan diubah (Kasi Pemerintahan → Kasi Pelayanan)" in accounts.text

        # Own account: no role or status forms; a forged post is refused with a message.
        own = await sekdes.get("/pengaturan/akun/sekdes.pamanukan")
        assert "Nonaktifkan akun" not in own.text
        r = await sekdes.post(
            "/pengaturan/akun/sekdes.pamanukan/status", data={"csrf_token": token, "aktif": "0"}
        )
        assert r.status_code == 422
        assert "akun Anda sendiri" in r.text

        r = await sekdes.post(
            "/pengaturan/akun",
            data={
                "csrf_token": token,
                "username": "kades2.pamanukan",
                "role": "kades",
                "password": "kata-sandi-awal-1",
            },
        )
        assert r.status_code == 403  # a Kades account is the Kades's to make
        r = await sekdes.post(
            "/pengaturan/akun",
            data={
                "csrf_token": token,
                "username": "operator.pamanukan",
                "role": "operator",
                "password": "kata-sandi-awal-1",
            },
        )
        assert r.status_code == 409
        assert "Nama pengguna ini sudah dipakai" in r.text
        assert 'value="operator.pamanukan"' in r.text  # the form keeps what was typed


async def test_bad_route_and_calendar_input_is_named(service: Service) -> None:
    async with _signed_in(service, "kades.pamanukan") as kades:
        token = await _csrf(kades, "/pengaturan/surat/SKU")
        form = {
            "csrf_token": token,
            "langkah-0-peran": "kasi_pemerintahan",
            "langkah-0-jam": "delapan",
            "langkah-1-peran": "kades",
            "langkah-1-jam": "8",
            "penanda_tangan": "kades",
            "atas_nama": "",
        }
        r = await kades.post("/pengaturan/surat/SKU", data=form)
        assert r.status_code == 422
        assert "Langkah 1: tenggat ditulis dengan angka" in r.text
        r = await kades.post("/pengaturan/surat/SKU", data={**form, "langkah-0-jam": "900"})
        assert r.status_code == 422
        assert "tenggat paling lama" in r.text
        route = (await kades.get("/api/v1/routes/SKU")).json()
        assert route["customized"] is False  # nothing half-written

        r = await kades.post("/pengaturan/surat/SKU", data={**form, "langkah-0-jam": "6"})
        assert r.status_code == 303
        route = (await kades.get("/api/v1/routes/SKU")).json()
        assert [s["role"] for s in route["steps"]] == ["kasi_pemerintahan", "kades"]
        r = await kades.post("/pengaturan/surat/SKU/bawaan", data={"csrf_token": token})
        assert r.status_code == 303
        assert (await kades.get("/api/v1/routes/SKU")).json()["customized"] is False

        calendar = {
            "csrf_token": token,
            "hari-1-buka": "1",
            "hari-1-mulai": "16:00",
            "hari-1-selesai": "08:00",
            "hari-2-buka": "1",
            "hari-2-mulai": "07:00",
            "hari-2-selesai": "15:00",
            "libur": "2026-13-01",
            "max_revision_rounds": "3",
            "resubmit_days": "14",
        }
        r = await kades.post("/pengaturan/jam-kerja", data=calendar)
        assert r.status_code == 422
        assert "Jam kerja Senin: jam mulai harus sebelum jam selesai" in r.text
        assert "bukan tanggal" in r.text
        assert (await kades.get("/api/v1/settings")).json()["customized"] is False
        r = await kades.post(
            "/pengaturan/jam-kerja",
            data={
                **calendar,
                "hari-1-mulai": "07:00",
                "hari-1-selesai": "15:00",
                "libur": "2026-12-24",
            },
        )
        assert r.status_code == 303
        settings = (await kades.get("/api/v1/settings")).json()
        assert (settings["start_hour"], settings["workdays"]) == (7, [1, 2])
        assert settings["local_days_off"] == ["2026-12-24"]


async def test_plt_is_granted_and_ended_on_the_page(service: Service) -> None:
    async with _signed_in(service, "sekdes.pamanukan") as sekdes:
        token = await _csrf(sekdes, "/pengaturan/plt")
        r = await sekdes.post(
            "/pengaturan/plt",
            data={
                "csrf_token": token,
                "username": "kesra.pamanukan",
                "role": "kasi_pemerintahan",
                "sampai": "kemarin",
            },
        )
        assert r.status_code == 422
        assert "Isi akhir masa Plt" in r.text
        r = await sekdes.post(
            "/pengaturan/plt",
            data={
                "csrf_token": token,
                "username": "kesra.pamanukan",
                "role": "kades",
                "sampai": "2099-01-01T10:00",
            },
        )
        assert r.status_code == 403  # a Sekdes does not hand over the Kades's role
        r = await sekdes.post(
            "/pengaturan/plt",
            data={
                "csrf_token": token,
                "username": "kesra.pamanukan",
                "role": "kasi_pemerintahan",
                "mulai": "2099-01-01T08:00",
                "sampai": "2099-01-05T16:00",
                "alasan": "SK 12/2099",
            },
        )
        assert r.status_code == 303
        page = await sekdes.get("/pengaturan/plt")
        assert "Akan datang" in page.text and "SK 12/2099" in page.text
        plt_id = (await sekdes.get("/api/v1/plt")).json()[0]["id"]
        r = await sekdes.post(f"/pengaturan/plt/{plt_id}/akhiri", data={"csrf_token": token})
        assert r.status_code == 303
        assert (await sekdes.get("/api/v1/plt")).json() == []


async def test_a_tampered_route_form_is_told_on_the_page_and_changes_nothing(
    service: Service,
) -> None:
    async with _signed_in(service, "sekdes.pamanukan") as sekdes:
        token = await _csrf(sekdes, "/pengaturan/surat/SKD")
        for form in (
            {"langkah-0-peran": "x" * 60, "langkah-0-jam": "8", "penanda_tangan": "kades"},
            {
                "langkah-0-peran": "kasi_pemerintahan",
                "langkah-0-jam": "8",
                "penanda_tangan": "x" * 60,
            },
        ):
            r = await sekdes.post("/pengaturan/surat/SKD", data={"csrf_token": token, **form})
            assert r.status_code == 422, r.text
            assert "tidak sesuai" in r.text
        route = await sekdes.get("/api/v1/routes/SKD")
        assert route.json()["customized"] is False
