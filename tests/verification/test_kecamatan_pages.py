"""The kecamatan tier in the staff client (issue 18, item 2): the kabupaten operator's kecamatan
pages (accounts with one-time links, the camat's certificate, the letter types that go through
the kecamatan); kecamatan staff's own inbox and task page, scoped to their kecamatan's desa at
their role, refused every desa page; and the camat's decision on the page against the real
workflow. The camat's certificate is installed from the page into a real signing service, and
the next letter that goes through the kecamatan is approved with it, the camat account's name
on its stamp."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlmodel import select

from services.signing.pades import APPROVAL_FIELD
from services.signing.pdf_verification import check_pdf
from services.signing.pki import (
    ROOT_CERT_FILE,
    ROOT_KEY_FILE,
    DevSigner,
    build_root_cert,
    build_signer_cert,
)
from services.signing.runtime import Runtime as SigningRuntime
from services.verification.inbox_events import Change, InboxFanout
from services.verification.models import TASK_OPEN, Staff, Task
from services.verification.web.routes.inbox import holder_of, watched_desa
from tests.signing.conftest import skd_request
from tests.support.waiting import eventually
from tests.support.web import async_sign_in_form
from tests.verification import test_decisions, test_onboarding
from tests.verification.conftest import PASSWORD, Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_decisions import Approval, _decide, _waits_on

# A real signing service in-process, and verification pointed at it (test_onboarding).
signing = test_onboarding.signing
settings = test_onboarding.settings
# A worker running the real approval workflow (test_decisions).
approval = test_decisions.approval

KEC_PAMANUKAN = "32.13.11"
KEC_SAGALAHERANG = "32.13.01"
SUKAMANDI = "32.13.01.2003"  # a desa of Sagalaherang
CAMAT = "camat.pamanukan"
CAMAT_NAME = "Drs. H. Asep Saepudin, M.Si."
CAMAT_PASSWORD = "sandi-camat-baru-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"http://test(/akun/atur-sandi\?t=[\w-]+)")
DESA_ONLY = "Fitur ini hanya untuk staf desa."


@asynccontextmanager
async def _browser(
    service: Service, username: str = "", password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of the in-process app, signed in by the session cookie when `username`."""
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if username:
            form = await async_sign_in_form(client, username=username, password=password)
            signed_in = await client.post("/masuk", data=form)
            assert signed_in.status_code == 303, signed_in.text
        yield client


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def _camat_from_the_page(service: Service) -> None:
    """The operator creates the camat on the kecamatan's page; the camat sets a password
    through the one-time link shown there."""
    async with _browser(service, "diskominfo.subang") as operator:
        token = await _csrf(operator, f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        made = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun",
            data={
                "csrf_token": token,
                "username": CAMAT,
                "role": "camat",
                "full_name": CAMAT_NAME,
            },
        )
        assert made.status_code == 200, made.text
        link = LINK.search(made.text)
        assert link is not None
    async with _browser(service) as holder:
        set_password = link.group(1).split("?t=", 1)
        done = await holder.post(
            set_password[0], data={"token": set_password[1], "new_password": CAMAT_PASSWORD}
        )
        assert done.status_code == 200 and "sudah diatur" in done.text


def _task(app_id: str, desa_code: str, kecamatan_code: str, role: str, number: str) -> Task:
    return Task(
        application_id=app_id,
        application_number=number,
        step_index=3,
        role=role,
        desa_code=desa_code,
        letter_type="SKD",
        status=TASK_OPEN,
        assigned_at=datetime.now(UTC) - timedelta(hours=1),
        deadline=datetime.now(UTC) + timedelta(hours=7),
        kecamatan_code=kecamatan_code,
        kabupaten_code="32.13",
    )


async def test_kecamatan_staff_see_their_inbox_and_no_desa_page(service: Service) -> None:
    await _camat_from_the_page(service)
    mine, other, kasi = (str(uuid.uuid4()) for _ in range(3))
    service.intake.add(mine, PAMANUKAN, number="SKD-2026-000901")
    service.intake.add(other, SUKAMANDI, number="SKD-2026-000902")
    service.intake.add(kasi, PAMANUKAN, number="SKD-2026-000903")
    async with service.runtime.sessions() as session:
        session.add(_task(mine, PAMANUKAN, KEC_PAMANUKAN, "camat", "SKD-2026-000901"))
        session.add(_task(other, SUKAMANDI, KEC_SAGALAHERANG, "camat", "SKD-2026-000902"))
        session.add(
            _task(kasi, PAMANUKAN, KEC_PAMANUKAN, "kasi_pelayanan_kecamatan", "SKD-2026-000903")
        )
        await session.commit()

    async with _browser(service, CAMAT, CAMAT_PASSWORD) as camat:
        home = await camat.get("/")
        assert "Kotak masuk kecamatan" in home.text and "Pengaturan desa" not in home.text
        inbox = await camat.get("/kotak-masuk")
        assert inbox.status_code == 200
        assert f"/permohonan/{mine}" in inbox.text and "Desa Pamanukan" in inbox.text
        assert other not in inbox.text and kasi not in inbox.text
        text = inbox.text
        assert "di Kecamatan Pamanukan" in text and "tenggat" in text, text
        assert 'data-kejadian="/kotak-masuk/kejadian"' in inbox.text  # refreshes itself

        page = await camat.get(f"/permohonan/{mine}")
        assert page.status_code == 200
        assert "Setujui dan tandatangani (mengetahui)" in page.text
        assert "Desa Pamanukan, Kec. Pamanukan" in page.text
        # Another kecamatan's task, or one at another kecamatan role: as if it did not exist.
        for app_id in (other, kasi):
            assert (await camat.get(f"/permohonan/{app_id}")).status_code == 404
            assert (await camat.get(f"/api/v1/applications/{app_id}/preview")).status_code == 404
        # Found by its number, only where they may see it.
        token = CSRF.search(inbox.text)
        assert token is not None
        found = await camat.post(
            "/kotak-masuk/cari", data={"csrf_token": token.group(1), "nomor": "skd-2026-000901"}
        )
        assert found.status_code == 303 and found.headers["location"] == f"/permohonan/{mine}"
        hidden = await camat.post(
            "/kotak-masuk/cari", data={"csrf_token": token.group(1), "nomor": "SKD-2026-000902"}
        )
        assert hidden.status_code == 404 and "tidak ditemukan" in hidden.text

        # No desa page, no kabupaten page: a 403 page in Indonesian.
        for path in (
            "/penduduk",
            "/pengaturan",
            "/pesan-warga",
            "/pengaturan/profil",
            "/perbaikan-data",
        ):
            refused = await camat.get(path)
            assert refused.status_code == 403, path
            assert DESA_ONLY in refused.text and "Tidak diizinkan" in refused.text
        for path in ("/kabupaten/kecamatan", f"/kabupaten/kecamatan/{KEC_PAMANUKAN}"):
            assert (await camat.get(path)).status_code == 403, path

    # The desa's own Kades does not see the kecamatan's step.
    async with _browser(service, "kades.pamanukan") as kades:
        assert mine not in (await kades.get("/kotak-masuk")).text
        assert (await kades.get(f"/permohonan/{mine}")).status_code == 404


async def test_the_kecamatan_inbox_stream_hears_every_desa_of_the_kecamatan(
    service: Service,
) -> None:
    await _camat_from_the_page(service)
    async with service.runtime.sessions() as session:
        camat = (await session.exec(select(Staff).where(Staff.username == CAMAT))).one()
    watched = watched_desa(camat)
    assert PAMANUKAN in watched and SUKAMANDI not in watched
    assert all(code.startswith(KEC_PAMANUKAN + ".") for code in watched)
    fanout = InboxFanout()
    async with service.runtime.sessions() as session:
        holder = await holder_of(session, camat)
    async with fanout.listen(*watched, holder=holder) as queue:
        assert fanout.client_count() == 1  # one stream, however many desa it hears
        fanout.notify_local(SUKAMANDI, Change(frozenset({"camat"})))
        assert queue.empty()
        # Not the kasi pelayanan's step, nor a desa step of the kecamatan's desa.
        fanout.notify_local(watched[-1], Change(frozenset({"kasi_pelayanan_kecamatan"})))
        fanout.notify_local(watched[0], Change(frozenset({"kasi_pemerintahan", "sekdes"})))
        assert queue.empty()
        # Its own step in any desa of the kecamatan, or a step escalated to the camat.
        fanout.notify_local(watched[-1], Change(frozenset({"camat"})))
        assert await queue.get() == Change(frozenset({"camat"}))
        fanout.notify_local(watched[0], Change(frozenset({"sekcam", "camat"})))
        assert await queue.get() == Change(frozenset({"sekcam", "camat"}))
    assert fanout.client_count() == 0


async def test_the_operator_manages_kecamatan_accounts_and_letter_types_on_pages(
    service: Service,
) -> None:
    async with _browser(service, "diskominfo.subang") as operator:
        listing = await operator.get("/kabupaten/kecamatan")
        assert listing.status_code == 200
        assert f'href="/kabupaten/kecamatan/{KEC_PAMANUKAN}"' in listing.text
        assert (await operator.get("/kabupaten/kecamatan/32.14.01")).status_code == 404
        token = await _csrf(operator, f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        # The camat's name is printed on their stamp: refused without one, typed values kept.
        nameless = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun",
            data={"csrf_token": token, "username": CAMAT, "role": "camat"},
        )
        assert nameless.status_code == 422 and "Nama lengkap Camat" in nameless.text
        assert f'value="{CAMAT}"' in nameless.text
        # Without the CSRF token nothing is made.
        forged = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun",
            data={"username": "sekcam.pamanukan", "role": "sekcam"},
        )
        assert forged.status_code == 403
        kasi = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun",
            data={
                "csrf_token": token,
                "username": "pelayanan.kec.pamanukan",
                "role": "kasi_pelayanan_kecamatan",
            },
        )
        assert kasi.status_code == 200 and LINK.search(kasi.text)
        renamed = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun/pelayanan.kec.pamanukan/nama",
            data={"csrf_token": token, "full_name": "  Neng   Rina  "},
        )
        assert renamed.status_code == 303
        again = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun/pelayanan.kec.pamanukan/tautan",
            data={"csrf_token": token},
        )
        assert again.status_code == 200 and "tautan sebelumnya tidak berlaku" in again.text
        page = await operator.get(f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        assert "Neng Rina" in page.text and "Kasi Pelayanan" in page.text
        assert "sekcam.pamanukan" not in page.text

        # Which letter types go through the kecamatan.
        types = await operator.get("/kabupaten/kecamatan/jenis-surat")
        assert types.status_code == 200 and "(SKTM)" in types.text
        bad = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKD", "peran_0": "camat", "jam_0": "8",
                  "peran_1": "sekcam", "jam_1": "4"},
        )  # fmt: skip
        assert bad.status_code == 422 and "Langkah terakhir harus Camat" in bad.text
        put = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKD", "peran_0": "sekcam", "jam_0": "4",
                  "peran_1": "camat", "jam_1": "8"},
        )  # fmt: skip
        assert put.status_code == 303
        listed = await service.http.get(
            "/api/v1/kabupaten/kecamatan-letter-types",
            headers=await service.login("diskominfo.subang"),
        )
        skd = next(t for t in listed.json() if t["letter_type"] == "SKD")
        assert [(s["role"], s["deadline_working_hours"]) for s in skd["steps"]] == [
            ("sekcam", 4),
            ("camat", 8),
        ]
        removed = await operator.post(
            "/kabupaten/kecamatan/jenis-surat/SKD/hapus", data={"csrf_token": token}
        )
        assert removed.status_code == 303
    await _purposes_are_edited_and_never_lost(service)
    # DPMD's viewer reads the pages and changes nothing.
    async with _browser(service, "dpmd.subang") as viewer:
        page = await viewer.get(f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        assert page.status_code == 200 and "Buat akun" not in page.text
        viewer_token = CSRF.search(page.text)
        assert viewer_token is not None
        refused = await viewer.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/akun",
            data={"csrf_token": viewer_token.group(1), "username": "x.y", "role": "sekcam"},
        )
        assert refused.status_code == 403


async def _purposes_are_edited_and_never_lost(service: Service) -> None:
    """The page shows a type's purposes and saves them (the PUT replaces the whole row): a
    form opened for the type carries them back; a blank form that never showed them is
    refused with them filled in, so a save of the steps alone cannot clear them."""
    headers = await service.login("diskominfo.subang")

    async def sktm_purposes() -> list[str]:
        listed = await service.http.get("/api/v1/kabupaten/kecamatan-letter-types", headers=headers)
        return next(t["purposes"] for t in listed.json() if t["letter_type"] == "SKTM")

    async with _browser(service, "diskominfo.subang") as operator:
        token = await _csrf(operator, "/kabupaten/kecamatan/jenis-surat")
        typed = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKTM", "dimuat": "SKTM",
                  "peran_0": "kasi_pelayanan_kecamatan", "jam_0": "8",
                  "peran_1": "camat", "jam_1": "8",
                  "keperluan": "Beasiswa\n\n  biaya   berobat \n"},
        )  # fmt: skip
        assert typed.status_code == 303
        assert await sktm_purposes() == ["Beasiswa", "biaya berobat"]
        page = await operator.get("/kabupaten/kecamatan/jenis-surat")
        assert "hanya untuk: Beasiswa, biaya berobat" in page.text
        opened = await operator.get("/kabupaten/kecamatan/jenis-surat?ubah=SKTM")
        assert ">Beasiswa\nbiaya berobat</textarea>" in opened.text
        assert 'name="dimuat" value="SKTM"' in opened.text
        # A blank form for SKTM (its purposes never shown): refused, nothing changed, and the
        # purposes are filled in with the typed steps kept.
        blank = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKTM", "dimuat": "",
                  "peran_0": "camat", "jam_0": "6"},
        )  # fmt: skip
        assert blank.status_code == 409 and "hanya untuk keperluan tertentu" in blank.text
        assert ">Beasiswa\nbiaya berobat</textarea>" in blank.text
        assert 'name="dimuat" value="SKTM"' in blank.text and 'value="6"' in blank.text
        assert await sktm_purposes() == ["Beasiswa", "biaya berobat"]
        # Saved again from that form: the steps change, the purposes stay.
        again = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKTM", "dimuat": "SKTM",
                  "peran_0": "camat", "jam_0": "6", "keperluan": "Beasiswa\nbiaya berobat"},
        )  # fmt: skip
        assert again.status_code == 303
        assert await sktm_purposes() == ["Beasiswa", "biaya berobat"]
        # Broken purposes: 422 in Indonesian, the typed text kept.
        twice = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKTM", "dimuat": "SKTM",
                  "peran_0": "camat", "jam_0": "6", "keperluan": "beasiswa\nBEASISWA"},
        )  # fmt: skip
        assert twice.status_code == 422 and "Keperluan tidak boleh berulang." in twice.text
        assert "beasiswa\nBEASISWA</textarea>" in twice.text
        # Emptied on purpose from the opened form: every purpose again.
        emptied = await operator.post(
            "/kabupaten/kecamatan/jenis-surat",
            data={"csrf_token": token, "jenis": "SKTM", "dimuat": "SKTM",
                  "peran_0": "camat", "jam_0": "6", "keperluan": ""},
        )  # fmt: skip
        assert emptied.status_code == 303 and await sktm_purposes() == []


async def test_the_camat_decides_on_the_task_page(service: Service, approval: Approval) -> None:
    operator = await service.login("diskominfo.subang")
    only_camat = await service.http.put(
        "/api/v1/kabupaten/kecamatan-letter-types/SKD",
        json={"steps": [{"role": "camat", "deadline_working_hours": 8}]},
        headers=operator,
    )
    assert only_camat.status_code == 200, only_camat.text
    await _camat_from_the_page(service)
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await approval.start(app_id)
    for step, username in enumerate(("pemerintahan.pamanukan", "sekdes.pamanukan", "kades")):
        username = "kades.pamanukan" if username == "kades" else username
        await _waits_on(service, username, app_id)
        status, state = await _decide(service, username, app_id, decision="approve", step=step)
        assert status == 200, state
    camat_api = await service.login(CAMAT, CAMAT_PASSWORD)

    async def waits_on_the_camat() -> bool:
        listed = await service.http.get("/api/v1/kecamatan/tasks", headers=camat_api)
        return app_id in [t["application_id"] for t in listed.json()]

    await eventually(waits_on_the_camat)

    async with _browser(service, CAMAT, CAMAT_PASSWORD) as camat:
        page = await camat.get(f"/permohonan/{app_id}")
        assert page.status_code == 200
        # The desa's decisions so far, in the timeline.
        assert page.text.count("Disetujui") >= 3 and "oleh Kepala Desa" in page.text
        token = CSRF.search(page.text)
        assert token is not None
        form = {"langkah": "3", "request_id": "camat-1"}
        forged = await camat.post(
            f"/permohonan/{app_id}/keputusan", data={**form, "keputusan": "setujui"}
        )
        assert forged.status_code == 403
        no_reason = await camat.post(
            f"/permohonan/{app_id}/keputusan",
            data={**form, "csrf_token": token.group(1), "keputusan": "tolak"},
        )
        assert no_reason.status_code == 422 and "Tuliskan alasan penolakan" in no_reason.text
        approved = await camat.post(
            f"/permohonan/{app_id}/keputusan",
            data={**form, "csrf_token": token.group(1), "keputusan": "setujui"},
        )
        assert approved.status_code == 303, approved.text
        assert approved.headers["location"].startswith("/kotak-masuk?selesai=")
        result = await handle.result()
        assert result["status"] == "issued" and result["route"][-1] == "camat"
        # The camat account's printed name goes to signing with the letter (for a camat key
        # with no installed name: PKCS#11, BSrE, the dev PKI).
        issued = next(c for c in approval.signing.calls if c.application_id == app_id)
        assert issued.kecamatan_code == KEC_PAMANUKAN and issued.camat_name == CAMAT_NAME
        assert app_id not in (await camat.get("/kotak-masuk")).text


def _camat_pem_pair(pki_dir: Path, holder: str) -> tuple[x509.Certificate, bytes, bytes]:
    """The camat's certificate as the kabupaten's CA would issue it (the dev root)."""
    root = x509.load_pem_x509_certificate((pki_dir / ROOT_CERT_FILE).read_bytes())
    root_key = serialization.load_pem_private_key((pki_dir / ROOT_KEY_FILE).read_bytes(), None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    signer = DevSigner(KEC_PAMANUKAN, "Pamanukan", "Subang", "camat", holder)
    cert_pem = build_signer_cert(signer, key.public_key(), root, root_key, "http://127.0.0.1/crl")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return x509.load_pem_x509_certificate(cert_pem), cert_pem, key_pem


def _stranger_pem_pair() -> tuple[bytes, bytes]:
    """A camat certificate from a CA that is not the kabupaten's."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = x509.load_pem_x509_certificate(build_root_cert(root_key))
    key = ec.generate_private_key(ec.SECP256R1())
    signer = DevSigner(KEC_PAMANUKAN, "Pamanukan", "Subang", "camat", "Palsu")
    cert_pem = build_signer_cert(signer, key.public_key(), root, root_key, "http://127.0.0.1/crl")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


async def test_the_camat_certificate_installed_from_the_page_approves_the_next_letter(
    service: Service, signing: SigningRuntime
) -> None:
    cert, cert_pem, key_pem = _camat_pem_pair(signing.settings.pki_dir, CAMAT_NAME)
    files = {
        "sertifikat": ("camat.crt.pem", cert_pem, "application/x-pem-file"),
        "kunci": ("camat.key.pem", key_pem, "application/x-pem-file"),
    }
    async with _browser(service, "diskominfo.subang") as operator:
        token = await _csrf(operator, f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        # No camat account with a name yet: nothing to print on the stamp.
        early = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/sertifikat",
            data={"csrf_token": token},
            files=files,
        )
        assert early.status_code == 409 and "Buat dulu akun Camat" in early.text
    await _camat_from_the_page(service)
    async with _browser(service, "diskominfo.subang") as operator:
        token = await _csrf(operator, f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        fake_cert, fake_key = _stranger_pem_pair()
        wrong_issuer = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/sertifikat",
            data={"csrf_token": token},
            files={
                "sertifikat": ("palsu.crt.pem", fake_cert, "application/x-pem-file"),
                "kunci": ("palsu.key.pem", fake_key, "application/x-pem-file"),
            },
        )
        assert wrong_issuer.status_code == 422 and "Root CA kabupaten" in wrong_issuer.text
        mismatched = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/sertifikat",
            data={"csrf_token": token},
            files={**files, "kunci": ("palsu.key.pem", fake_key, "application/x-pem-file")},
        )
        assert mismatched.status_code == 422 and "tidak cocok" in mismatched.text
        installed = await operator.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/sertifikat",
            data={"csrf_token": token},
            files=files,
        )
        assert installed.status_code == 303, installed.text
        page = await operator.get(installed.headers["location"])
        assert "Sertifikat Camat terpasang" in page.text

    # The next letter that goes through the kecamatan: certified by the Kades, then approved
    # with the installed camat certificate, the camat account's name in the stamp.
    request = skd_request(
        "app-kec-installed",
        letter_type="SKTM",
        purpose="Persyaratan beasiswa",
        kecamatan_code=KEC_PAMANUKAN,
    )
    letter = await signing.issuer.issue(request)
    assert letter.kecamatan_approved_at is not None and letter.kecamatan_register
    pdf = await signing.issuer.read_pdf(letter)
    reader = PdfFileReader(BytesIO(pdf))
    approval_sig = next(s for s in reader.embedded_signatures if s.field_name == APPROVAL_FIELD)
    used = approval_sig.signer_cert.dump()
    assert used == cert.public_bytes(serialization.Encoding.DER)
    appearance = bytes(approval_sig.sig_field["/AP"]["/N"].get_object().data)
    appearance = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), appearance)
    assert CAMAT_NAME.split(",")[0].encode() in appearance
    check = await asyncio.to_thread(check_pdf, pdf, signing.signers.root_cert_asn1)
    assert check.conclusion == "valid", check


async def test_the_operator_sets_kecamatan_calendars_on_pages(service: Service) -> None:
    """Issue 18: the kabupaten's default calendar for kecamatan offices and one kecamatan's
    own, on pages over the API's code: what is saved is what the API reads; broken input is
    refused in Indonesian with the form kept; the viewer only reads."""
    headers = await service.login("diskominfo.subang")
    own = f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/jam-kerja"
    async with _browser(service, "diskominfo.subang") as operator:
        page = await operator.get("/kabupaten/kecamatan/jam-kerja")
        assert page.status_code == 200 and "jam kerja bawaan layanan" in page.text
        token = await _csrf(operator, own)
        week = {f"hari-{d}-buka": "1" for d in (1, 2, 3, 4, 5)} | {
            f"hari-{d}-mulai": "07:30" for d in (1, 2, 3, 4, 5)
        } | {f"hari-{d}-selesai": "15:00" for d in (1, 2, 3, 4, 5)}  # fmt: skip
        forged = await operator.post("/kabupaten/kecamatan/jam-kerja", data=week)
        assert forged.status_code == 403
        saved = await operator.post(
            "/kabupaten/kecamatan/jam-kerja",
            data={**week, "csrf_token": token, "libur": "2026-12-28", "bulan": "2026-12"},
        )
        assert saved.status_code == 303
        default = await service.http.get("/api/v1/kabupaten/kecamatan-calendar", headers=headers)
        assert default.json()["source"] == "kabupaten"
        assert default.json()["hours"][0] == {"weekday": 1, "start": "07:30", "end": "15:00"}
        assert default.json()["local_days_off"] == ["2026-12-28"]
        # The kecamatan follows the default until it has its own.
        inherited = await operator.get(own)
        assert "bawaan kabupaten untuk kantor kecamatan" in inherited.text
        assert "Pakai jam kerja bawaan kabupaten" not in inherited.text
        # Closing before opening: refused, nothing saved, the typed hours kept.
        wrong = await operator.post(
            own, data={"csrf_token": token, "hari-6-buka": "1", "hari-6-mulai": "12:00",
                       "hari-6-selesai": "08:00"},
        )  # fmt: skip
        assert wrong.status_code == 422 and "jam mulai harus sebelum jam selesai" in wrong.text
        assert '<option value="12:00" selected>' in wrong.text
        api_own = f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/calendar"
        assert (await service.http.get(api_own, headers=headers)).json()["source"] == "kabupaten"
        mine = await operator.post(
            own, data={"csrf_token": token, "hari-6-buka": "1", "hari-6-mulai": "08:00",
                       "hari-6-selesai": "12:00"},
        )  # fmt: skip
        assert mine.status_code == 303
        read = (await service.http.get(api_own, headers=headers)).json()
        assert read["source"] == "kecamatan"
        assert read["hours"] == [{"weekday": 6, "start": "08:00", "end": "12:00"}]
        back = await operator.post(own + "/bawaan", data={"csrf_token": token})
        assert back.status_code == 303
        assert (await service.http.get(api_own, headers=headers)).json()["source"] == "kabupaten"
        assert (await operator.get("/kabupaten/kecamatan/32.14.01/jam-kerja")).status_code == 404
    async with _browser(service, "dpmd.subang") as viewer:
        page = await viewer.get(own)
        assert page.status_code == 200 and "Simpan" not in page.text
        assert "07.30–15.00 WIB" in page.text
        viewer_token = CSRF.search(page.text)
        assert viewer_token is not None
        refused = await viewer.post(own, data={**week, "csrf_token": viewer_token.group(1)})
        assert refused.status_code == 403


async def test_the_kabupaten_inbox_counts_a_kecamatan_step_in_the_kecamatan_calendar(
    service: Service,
) -> None:
    """Issue 18: a camat's step escalated to the kabupaten operator shows what is left in the
    kecamatan's working time, not the desa's. The kecamatan here works half an hour on Sundays
    and takes every Sunday off, so nothing is left of a deadline three days away (in the desa's
    Monday-to-Friday calendar a working day would be)."""
    headers = await service.login("diskominfo.subang")
    today = datetime.now(UTC).date()
    sundays = [
        (today + timedelta(days=i)).isoformat()
        for i in range(-7, 21)
        if (today + timedelta(days=i)).isoweekday() == 7
    ]
    put = await service.http.put(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/calendar",
        json={"hours": [{"weekday": 7, "start": "00:00", "end": "00:30"}],
              "local_days_off": sundays},
        headers=headers,
    )  # fmt: skip
    assert put.status_code == 200, put.text
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN, number="SKD-2026-000951")
    task = _task(app_id, PAMANUKAN, KEC_PAMANUKAN, "camat", "SKD-2026-000951")
    task.deadline = datetime.now(UTC) + timedelta(days=3)
    task.escalated_to_role = "kabupaten_operator"
    task.escalation_level = 2
    async with service.runtime.sessions() as session:
        session.add(task)
        await session.commit()
    async with _browser(service, "diskominfo.subang") as operator:
        inbox = await operator.get("/kotak-masuk")
    assert inbox.status_code == 200 and f"/permohonan/{app_id}" in inbox.text
    row = inbox.text[inbox.text.index(f"/permohonan/{app_id}") :]
    row = row[: row.index("</li>")]
    assert "Sisa kurang dari 1 menit kerja" in row, row
