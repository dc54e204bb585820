"""Keys and certificates of the signers.

Layout of the PKI folder (the same in both profiles):
    root-ca.crt.pem                      trust anchor, served at /pki/root.pem
    root-ca.key.pem                      dev profile only: the development root's key
    signers/<desa code>/<role>.key.pem   the signer's private key (mode 0600)
    signers/<desa code>/<role>.crt.pem   the signer's certificate, issued by the root

The dev profile creates a development PKI at first start and keeps it; production mounts real
files and nothing is generated. Every file is written once (temp file + `os.link`), so a crash
leaves no half-written file and two processes starting at once end up with the same PKI: the
loser of a race loads what the winner wrote.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from common.files import write_once
from services.signing.letter_types import SIGNER_TITLES

log = logging.getLogger(__name__)

ROOT_CERT_FILE = "root-ca.crt.pem"
ROOT_KEY_FILE = "root-ca.key.pem"
SIGNERS_DIR = "signers"

ROOT_VALIDITY = dt.timedelta(days=3652)  # ~10 years
SIGNER_VALIDITY = dt.timedelta(days=730)  # ~2 years
CLOCK_SKEW = dt.timedelta(hours=1)
# id-kp-documentSigning (RFC 9336); emailProtection is kept for older validators.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class DevSigner:
    """A signer the dev profile needs a certificate for."""

    desa_code: str
    desa_name: str
    kabupaten: str
    role: str = "kades"


class PkiError(RuntimeError):
    """The PKI folder is incomplete or inconsistent."""


def signer_key_path(pki_dir: Path, desa_code: str, role: str) -> Path:
    return pki_dir / SIGNERS_DIR / desa_code / f"{role}.key.pem"


def signer_cert_path(pki_dir: Path, desa_code: str, role: str) -> Path:
    return pki_dir / SIGNERS_DIR / desa_code / f"{role}.crt.pem"


def _load_or_create(path: Path, create: Callable[[], bytes], mode: int) -> bytes:
    if not path.exists():
        write_once(path, create(), mode)
    return path.read_bytes()


def _new_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_ec_key(pem: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    key: PrivateKeyTypes = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("development keys are EC P-256")
    return key


def _root_name() -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME, "Root CA Pemerintah Kabupaten Subang (Pengembangan)"
            ),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pemerintah Kabupaten Subang"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
        ]
    )


def _build_root_cert(key: ec.EllipticCurvePrivateKey) -> bytes:
    now = dt.datetime.now(dt.UTC)
    name = _root_name()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _build_signer_cert(
    signer: DevSigner,
    public_key: ec.EllipticCurvePublicKey,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    title = SIGNER_TITLES.get(signer.role, signer.role)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{title} {signer.desa_name}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Pemerintah Desa {signer.desa_name}"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, f"Kabupaten {signer.kabupaten}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
        ]
    )
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + SIGNER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def ensure_dev_pki(pki_dir: Path, dev_signers: Iterable[DevSigner]) -> None:
    """Create whatever part of the development PKI is missing; keep everything that exists."""
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    root_key = _load_ec_key(_load_or_create(pki_dir / ROOT_KEY_FILE, _new_key_pem, 0o600))
    root_pem = _load_or_create(pki_dir / ROOT_CERT_FILE, lambda: _build_root_cert(root_key), 0o644)
    root_cert = x509.load_pem_x509_certificate(root_pem)
    if root_cert.public_key() != root_key.public_key():
        raise PkiError(f"{ROOT_CERT_FILE} does not belong to {ROOT_KEY_FILE}")
    for signer in dev_signers:
        key_pem = _load_or_create(
            signer_key_path(pki_dir, signer.desa_code, signer.role), _new_key_pem, 0o600
        )
        public_key = _load_ec_key(key_pem).public_key()
        _load_or_create(
            signer_cert_path(pki_dir, signer.desa_code, signer.role),
            partial(_build_signer_cert, signer, public_key, root_cert, root_key),
            0o644,
        )


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class LoadedSigner:
    desa_code: str
    role: str
    certificate: x509.Certificate
    # Built once and reused for every signature (key parsed once, chain registry ready).
    signer: signers.SimpleSigner


class SignerRegistry:
    """The root certificate and every signer found in the PKI folder, loaded once at start."""

    def __init__(self, root_cert: x509.Certificate, loaded: Iterable[LoadedSigner]) -> None:
        self.root_cert = root_cert
        self.root_cert_asn1 = _to_asn1(root_cert)
        self.root_pem = root_cert.public_bytes(serialization.Encoding.PEM)
        self._signers = {(s.desa_code, s.role): s for s in loaded}

    @classmethod
    def load(cls, pki_dir: Path, key_password: bytes | None = None) -> "SignerRegistry":
        root_path = pki_dir / ROOT_CERT_FILE
        if not root_path.exists():
            raise PkiError(f"root certificate {root_path} is missing")
        root_cert = x509.load_pem_x509_certificate(root_path.read_bytes())
        root_asn1 = _to_asn1(root_cert)
        registry = SimpleCertificateStore.from_certs([root_asn1])  # type: ignore[no-untyped-call]
        loaded: list[LoadedSigner] = []
        for cert_path in sorted((pki_dir / SIGNERS_DIR).glob("*/*.crt.pem")):
            desa_code = cert_path.parent.name
            role = cert_path.name.removesuffix(".crt.pem")
            key_path = signer_key_path(pki_dir, desa_code, role)
            if not key_path.exists():
                raise PkiError(f"signer {desa_code}/{role} has a certificate but no key")
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key_pem = key_path.read_bytes()
            key = serialization.load_pem_private_key(key_pem, password=key_password)
            if cert.public_key() != key.public_key():
                raise PkiError(f"signer {desa_code}/{role}: certificate and key do not match")
            try:
                cert.verify_directly_issued_by(root_cert)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise PkiError(f"signer {desa_code}/{role} is not issued by the root") from exc
            simple = signers.SimpleSigner(
                signing_cert=_to_asn1(cert),
                signing_key=load_private_key_from_pemder_data(key_pem, passphrase=key_password),
                cert_registry=registry,
            )
            loaded.append(LoadedSigner(desa_code, role, cert, simple))
        log.info("loaded %d signer(s) from the PKI folder", len(loaded))
        return cls(root_cert, loaded)

    def get(self, desa_code: str, role: str) -> LoadedSigner | None:
        return self._signers.get((desa_code, role))

    def roles_for(self, desa_code: str) -> list[str]:
        return sorted(role for (code, role) in self._signers if code == desa_code)
