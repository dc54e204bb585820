import datetime as dt
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.signing.main import create_app
from services.signing.pki import (
    CRL_FILE,
    CRL_RENEW_BEFORE,
    DEFAULT_CRL_URL,
    DOCUMENT_SIGNING,
    ROOT_CERT_FILE,
    ROOT_KEY_FILE,
    TSA_CERT_FILE,
    TSA_KEY_FILE,
    PkiError,
    SignerRegistry,
    crl_needs_renewal,
    ensure_dev_pki,
    signer_cert_path,
    signer_key_path,
)
from services.signing.seed import dev_signers
from tests.signing.conftest import PAMANUKAN, RANCASARI, make_settings


def _files(pki_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(pki_dir)): p.read_bytes() for p in pki_dir.rglob("*.pem")}


def test_dev_pki_is_created_once_and_kept(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, dev_signers())
    first = _files(tmp_path)
    assert set(first) == {
        ROOT_CERT_FILE,
        ROOT_KEY_FILE,
        TSA_CERT_FILE,
        TSA_KEY_FILE,
        *(
            f"signers/{desa}/{role}.{kind}.pem"
            for desa in (PAMANUKAN, RANCASARI)
            for role in ("kades", "sekdes")
            for kind in ("key", "crt")
        ),
        # The camat of their kecamatan (Pamanukan): keyed by the kecamatan code.
        "signers/32.13.11/camat.key.pem",
        "signers/32.13.11/camat.crt.pem",
    }
    assert (tmp_path / CRL_FILE).exists()
    ensure_dev_pki(tmp_path, dev_signers())
    assert _files(tmp_path) == first
    for key in (tmp_path / ROOT_KEY_FILE, signer_key_path(tmp_path, PAMANUKAN, "kades")):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not list(tmp_path.rglob(".tmp-*"))


def test_missing_signer_cert_is_completed_for_the_existing_key(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, dev_signers())
    key_before = signer_key_path(tmp_path, PAMANUKAN, "kades").read_bytes()
    signer_cert_path(tmp_path, PAMANUKAN, "kades").unlink()  # as after a crash between the two
    ensure_dev_pki(tmp_path, dev_signers())
    assert signer_key_path(tmp_path, PAMANUKAN, "kades").read_bytes() == key_before
    assert SignerRegistry.load(tmp_path).get(PAMANUKAN, "kades") is not None


def test_root_and_signer_certificates(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, dev_signers())
    root = x509.load_pem_x509_certificate((tmp_path / ROOT_CERT_FILE).read_bytes())
    cn = root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "Root CA Pemerintah Kabupaten Subang (Pengembangan)"
    assert root.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "ID"
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert (root.not_valid_after_utc - root.not_valid_before_utc).days >= 3650

    registry = SignerRegistry.load(tmp_path)
    loaded = registry.get(PAMANUKAN, "kades")
    assert loaded is not None
    cert = loaded.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Kepala Desa Pamanukan"
    )
    org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == "Pemerintah Desa Pamanukan"
    assert cert.issuer == root.subject
    cert.verify_directly_issued_by(root)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert DOCUMENT_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert 700 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 740
    assert registry.roles_for(RANCASARI) == ["kades", "sekdes"]
    assert registry.get(PAMANUKAN, "camat") is None
    sekdes = registry.get(PAMANUKAN, "sekdes")
    assert sekdes is not None and sekdes.certificate.public_key() != cert.public_key()
    assert sekdes.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Sekretaris Desa Pamanukan"
    )
    for issued in (cert, sekdes.certificate):
        cdp = issued.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert [n.value for n in cdp[0].full_name or []] == [DEFAULT_CRL_URL]


def test_tsa_certificate_and_crl(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, dev_signers(), "https://pki.example.test/pki/crl")
    root = x509.load_pem_x509_certificate((tmp_path / ROOT_CERT_FILE).read_bytes())
    tsa = x509.load_pem_x509_certificate((tmp_path / TSA_CERT_FILE).read_bytes())
    tsa.verify_directly_issued_by(root)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    cdp = tsa.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in cdp[0].full_name or []] == ["https://pki.example.test/pki/crl"]

    crl = x509.load_der_x509_crl((tmp_path / CRL_FILE).read_bytes())
    root_key = root.public_key()
    assert isinstance(root_key, ec.EllipticCurvePublicKey)
    assert crl.issuer == root.subject and crl.is_signature_valid(root_key)
    assert crl.next_update_utc is not None and len(crl) == 0
    assert not crl_needs_renewal(tmp_path)
    registry = SignerRegistry.load(tmp_path)
    assert registry.tsa is not None and registry.crl_der == (tmp_path / CRL_FILE).read_bytes()
    # Close to its next update the CRL is re-issued at the next start.
    later = crl.next_update_utc - CRL_RENEW_BEFORE + dt.timedelta(minutes=1)
    assert crl_needs_renewal(tmp_path, now=later)


_RACE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from services.signing.pki import ROOT_CERT_FILE, ensure_dev_pki, signer_cert_path
    from services.signing.seed import dev_signers
    pki = Path(sys.argv[1])
    ensure_dev_pki(pki, dev_signers())
    root = x509.load_pem_x509_certificate((pki / ROOT_CERT_FILE).read_bytes())
    leaf = x509.load_pem_x509_certificate(signer_cert_path(pki, "32.13.11.2004", "kades").read_bytes())
    leaf.verify_directly_issued_by(root)
    print(root.fingerprint(hashes.SHA256()).hex(), leaf.fingerprint(hashes.SHA256()).hex())
    """
)


def test_processes_starting_at_once_share_one_pki(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACE, str(pki)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len({tuple(o) for o in outputs}) == 1  # everyone ended with the same root and leaf
    root = x509.load_pem_x509_certificate((pki / ROOT_CERT_FILE).read_bytes())
    assert outputs[0][0] == root.fingerprint(hashes.SHA256()).hex()


async def test_second_start_loads_the_same_root(data_dir: Path, nats_url: str) -> None:
    fingerprints = []
    for _ in range(2):
        app = create_app(make_settings(data_dir, nats_url))
        async with app.router.lifespan_context(app):
            root = app.state.runtime.signers.root_cert
            fingerprints.append(root.fingerprint(hashes.SHA256()))
    assert fingerprints[0] == fingerprints[1]


async def test_production_generates_nothing(data_dir: Path, nats_url: str) -> None:
    secret = data_dir / "internal.key"
    secret.write_text("s" * 64)
    pki = data_dir / "mounted-pki"
    settings = make_settings(
        data_dir,
        nats_url,
        profile="production",
        signing_pki_dir=pki,
        internal_token_secret_file=secret,
    )
    app = create_app(settings)
    with pytest.raises(PkiError):
        async with app.router.lifespan_context(app):
            pass
    assert not pki.exists() or not any(pki.iterdir())


def test_production_loads_mounted_files_without_the_root_key(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, dev_signers())
    (tmp_path / ROOT_KEY_FILE).unlink()  # production never has the CA's key
    registry = SignerRegistry.load(tmp_path)
    assert registry.get(PAMANUKAN, "kades") is not None
    assert not (tmp_path / ROOT_KEY_FILE).exists()


def test_a_certificate_from_another_root_is_refused(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path / "a", dev_signers())
    ensure_dev_pki(tmp_path / "b", dev_signers())
    # Same names, different keys: only the signature tells them apart.
    for path in (signer_cert_path, signer_key_path):
        foreign = path(tmp_path / "b", PAMANUKAN, "kades").read_bytes()
        path(tmp_path / "a", PAMANUKAN, "kades").write_bytes(foreign)
    with pytest.raises(PkiError):
        SignerRegistry.load(tmp_path / "a")
