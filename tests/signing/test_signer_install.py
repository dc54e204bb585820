"""Signer certificates installed at runtime (InstallSigner, over signing's real gRPC server):
a desa onboarded after the service started gets its Kades' key from a PKCS#12 upload or a PEM
pair, and its letters are signed with it by the running worker processes, with no restart; a
replaced certificate is used from the next letter on; an upload that cannot sign is refused in
Indonesian and nothing is kept."""

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader
from smartdesa.v1 import signing_pb2, signing_pb2_grpc
from sqlmodel import select

from common.auth import InternalAuth
from common.rpc import SIGNING, VERIFICATION, client_channel
from services.signing.config import Settings
from services.signing.desa_profile import DesaProfiles, ProfileInput
from services.signing.main import create_app
from services.signing.models import InstalledSigner
from services.signing.pades import APPROVAL_FIELD
from services.signing.pdf_verification import check_pdf
from services.signing.pki import (
    ROOT_CERT_FILE,
    ROOT_KEY_FILE,
    DevSigner,
    build_root_cert,
    build_signer_cert,
    certificate_fingerprint,
    signer_cert_path,
)
from services.signing.runtime import Runtime
from services.signing.signer_install import (
    InstalledSigners,
    SignerRejected,
    SignerUpload,
    lay_out_installed,
)
from tests.signing.conftest import make_settings, skd_request

# Sukamandi (Sagalaherang): not one of the 64 desa served before onboarding was data.
SUKAMANDI = "32.13.01.2003"
P12_PASSWORD = b"sandi-p12-uji"


def _root(pki_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((pki_dir / ROOT_CERT_FILE).read_bytes())
    key = serialization.load_pem_private_key((pki_dir / ROOT_KEY_FILE).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _kades_pair(
    root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], holder: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = DevSigner(SUKAMANDI, "Sukamandi", "Subang", "kades", holder)
    pem = build_signer_cert(signer, key.public_key(), root[0], root[1], "http://127.0.0.1/crl")
    return x509.load_pem_x509_certificate(pem), key


def _p12(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"kades", key, cert, None, serialization.BestAvailableEncryption(P12_PASSWORD)
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def settings(data_dir: Path, nats_url: str) -> Settings:
    # One worker process: it loads its keys at start, before the desa has any.
    return make_settings(data_dir, nats_url, signing_workers=1)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.runtime


@pytest.fixture
async def stub(runtime: Runtime) -> AsyncIterator[signing_pb2_grpc.SigningServiceStub]:
    # As verification calls it: its own internal token, to signing's audience.
    auth = InternalAuth.from_settings(runtime.settings, VERIFICATION)
    channel = client_channel(f"127.0.0.1:{runtime.grpc_server.port}", auth, SIGNING)
    try:
        yield signing_pb2_grpc.SigningServiceStub(channel)
    finally:
        await channel.close()


async def _profile(runtime: Runtime) -> None:
    profiles = DesaProfiles(runtime.sessions, runtime.settings.assets_dir)
    await profiles.update(
        SUKAMANDI,
        ProfileInput(
            name="Sukamandi",
            kecamatan="Sagalaherang",
            kabupaten="Subang",
            address="Jl. Raya Sukamandi No. 1",
            kode_pos="41282",
            kades_name="Hj. Euis Komariah",
        ),
        updated_by="diskominfo.subang",
        create=True,
    )


async def _signer_of(runtime: Runtime, application_id: str) -> str:
    letter = await runtime.issuer.issue(skd_request(application_id, desa_code=SUKAMANDI))
    pdf = await runtime.issuer.read_pdf(letter)
    check = await asyncio.to_thread(check_pdf, pdf, runtime.signers.root_cert_asn1)
    assert check.conclusion == "valid", check
    return check.signer or ""


async def test_a_certificate_installed_at_runtime_signs_the_next_letter(
    runtime: Runtime, stub: signing_pb2_grpc.SigningServiceStub
) -> None:
    await _profile(runtime)
    before = await stub.GetSigner(signing_pb2.GetSignerRequest(desa_code=SUKAMANDI))
    assert before.kind == "local" and list(before.roles) == []
    with pytest.raises(Exception, match="belum memiliki penandatangan"):
        await runtime.issuer.issue(skd_request("app-before-install", desa_code=SUKAMANDI))

    root = _root(runtime.settings.pki_dir)
    cert, key = _kades_pair(root, "Hj. Euis Komariah")
    info = await stub.InstallSigner(
        signing_pb2.InstallSignerRequest(
            desa_code=SUKAMANDI,
            role="kades",
            pkcs12=_p12(cert, key),
            password=P12_PASSWORD,
            installed_by="diskominfo.subang",
        )
    )
    assert info.role == "kades" and "Kepala Desa Sukamandi" in info.subject
    assert info.not_after.ToDatetime(dt.UTC) == cert.not_valid_after_utc
    after = await stub.GetSigner(signing_pb2.GetSignerRequest(desa_code=SUKAMANDI))
    assert list(after.roles) == ["kades"]
    # The worker process started without this key; it signs with it now, no restart.
    assert "Hj. Euis Komariah" in await _signer_of(runtime, "app-first")
    assert runtime.issuer.last_signed is not None and runtime.issuer.last_signed.worker_pid

    # A new Kades: the PEM pair replaces the certificate from the next letter on.
    new_cert, new_key = _kades_pair(root, "Asep Saepudin")
    await stub.InstallSigner(
        signing_pb2.InstallSignerRequest(
            desa_code=SUKAMANDI,
            role="kades",
            certificate_pem=_pem(new_cert),
            key_pem=_key_pem(new_key),
            installed_by="diskominfo.subang",
        )
    )
    assert "Asep Saepudin" in await _signer_of(runtime, "app-second")
    async with runtime.sessions() as session:
        rows = (await session.exec(select(InstalledSigner))).all()
    assert [(r.desa_code, r.role, r.installed_by) for r in rows] == [
        (SUKAMANDI, "kades", "diskominfo.subang")
    ]
    assert "PRIVATE KEY" in rows[0].key_pem  # dev profile: no key password configured


async def test_another_replica_and_a_restart_take_up_installed_signers(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The database is where an installed signer lives: a fresh PKI folder (a new pod) gets its
    files at start, and a running replica takes it up before its next letter."""
    await _profile(runtime)
    cert, key = _kades_pair(_root(runtime.settings.pki_dir), "Hj. Euis Komariah")
    await runtime.installed_signers.install(
        SUKAMANDI, "kades", SignerUpload(certificate_pem=_pem(cert), key_pem=_key_pem(key)), "op"
    )
    fresh = tmp_path / "pod-pki"
    await lay_out_installed(runtime.sessions, fresh)
    assert signer_cert_path(fresh, SUKAMANDI, "kades").read_bytes() == _pem(cert)

    # What another replica wrote into the database is picked up at this one's next letter.
    other_cert, other_key = _kades_pair(_root(runtime.settings.pki_dir), "Dadang Sudrajat")
    async with runtime.sessions() as session:
        row = await session.get(InstalledSigner, (SUKAMANDI, "kades"))
        assert row is not None
        row.certificate_pem = _pem(other_cert).decode()
        row.key_pem = _key_pem(other_key).decode()
        row.fingerprint = certificate_fingerprint(other_cert)
        row.installed_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        session.add(row)
        await session.commit()
    assert "Dadang Sudrajat" in await _signer_of(runtime, "app-other-replica")


def _refusal(exc: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str]:
    return exc.code(), exc.details() or ""


async def test_uploads_that_cannot_sign_are_refused_and_nothing_is_kept(
    runtime: Runtime, stub: signing_pb2_grpc.SigningServiceStub
) -> None:
    root = _root(runtime.settings.pki_dir)
    cert, key = _kades_pair(root, "Hj. Euis Komariah")
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger_root_key = ec.generate_private_key(ec.SECP256R1())
    stranger_root = x509.load_pem_x509_certificate(build_root_cert(stranger_root_key))
    stranger_cert, stranger_key = _kades_pair((stranger_root, stranger_root_key), "Orang Lain")

    def request(
        desa_code: str = SUKAMANDI,
        role: str = "kades",
        *,
        pkcs12: bytes = b"",
        certificate_pem: bytes = b"",
        key_pem: bytes = b"",
        password: bytes = b"",
    ) -> signing_pb2.InstallSignerRequest:
        return signing_pb2.InstallSignerRequest(
            desa_code=desa_code,
            role=role,
            installed_by="diskominfo.subang",
            pkcs12=pkcs12,
            certificate_pem=certificate_pem,
            key_pem=key_pem,
            password=password,
        )

    cases = [
        (request(pkcs12=_p12(cert, key), password=b"salah"), "kata sandinya salah"),
        (request(certificate_pem=_pem(cert), key_pem=_key_pem(other_key)), "tidak cocok"),
        (
            request(certificate_pem=_pem(stranger_cert), key_pem=_key_pem(stranger_key)),
            "tidak diterbitkan oleh Root CA kabupaten",
        ),
        (request(certificate_pem=_pem(cert)), "sertifikat PEM beserta kunci privat PEM"),
        (request(certificate_pem=b"bukan sertifikat", key_pem=_key_pem(key)), "X.509"),
        (
            request(role="operator", certificate_pem=_pem(cert), key_pem=_key_pem(key)),
            "Jabatan penandatangan",
        ),
        (
            request(desa_code="32.13.99.9999", certificate_pem=_pem(cert), key_pem=_key_pem(key)),
            "tidak dikenal",
        ),
    ]
    for req, reason in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.InstallSigner(req)
        code, details = _refusal(refused.value)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and reason in details, details
        assert "sandi-p12-uji" not in details
    async with runtime.sessions() as session:
        assert (await session.exec(select(InstalledSigner))).all() == []
    assert not signer_cert_path(runtime.settings.pki_dir, SUKAMANDI, "kades").exists()


async def test_production_keeps_installed_keys_only_encrypted(runtime: Runtime) -> None:
    """With the signing key password the key is stored encrypted and still loads; without it
    the production profile refuses to keep one."""
    cert, key = _kades_pair(_root(runtime.settings.pki_dir), "Hj. Euis Komariah")
    upload = SignerUpload(certificate_pem=_pem(cert), key_pem=_key_pem(key))

    def store(password: bytes | None) -> InstalledSigners:
        return InstalledSigners(
            runtime.sessions,
            runtime.signers,
            runtime.letter_signers,
            runtime.settings.pki_dir,
            password,
            production=True,
        )

    with pytest.raises(SignerRejected, match="tidak disimpan tanpa enkripsi"):
        await store(None).install(SUKAMANDI, "kades", upload, "diskominfo.subang")
    await store(b"sandi-kunci-produksi").install(SUKAMANDI, "kades", upload, "diskominfo.subang")
    async with runtime.sessions() as session:
        row = await session.get(InstalledSigner, (SUKAMANDI, "kades"))
    assert row is not None and "ENCRYPTED PRIVATE KEY" in row.key_pem
    loaded = runtime.signers.get(SUKAMANDI, "kades")
    assert loaded is not None and loaded.fingerprint == certificate_fingerprint(cert)


SAGALAHERANG = "32.13.01"  # Sukamandi's kecamatan: the dev PKI has no camat for it


def _camat_pair(
    root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], holder: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = DevSigner(SAGALAHERANG, "Sagalaherang", "Subang", "camat", holder)
    pem = build_signer_cert(signer, key.public_key(), root[0], root[1], "http://127.0.0.1/crl")
    return x509.load_pem_x509_certificate(pem), key


async def _camat_of(runtime: Runtime, application_id: str) -> tuple[bytes, bytes]:
    """The camat's certificate (DER) and stamp text on an SKTM of Sukamandi."""
    letter = await runtime.issuer.issue(
        skd_request(
            application_id, desa_code=SUKAMANDI, letter_type="SKTM", kecamatan_code=SAGALAHERANG
        )
    )
    assert letter.kecamatan_approved_at is not None
    pdf = await runtime.issuer.read_pdf(letter)
    check = await asyncio.to_thread(check_pdf, pdf, runtime.signers.root_cert_asn1)
    assert check.conclusion == "valid", check
    signature = next(
        s for s in PdfFileReader(BytesIO(pdf)).embedded_signatures if s.field_name == APPROVAL_FIELD
    )
    stamp = bytes(signature.sig_field["/AP"]["/N"].get_object().data)
    stamp = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), stamp)
    return signature.signer_cert.dump(), stamp


async def test_a_camat_certificate_installed_at_runtime_approves_the_next_letter(
    runtime: Runtime, stub: signing_pb2_grpc.SigningServiceStub
) -> None:
    """The camat's certificate goes in like a desa signer's (the same checks), keyed by the
    kecamatan, with the camat's printed name; the running worker approves with it, and with
    a replacement from the next letter on."""
    await _profile(runtime)
    root = _root(runtime.settings.pki_dir)
    kades, kades_key = _kades_pair(root, "Hj. Euis Komariah")
    await runtime.installed_signers.install(
        SUKAMANDI, "kades", SignerUpload(_p12(kades, kades_key), password=P12_PASSWORD), "op"
    )
    before = await stub.GetSigner(signing_pb2.GetSignerRequest(desa_code=SAGALAHERANG))
    assert list(before.roles) == []
    with pytest.raises(Exception, match="Belum ada sertifikat camat"):
        await _camat_of(runtime, "app-sktm-before")

    camat, camat_key = _camat_pair(root, "Drs. Ujang Rahmat")
    request = signing_pb2.InstallSignerRequest(
        desa_code=SAGALAHERANG,
        role="camat",
        certificate_pem=_pem(camat),
        key_pem=_key_pem(camat_key),
        installed_by="diskominfo.subang",
    )
    with pytest.raises(grpc.aio.AioRpcError) as nameless:
        await stub.InstallSigner(request)
    assert _refusal(nameless.value) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Nama Camat (yang tercetak pada tanda tangan) wajib ada: isi nama lengkap pada akun "
        "Camat kecamatan ini.",
    )
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        wrong_place = signing_pb2.InstallSignerRequest()
        wrong_place.CopyFrom(request)
        wrong_place.desa_code, wrong_place.signer_name = "32.13.99", "Drs. Ujang Rahmat"
        await stub.InstallSigner(wrong_place)
    assert "Kecamatan dengan kode '32.13.99' tidak dikenal" in _refusal(unknown.value)[1]
    request.signer_name = "Drs. Ujang  Rahmat "
    info = await stub.InstallSigner(request)
    assert info.role == "camat" and "Pemerintah Kecamatan Sagalaherang" in info.subject
    after = await stub.GetSigner(signing_pb2.GetSignerRequest(desa_code=SAGALAHERANG))
    assert list(after.roles) == ["camat"]

    # The worker process started before; it approves with the installed key, no restart.
    used, stamp = await _camat_of(runtime, "app-sktm-first")
    assert used == camat.public_bytes(serialization.Encoding.DER)
    assert b"Drs. Ujang Rahmat" in stamp

    # A new camat: the replacement is used from the next letter on, by the same worker.
    new_camat, new_key = _camat_pair(root, "Hj. Nining Suryani")
    request.certificate_pem, request.key_pem = _pem(new_camat), _key_pem(new_key)
    request.signer_name = "Hj. Nining Suryani"
    await stub.InstallSigner(request)
    used, stamp = await _camat_of(runtime, "app-sktm-second")
    assert used == new_camat.public_bytes(serialization.Encoding.DER)
    assert b"Hj. Nining Suryani" in stamp
