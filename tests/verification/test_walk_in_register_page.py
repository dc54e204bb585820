"""The walk-in over HTTP (the staff client's pages, a real intake gRPC peer): the operator finds
the resident in the population register (the NIK only in POST bodies, every read logged for
the walk-in), files from the register, adds an unregistered NIK to the register in the same
flow, keeps every chosen scan across refusals, and prints a receipt without the full NIK."""

import re
from collections.abc import AsyncIterator
from datetime import date

import grpc
import httpx
import pytest
from sqlmodel import select

from services.verification import walk_in, walk_in_scans
from services.verification.models import Staff, WalkInScan
from services.verification.population.models import Resident, ResidentAccess, ResidentChange
from services.verification.population.register import ResidentData, add_resident
from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service

PAMANUKAN = "32.13.11.2004"
NIK = "3213116508900003"  # a woman born 25-08-1990
NEW_NIK = "3213110203950005"  # a man born 02-03-1995, not in the register
KTP = b"\xff\xd8\xff" + b"k" * 300
KK = b"%PDF-1.4\n" + b"p" * 500


class Desk:
    """The operator's browser session without a browser: cookie, CSRF token, every URL asked."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.urls: list[str] = []
        self.csrf = ""

    async def get(self, url: str) -> httpx.Response:
        self.urls.append(url)
        response = await self.client.get(url)
        self._token(response)
        return response

    async def post(
        self,
        url: str,
        data: dict[str, str],
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        self.urls.append(url)
        response = await self.client.post(
            url, data={"csrf_token": self.csrf, **data}, files=files or {}
        )
        self._token(response)
        return response

    def _token(self, response: httpx.Response) -> None:
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)


@pytest.fixture
async def desk(service: Service) -> AsyncIterator[Desk]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        signed_in = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username="operator.pamanukan", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        yield Desk(client)


async def _register_sari(service: Service) -> str:
    async with service.runtime.sessions() as session:
        resident = await add_resident(
            session,
            PAMANUKAN,
            ResidentData(
                nik=NIK,
                name="SARI RAHAYU",
                sex=2,
                kk_number="3213110101200001",
                kk_level=1,
                birth_place="SUBANG",
                birth_date=date(1990, 8, 25),
                religion=1,
                address="KP. SUKAMAJU",
                dusun="SUKAMAJU",
                rw="003",
                rt="002",
                phones="6281377700999",
            ),
            actor="sekdes.pamanukan",
        )
        return resident.id


def _hidden(page: httpx.Response, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert found, name
    return found.group(1)


async def _reads(service: Service, resident_id: str) -> list[tuple[str, str, str]]:
    async with service.runtime.sessions() as session:
        rows = await session.exec(
            select(ResidentAccess).where(ResidentAccess.resident_id == resident_id)
        )
        return [(r.actor, r.purpose, r.kind) for r in rows.all()]


async def test_the_operator_finds_the_resident_and_files_from_the_register(
    service: Service, desk: Desk
) -> None:
    resident_id = await _register_sari(service)
    form = await desk.get("/pengajuan-langsung?jenis=SKD")
    assert form.status_code == 200
    found = await desk.post("/pengajuan-langsung/cari", {"jenis": "SKD", "cari": NIK})
    assert found.status_code == 200
    assert "SARI RAHAYU" in found.text and f'value="{resident_id}"' in found.text
    # By name, too (and by KK number): the search is the register's.
    by_name = await desk.post("/pengajuan-langsung/cari", {"jenis": "SKD", "cari": "rahayu"})
    assert "SARI RAHAYU" in by_name.text

    chosen = await desk.get(f"/pengajuan-langsung?jenis=SKD&penduduk={resident_id}")
    assert chosen.status_code == 200
    # The register's values are shown, not asked: no input for the name or the address.
    assert "Isian dari data penduduk" in chosen.text and "KP. SUKAMAJU" in chosen.text
    assert "25 Agustus 1990" in chosen.text and "Perempuan" in chosen.text
    assert 'name="isian_nama"' not in chosen.text and 'name="nik"' not in chosen.text
    assert 'value="081377700999"' in chosen.text  # the register's phone, as people write it

    filed = await desk.post(
        "/pengajuan-langsung",
        {
            "request_id": _hidden(chosen, "request_id"),
            "berkas_token": _hidden(chosen, "berkas_token"),
            "jenis": "SKD",
            "penduduk": resident_id,
            "hp": "081377700999",
            "keperluan": "Persyaratan melamar pekerjaan",
            "isian_nama": "Nama Lain",  # a register-held field: never sent on
        },
        files={
            "berkas_KTP": ("ktp.jpg", KTP, "image/jpeg"),
            "berkas_KK": ("kk.pdf", KK, "application/pdf"),
        },
    )
    assert filed.status_code == 303, filed.text
    sent = service.intake.walk_ins[-1]
    assert sent.nik == NIK and sent.desa_code == PAMANUKAN
    assert "nama" not in sent.fields  # intake fills it from the register
    assert {a.kind: a.content for a in sent.attachments} == {"KTP": KTP, "KK": KK}
    # Every read was for the walk-in, and no URL carried the NIK.
    purpose = walk_in.WALK_IN_PURPOSE
    assert set(await _reads(service, resident_id)) >= {
        ("operator.pamanukan", purpose, "search"),
        ("operator.pamanukan", purpose, "view"),
    }
    assert all(NIK not in url for url in desk.urls)


async def test_an_unregistered_nik_is_added_to_the_register_in_the_same_flow(
    service: Service, desk: Desk
) -> None:
    await desk.get("/pengajuan-langsung?jenis=SKD")
    missing = await desk.post("/pengajuan-langsung/cari", {"jenis": "SKD", "cari": NEW_NIK})
    assert missing.status_code == 200
    assert "Tambah ke data penduduk" in missing.text
    assert f'name="nik" type="text" value="{NEW_NIK}"' in missing.text

    refused = await desk.post(
        "/pengajuan-langsung/penduduk-baru",
        {"jenis": "SKD", "nik": NEW_NIK, "name": "ASEP", "sex": "1", "dusun": "KRAJAN"},
    )
    assert refused.status_code == 422 and "RW wajib diisi" in refused.text
    assert 'value="ASEP"' in refused.text  # what was typed stays

    added = await desk.client.post(
        "/pengajuan-langsung/penduduk-baru",
        data={
            "csrf_token": desk.csrf,
            "jenis": "SKD",
            "nik": NEW_NIK,
            "name": "ASEP SUNANDAR",
            "sex": "1",
            "birth_place": "SUBANG",
            "birth_date": "1995-03-02",
            "address": "KP. KRAJAN",
            "dusun": "KRAJAN",
            "rw": "001",
            "rt": "004",
        },
    )
    assert added.status_code == 303
    location = added.headers["location"]
    assert NEW_NIK not in location
    async with service.runtime.sessions() as session:
        resident = (await session.exec(select(Resident).where(Resident.nik == NEW_NIK))).one()
        history = (
            await session.exec(
                select(ResidentChange).where(ResidentChange.resident_id == resident.id)
            )
        ).all()
    assert location == f"/pengajuan-langsung?jenis=SKD&penduduk={resident.id}"
    assert [(h.changed_by, h.note) for h in history] == [("operator.pamanukan", walk_in.ADDED_NOTE)]
    chosen = await desk.get(location)
    assert "ASEP SUNANDAR" in chosen.text and "Isian dari data penduduk" in chosen.text


async def test_every_chosen_scan_survives_refusals(service: Service, desk: Desk) -> None:
    """Three posts: a missing scan, then intake's refusal of the phone, then intake's refusal
    of one scan. The operator chooses each file once, and again only the refused one."""
    form = await desk.get("/pengajuan-langsung?jenis=SKD")
    base = {
        "request_id": _hidden(form, "request_id"),
        "berkas_token": _hidden(form, "berkas_token"),
        "jenis": "SKD",
        "nik": NEW_NIK,
        "hp": "12",
        "keperluan": "Persyaratan bank",
        "isian_nama": "Asep Sunandar",
        "isian_alamat": "Kp. Krajan RT 004 RW 001",
    }

    only_ktp = await desk.post(
        "/pengajuan-langsung", base, files={"berkas_KTP": ("ktp-asep.jpg", KTP, "image/jpeg")}
    )
    assert only_ktp.status_code == 422
    assert "Pilih berkas pindaian Kartu Keluarga" in only_ktp.text
    assert "tersimpan ktp-asep.jpg" in only_ktp.text
    assert _hidden(only_ktp, "berkas_token") == base["berkas_token"]
    assert service.intake.walk_ins == []

    service.intake.walk_in_refusals.append(
        (grpc.StatusCode.INVALID_ARGUMENT, "Nomor HP harus nomor seluler Indonesia.", "phone")
    )
    phone_refused = await desk.post(
        "/pengajuan-langsung", base, files={"berkas_KK": ("kk-asep.pdf", KK, "application/pdf")}
    )
    assert phone_refused.status_code == 422
    assert 'id="f-hp-galat"' in phone_refused.text
    assert "tersimpan ktp-asep.jpg" in phone_refused.text
    assert "tersimpan kk-asep.pdf" in phone_refused.text
    assert "pilih lagi semua berkas" not in phone_refused.text
    assert 'value="Asep Sunandar"' in phone_refused.text

    service.intake.walk_in_refusals.append(
        (grpc.StatusCode.INVALID_ARGUMENT, "Berkas KK: bukan pindaian.", "attachments.KK")
    )
    base["hp"] = "081377700456"
    base["request_id"] = _hidden(phone_refused, "request_id")
    kk_refused = await desk.post("/pengajuan-langsung", base)  # no file chosen this time
    assert kk_refused.status_code == 422
    assert "Berkas KK: bukan pindaian." in kk_refused.text
    assert "tersimpan ktp-asep.jpg" in kk_refused.text
    assert "tersimpan kk-asep.pdf" not in kk_refused.text  # the refused one is to choose again

    base["request_id"] = _hidden(kk_refused, "request_id")
    kk_again = KK + b"again"
    filed = await desk.post(
        "/pengajuan-langsung",
        base,
        files={"berkas_KK": ("kk-baru.pdf", kk_again, "application/pdf")},
    )
    assert filed.status_code == 303, filed.text
    assert len(service.intake.walk_ins) == 1
    sent = service.intake.walk_ins[0]
    assert {a.kind: a.content for a in sent.attachments} == {"KTP": KTP, "KK": kk_again}
    assert sent.phone == "081377700456" and dict(sent.fields)["nama"] == "Asep Sunandar"
    async with service.runtime.sessions() as session:  # filed: nothing kept any longer
        assert (await session.exec(select(WalkInScan))).all() == []


async def test_kept_scans_are_the_staff_members_own(service: Service) -> None:
    async with service.runtime.sessions() as session:
        operator = (
            await session.exec(select(Staff).where(Staff.username == "operator.pamanukan"))
        ).one()
        other = (
            await session.exec(select(Staff).where(Staff.username == "pemerintahan.pamanukan"))
        ).one()
        token = walk_in_scans.new_token()
        await walk_in_scans.keep(session, token, operator, "KTP", "C:\\scan\\ktp.jpg", KTP)
        assert await walk_in_scans.kept(session, token, other) == {}
        mine = await walk_in_scans.kept(session, token, operator)
    assert mine["KTP"].filename == "ktp.jpg" and mine["KTP"].content == KTP
    assert walk_in_scans.token_of("../../etc") != "../../etc"


async def test_the_receipt_says_how_to_follow_it_without_the_full_nik(
    service: Service, desk: Desk
) -> None:
    resident_id = await _register_sari(service)
    chosen = await desk.get(f"/pengajuan-langsung?jenis=SKD&penduduk={resident_id}")
    filed = await desk.post(
        "/pengajuan-langsung",
        {
            "request_id": _hidden(chosen, "request_id"),
            "berkas_token": _hidden(chosen, "berkas_token"),
            "jenis": "SKD",
            "penduduk": resident_id,
            "hp": "081377700999",
            "keperluan": "Persyaratan melamar pekerjaan",
        },
        files={
            "berkas_KTP": ("ktp.jpg", KTP, "image/jpeg"),
            "berkas_KK": ("kk.pdf", KK, "application/pdf"),
        },
    )
    assert filed.status_code == 303, filed.text
    receipt = await desk.get(filed.headers["location"])
    assert receipt.status_code == 200
    text = receipt.text
    assert "Tanda terima permohonan surat" in text
    assert "SKD-2026-000001" in text
    assert "Surat Keterangan Domisili" in text
    assert "7 Desember 2026 pukul 09.00 WIB" in text  # 02:00 UTC, in Indonesian
    assert service.runtime.settings.portal_url in text and "WhatsApp" in text
    assert "************0003" in text and NIK not in text
    assert 'href="/static/tanda-terima.css"' in text
