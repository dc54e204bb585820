"""Onboarding a desa is data (issue 18): a kabupaten operator brings a desa that is not in the
pilot list live through the API alone (profile, first accounts with one-time password links,
the Kades' certificate, the switch), against a real signing service in-process, and then a
resident of that desa applies through a real intake in-process. A desa switched off refuses
new applications in Indonesian while a letter already running finishes. Only the kabupaten
operator changes anything."""

import base64
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, client_channel
from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as intake_app
from services.signing.config import Settings as SigningSettings
from services.signing.pki import ROOT_CERT_FILE, ROOT_KEY_FILE, DevSigner, build_signer_cert
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from services.verification.population.register import ResidentData, add_resident
from tests.intake.conftest import NIK_ANI, PHONE_ANI, SKD_FIELDS, Intake
from tests.support.processes import free_port
from tests.support.web import async_sign_in_form
from tests.verification import test_decisions
from tests.verification.conftest import PASSWORD, Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_decisions import Approval, _decide, _waits_on

# Sukamandi (Kecamatan Sagalaherang): not one of the 64 desa served before onboarding was data.
SUKAMANDI = "32.13.01.2003"
# A worker running the real approval workflow (tests/verification/test_decisions.py).
approval = test_decisions.approval
CICADAS = "32.13.01.2004"  # its neighbour, never switched on
DESA = "/api/v1/kabupaten/desa"
NEW_PASSWORD = "kata-sandi-kades-baru"


@pytest.fixture
async def signing(base_settings: Settings) -> AsyncIterator[SigningRuntime]:
    settings = SigningSettings(
        profile="dev",
        data_dir=base_settings.data_dir,
        nats_url=base_settings.nats_url,
        signing_grpc_port=0,
        signing_workers=0,
    )
    async with open_signing(settings) as runtime:
        yield runtime


@pytest.fixture
def settings(
    base_settings: Settings, intake_peer: tuple[object, int], signing: SigningRuntime
) -> Settings:
    return base_settings.model_copy(
        update={
            "intake_grpc_target": f"127.0.0.1:{intake_peer[1]}",
            "signing_grpc_target": f"127.0.0.1:{signing.grpc_server.port}",
        }
    )


def _kades_p12(pki_dir: Path, password: bytes) -> bytes:
    """The Kades' certificate as the kabupaten's CA would issue it (the dev root), in a
    PKCS#12 file with its key."""
    root = x509.load_pem_x509_certificate((pki_dir / ROOT_CERT_FILE).read_bytes())
    root_key = serialization.load_pem_private_key((pki_dir / ROOT_KEY_FILE).read_bytes(), None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    signer = DevSigner(SUKAMANDI, "Sukamandi", "Subang", "kades", "Hj. Euis Komariah")
    cert = x509.load_pem_x509_certificate(
        build_signer_cert(signer, key.public_key(), root, root_key, "http://127.0.0.1/crl")
    )
    return pkcs12.serialize_key_and_certificates(
        b"kades", key, cert, None, serialization.BestAvailableEncryption(password)
    )


def _profile() -> dict[str, Any]:
    return {
        "name": "Sukamandi",
        "kecamatan": "Sagalaherang",
        "kabupaten": "Subang",
        "address": "Jl. Raya Sukamandi No. 1",
        "kode_pos": "41282",
        "kades_name": "Hj. Euis Komariah",
        "sekdes_name": "Dedi Kurniawan",
    }


async def _directory_says(service: Service, desa_code: str) -> Any:
    """What intake hears from DirectoryService about the desa."""
    auth = InternalAuth.from_settings(service.runtime.settings, INTAKE)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        return await directory_pb2_grpc.DirectoryServiceStub(channel).ListOfferedLetterTypes(
            directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code)
        )


async def _add_ani(service: Service, desa_code: str) -> None:
    async with service.runtime.sessions() as session:
        await add_resident(
            session,
            desa_code,
            ResidentData(
                nik=NIK_ANI,
                name="ANI SURYANI",
                sex=2,
                birth_place="SUBANG",
                birth_date=date(1990, 8, 17),
                religion=1,
                occupation=88,
                address="KP. SUKAMANDI",
                dusun="SUKAMANDI",
                rw="002",
                rt="005",
                phones="6281234567890",
            ),
            actor="operator.sukamandi",
        )


@pytest.fixture
async def intake(
    service: Service, base_settings: Settings, signing: SigningRuntime
) -> AsyncIterator[Intake]:
    """The resident side, in-process, asking this verification (DirectoryService and the
    population register) and this signing (the letter catalogue) over real gRPC."""
    settings = IntakeSettings(
        data_dir=base_settings.data_dir,
        nats_url=base_settings.nats_url,
        temporal_address=base_settings.temporal_address,
        temporal_task_queue=f"onboarding-test-{uuid.uuid4().hex[:8]}",  # no worker: it waits
        signing_grpc_target=f"127.0.0.1:{free_port()}",
        catalogue_grpc_target=f"127.0.0.1:{signing.grpc_server.port}",
        verification_grpc_target=f"127.0.0.1:{service.runtime.grpc_server.port}",
        notification_grpc_target=f"127.0.0.1:{free_port()}",
        intake_grpc_port=0,
    )
    app = intake_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


async def test_a_desa_outside_the_pilot_is_onboarded_through_the_api_and_its_resident_applies(
    service: Service, signing: SigningRuntime, intake: Intake
) -> None:
    op = await service.login("diskominfo.subang")
    listed = await service.http.get(DESA, headers=op)
    assert listed.status_code == 200, listed.text
    rows = {r["code"]: r for r in listed.json()}
    assert len(rows) == 253
    assert rows[PAMANUKAN]["serving"] and not rows[SUKAMANDI]["serving"]
    assert rows["32.13.03.1001"]["jenis"] == "kelurahan"

    # Nothing yet: switching on is refused and says what is missing.
    early = await service.http.put(
        f"{DESA}/{SUKAMANDI}/service", json={"serving": True}, headers=op
    )
    assert early.status_code == 409
    assert "profil desa" in early.json()["detail"]
    assert "akun Kepala Desa" in early.json()["detail"]
    assert "sertifikat penandatangan Kepala Desa" in early.json()["detail"]

    # 1. The profile (made: the desa has none).
    saved = await service.http.put(f"{DESA}/{SUKAMANDI}/profile", json=_profile(), headers=op)
    assert saved.status_code == 200, saved.text
    assert saved.json()["desa_code"] == SUKAMANDI and saved.json()["kades_name"]

    # 2. The first accounts, each with a one-time link; nobody else knows their password.
    links = {}
    for username, role in (("kades.sukamandi", "kades"), ("operator.sukamandi", "operator")):
        made = await service.http.post(
            f"{DESA}/{SUKAMANDI}/accounts", json={"username": username, "role": role}, headers=op
        )
        assert made.status_code == 201, made.text
        links[username] = made.json()["set_password_path"]
        assert links[username].startswith("/akun/atur-sandi?t=")
    unusable = await service.http.post(
        "/api/v1/auth/token", data={"username": "kades.sukamandi", "password": "!belum-diatur"}
    )
    assert unusable.status_code == 401
    token = links["kades.sukamandi"].split("?t=", 1)[1]
    short = await service.http.post(
        "/api/v1/auth/set-password", json={"token": token, "new_password": "pendek"}
    )
    assert short.status_code == 422 and "paling sedikit 10" in short.json()["detail"]
    used = await service.http.post(
        "/api/v1/auth/set-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert used.status_code == 200 and used.json() == {"username": "kades.sukamandi"}
    again = await service.http.post(
        "/api/v1/auth/set-password", json={"token": token, "new_password": NEW_PASSWORD + "2"}
    )
    assert again.status_code == 422 and "tidak berlaku lagi" in again.json()["detail"]
    kades = await service.login("kades.sukamandi", NEW_PASSWORD)
    mine = await service.http.get("/api/v1/desa-profile", headers=kades)
    assert mine.status_code == 200 and mine.json()["desa_code"] == SUKAMANDI

    # 3. The Kades' certificate (PKCS#12), used without a restart.
    p12 = _kades_p12(signing.settings.pki_dir, b"sandi-p12")
    installed = await service.http.put(
        f"{DESA}/{SUKAMANDI}/signers/kades",
        json={"pkcs12_base64": base64.b64encode(p12).decode(), "password": "sandi-p12"},
        headers=op,
    )
    assert installed.status_code == 200, installed.text
    assert "Kepala Desa Sukamandi" in installed.json()["subject"]
    wrong = await service.http.put(
        f"{DESA}/{SUKAMANDI}/signers/kades",
        json={"pkcs12_base64": base64.b64encode(p12).decode(), "password": "salah"},
        headers=op,
    )
    assert wrong.status_code == 422 and "kata sandinya salah" in wrong.json()["detail"]

    # 4. Switched on: ready, and intake hears it.
    closed_before = await _directory_says(service, SUKAMANDI)
    assert closed_before.desa_closed and "belum melayani" in closed_before.closed_reason
    on = await service.http.put(f"{DESA}/{SUKAMANDI}/service", json={"serving": True}, headers=op)
    assert on.status_code == 200, on.text
    assert on.json()["missing"] == [] and on.json()["signer_roles"] == ["kades"]
    assert on.json()["desa"]["serving"]
    assert not (await _directory_says(service, SUKAMANDI)).desa_closed

    # A resident of Sukamandi applies, through intake's API; its neighbour still refuses.
    await _add_ani(service, SUKAMANDI)
    ani = await intake.sign_in(NIK_ANI, PHONE_ANI)
    body = {"letter_type": "SKD", "purpose": "Melamar kerja", "fields": SKD_FIELDS}
    refused = await intake.http.post(
        "/api/v1/applications", json=body | {"desa_code": CICADAS}, headers=ani
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "Desa Cicadas belum melayani permohonan surat melalui Smart Desa. Silakan mengurus "
        "surat langsung di kantor desa."
    )
    # The portal's desa picker offers the desa switched on, and not its neighbour.
    form = await intake.http.get("/permohonan/baru/SKD", headers=ani)
    assert form.status_code == 200
    assert f'value="{SUKAMANDI}"' in form.text and f'value="{PAMANUKAN}"' in form.text
    assert f'value="{CICADAS}"' not in form.text
    created = await intake.http.post(
        "/api/v1/applications", json=body | {"desa_code": SUKAMANDI}, headers=ani
    )
    assert created.status_code == 201, created.text
    assert created.json()["desa_code"] == SUKAMANDI


async def test_only_the_kabupaten_operator_onboards(service: Service) -> None:
    viewer = await service.login("dpmd.subang")
    assert (await service.http.get(DESA, headers=viewer)).status_code == 200
    assert (await service.http.get(f"{DESA}/{SUKAMANDI}", headers=viewer)).status_code == 200
    changes = [
        ("PUT", f"{DESA}/{SUKAMANDI}/service", {"serving": True}),
        ("PUT", f"{DESA}/{SUKAMANDI}/profile", _profile()),
        ("POST", f"{DESA}/{SUKAMANDI}/accounts", {"username": "kades.x", "role": "kades"}),
        ("POST", f"{DESA}/{PAMANUKAN}/accounts/kades.pamanukan/password-link", None),
        ("PUT", f"{DESA}/{SUKAMANDI}/signers/kades", {"certificate_pem": "x", "key_pem": "y"}),
    ]
    for username in ("dpmd.subang", "kades.pamanukan", "operator.pamanukan"):
        headers = await service.login(username)
        for method, path, body in changes:
            response = await service.http.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (username, path, response.text)
    desa_staff = await service.login("kades.pamanukan")
    assert (await service.http.get(DESA, headers=desa_staff)).status_code == 403
    for method, path, body in changes:
        assert (await service.http.request(method, path, json=body)).status_code == 401
    # Another kabupaten's desa is unknown to Subang's operator.
    op = await service.login("diskominfo.subang")
    other = await service.http.get(f"{DESA}/32.14.01.2001", headers=op)
    assert other.status_code == 404 and other.json()["detail"] == (
        "Desa tidak ditemukan di kabupaten Anda."
    )
    # Nothing changed.
    assert (await _directory_says(service, SUKAMANDI)).desa_closed


async def test_a_switched_off_desa_refuses_new_applications_and_running_ones_finish(
    service: Service, approval: Approval
) -> None:
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    await approval.start(app_id)
    await _waits_on(service, "pemerintahan.pamanukan", app_id)

    op = await service.login("diskominfo.subang")
    off = await service.http.put(f"{DESA}/{PAMANUKAN}/service", json={"serving": False}, headers=op)
    assert off.status_code == 200, off.text
    assert not off.json()["desa"]["serving"]
    said = await _directory_says(service, PAMANUKAN)
    assert said.desa_closed and list(said.letter_types) == []
    assert said.closed_reason == (
        "Desa Pamanukan sedang tidak menerima permohonan surat baru melalui Smart Desa. "
        "Permohonan yang sudah diajukan tetap diproses sampai selesai."
    )

    # At the counter too: the walk-in form refuses, and intake is never asked.
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        signed_in = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username="operator.pamanukan", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        form = await client.get("/pengajuan-langsung")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        filed = await client.post(
            "/pengajuan-langsung",
            data={
                "csrf_token": csrf.group(1),
                "request_id": "r-off",
                "jenis": "SKD",
                "nik": NIK_ANI,
                "hp": PHONE_ANI,
                "keperluan": "Melamar kerja",
            },
            files={
                f"berkas_{kind}": (f"{kind}.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")
                for kind in ("KTP", "KK")
            },
        )
        assert filed.status_code == 409
        assert "sedang tidak menerima permohonan surat baru" in filed.text
    assert service.intake.walk_ins == []

    # The letter that was already running goes on to its end.
    for username in ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan"):
        await _waits_on(service, username, app_id)
        status, state = await _decide(service, username, app_id, decision="approve")
        assert status == 200, state
    assert state["status"] == "issued"

    # Switched on again: new applications are welcome.
    on = await service.http.put(f"{DESA}/{PAMANUKAN}/service", json={"serving": True}, headers=op)
    assert on.status_code == 200, on.text
    assert not (await _directory_says(service, PAMANUKAN)).desa_closed


async def test_the_operator_onboards_from_the_staff_client(
    service: Service, signing: SigningRuntime
) -> None:
    """The pages take the same steps: the list, a desa's page, a new account whose link is
    shown once and opens the public set-password page, and the switch's refusal."""
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        nobody = await client.get("/kabupaten/desa")
        assert nobody.status_code == 303 and nobody.headers["location"].startswith("/masuk")
        signed_in = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username="diskominfo.subang", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        listing = await client.get("/kabupaten/desa")
        assert listing.status_code == 200 and "Desa Sukamandi" in listing.text
        page = await client.get(f"/kabupaten/desa/{SUKAMANDI}")
        assert page.status_code == 200 and "Nyalakan layanan" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        refused = await client.post(
            f"/kabupaten/desa/{SUKAMANDI}/layanan",
            data={"csrf_token": csrf.group(1), "layani": "1"},
        )
        assert refused.status_code == 409 and "belum dapat dilayani" in refused.text
        made = await client.post(
            f"/kabupaten/desa/{SUKAMANDI}/akun",
            data={"csrf_token": csrf.group(1), "username": "kades.sukamandi", "role": "kades"},
        )
        assert made.status_code == 200, made.text
        link = re.search(r"http://test/akun/atur-sandi\?t=([\w-]+)", made.text)
        assert link is not None
        # A refused post shows the desa page again with the refusal and what was typed.
        twice = await client.post(
            f"/kabupaten/desa/{SUKAMANDI}/akun",
            data={"csrf_token": csrf.group(1), "username": "kades.sukamandi", "role": "kades"},
        )
        assert twice.status_code == 409, twice.text
        assert "Nama pengguna ini sudah dipakai" in twice.text
        assert 'value="kades.sukamandi"' in twice.text
        bad_profile = await client.post(
            f"/kabupaten/desa/{SUKAMANDI}/profil",
            data={"csrf_token": csrf.group(1), "name": "Sukamandi", "kode_pos": "12"},
        )
        assert bad_profile.status_code == 422, bad_profile.text
        assert "Profil desa belum tersimpan" in bad_profile.text
        assert 'value="12"' in bad_profile.text
    token = link.group(1)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as visitor:
        opened = await visitor.get("/akun/atur-sandi", params={"t": token})
        assert opened.status_code == 200 and "kades.sukamandi" in opened.text
        assert opened.headers["referrer-policy"] == "no-referrer"
        assert opened.headers["cache-control"] == "no-store"
        form = {"token": token, "new_password": NEW_PASSWORD}
        done = await visitor.post("/akun/atur-sandi", data=form)
        assert done.status_code == 200 and "sudah diatur" in done.text
        gone = await visitor.get("/akun/atur-sandi", params={"t": token})
        assert gone.status_code == 410 and "tidak berlaku lagi" in gone.text
        assert (await visitor.post("/akun/atur-sandi", data=form)).status_code == 410
    await service.login("kades.sukamandi", NEW_PASSWORD)
