"""Keys and certificates of the signers.

Layout of the PKI folder (the same in both profiles):
    root-ca.crt.pem                      the kabupaten's root (trust anchor), /pki/root.pem
    root-ca.key.pem                      dev profile only: the development root's key
    signers/<desa code>/<role>.key.pem   the signer's private key (mode 0600)
    signers/<desa code>/<role>.crt.pem   the signer's certificate, issued by the root
    tsa.key.pem, tsa.crt.pem             the timestamp authority's key and certificate (dev)
    crl.der                              the root's certificate revocation list, /pki/crl

Every certificate the root issues names the CRL's public address (CRL distribution point), and
the dev profile re-issues the CRL before it goes stale, so signatures can carry it (PAdES B-LT)
and be checked offline later.

The dev profile creates a development PKI at first start and keeps it; production mounts real
files and nothing is generated. Every file is written once (temp file + `os.link`), so a crash
leaves no half-written file and two processes starting at once end up with the same PKI: the
loser of a race loads what the winner wrote.
"""

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pyhanko.sign import signers
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from common.domain import is_kecamatan_role, role_label
from common.files import write_once

log = logging.getLogger(__name__)

ROOT_CERT_FILE = "root-ca.crt.pem"
ROOT_KEY_FILE = "root-ca.key.pem"
SIGNERS_DIR = "signers"
TSA_CERT_FILE = "tsa.crt.pem"
TSA_KEY_FILE = "tsa.key.pem"
CRL_FILE = "crl.der"
# Where the dev profile publishes the CRL unless told otherwise (the signing service, /pki/crl).
DEFAULT_CRL_URL = "http://127.0.0.1:8002/pki/crl"

ROOT_VALIDITY = dt.timedelta(days=3652)  # ~10 years
SIGNER_VALIDITY = dt.timedelta(days=730)  # ~2 years
TSA_VALIDITY = dt.timedelta(days=3650)  # timestamps must stay checkable for years
CRL_VALIDITY = dt.timedelta(days=7)
# Re-issue the CRL when less than this is left, so a signature never embeds one about to lapse.
CRL_RENEW_BEFORE = dt.timedelta(days=5)
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
    # The holder's name when known (printed in the certificate), else the jabatan stands alone.
    holder_name: str = ""

    @property
    def organization(self) -> str:
        # A camat's certificate (desa_code: the kecamatan code, desa_name: its name) belongs to
        # the kecamatan's government, not a desa's.
        if is_kecamatan_role(self.role):
            return f"Pemerintah Kecamatan {self.desa_name}"
        return f"Pemerintah Desa {self.desa_name}"


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


def build_root_cert(key: ec.EllipticCurvePrivateKey, name: x509.Name | None = None) -> bytes:
    now = dt.datetime.now(dt.UTC)
    name = name or _root_name()
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


def _crl_distribution_point(crl_url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(crl_url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def build_signer_cert(
    signer: DevSigner,
    public_key: ec.EllipticCurvePublicKey,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    crl_url: str,
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    title = role_label(signer.role)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{title} {signer.desa_name}"),
            x509.NameAttribute(NameOID.TITLE, title),
            *(
                [x509.NameAttribute(NameOID.PSEUDONYM, signer.holder_name)]
                if signer.holder_name
                else []
            ),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, signer.organization),
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
        .add_extension(_crl_distribution_point(crl_url), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _build_tsa_cert(
    public_key: ec.EllipticCurvePublicKey,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    crl_url: str,
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME, "Timestamp Authority Kabupaten Subang (Pengembangan)"
            ),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pemerintah Kabupaten Subang"),
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
        .not_valid_after(min(now + TSA_VALIDITY, root_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
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
        # RFC 3161 2.3: a TSA certificate has exactly this EKU, marked critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .add_extension(_crl_distribution_point(crl_url), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def build_crl(
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    revoked_serials: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> bytes:
    """The root's CRL (DER), listing the given certificate serial numbers as revoked."""
    now = now or dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(minutes=5))
            .build()
        )
    crl = builder.sign(root_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def _replace_file(path: Path, content: bytes) -> None:
    """Atomically replace `path` (readers see the old or the new file, never half of one)."""
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    tmp.write_bytes(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def crl_needs_renewal(pki_dir: Path, now: dt.datetime | None = None) -> bool:
    path = pki_dir / CRL_FILE
    if not path.exists():
        return True
    crl = x509.load_der_x509_crl(path.read_bytes())
    next_update = crl.next_update_utc
    now = now or dt.datetime.now(dt.UTC)
    return next_update is None or next_update - now < CRL_RENEW_BEFORE


def renew_dev_crl(pki_dir: Path) -> None:
    """Issue a fresh CRL with the root key (dev profile; production mounts the CA's CRL)."""
    root_key = _load_ec_key((pki_dir / ROOT_KEY_FILE).read_bytes())
    root_cert = x509.load_pem_x509_certificate((pki_dir / ROOT_CERT_FILE).read_bytes())
    _replace_file(pki_dir / CRL_FILE, build_crl(root_cert, root_key))


def ensure_dev_pki(
    pki_dir: Path, dev_signers: Iterable[DevSigner], crl_url: str = DEFAULT_CRL_URL
) -> None:
    """Create whatever part of the development PKI is missing; keep everything that exists."""
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    root_key = _load_ec_key(_load_or_create(pki_dir / ROOT_KEY_FILE, _new_key_pem, 0o600))
    root_pem = _load_or_create(pki_dir / ROOT_CERT_FILE, lambda: build_root_cert(root_key), 0o644)
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
            partial(build_signer_cert, signer, public_key, root_cert, root_key, crl_url),
            0o644,
        )
    tsa_key = _load_ec_key(_load_or_create(pki_dir / TSA_KEY_FILE, _new_key_pem, 0o600))
    _load_or_create(
        pki_dir / TSA_CERT_FILE,
        partial(_build_tsa_cert, tsa_key.public_key(), root_cert, root_key, crl_url),
        0o644,
    )
    if crl_needs_renewal(pki_dir):
        renew_dev_crl(pki_dir)


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class _PreparedAttribute(CMSAttributeProvider):
    """A signed attribute that never changes for a signer, built once by `provider`."""

    def __init__(self, provider: SigningCertificateV2Provider) -> None:
        self.attribute_type = provider.attribute_type
        self._provider = provider
        self._der: bytes | None = None

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        if self._der is None:
            attribute = await self._provider.get_attribute()
            assert attribute is not None
            self._der = attribute.dump()
        return cms.CMSAttribute.load(self._der)


class CachedKeySigner(signers.Signer):
    """A pyHanko signer holding the parsed key: pyHanko's SimpleSigner parses the key again for
    every signature (and signs on the size-estimating dry run), which costs more than the
    signature itself for RSA keys."""

    def __init__(
        self,
        signing_cert: asn1_x509.Certificate,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        super().__init__(signing_cert=signing_cert, cert_registry=cert_registry)
        self._key = key
        self._signing_certificate_v2: _PreparedAttribute | None = None

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Any:
        # The signing-certificate-v2 attribute (the certificate's hash, issuer and serial) is
        # the same in every signature of this key, and building it with asn1crypto is most of
        # the CMS work: build it once, then hand out its DER (parsed, so dumped byte for byte).
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                if self._signing_certificate_v2 is None:
                    self._signing_certificate_v2 = _PreparedAttribute(provider)
                yield self._signing_certificate_v2
            else:
                yield provider

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:  # only the length matters: the largest the real signature can be
            return bytes(
                self._key.key_size // 8 if isinstance(self._key, rsa.RSAPrivateKey) else 72
            )
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hash_algorithm)
        return self._key.sign(data, ec.ECDSA(hash_algorithm))


@dataclass(frozen=True)
class LoadedSigner:
    desa_code: str
    role: str
    certificate: x509.Certificate
    # Built once and reused for every signature (key parsed once, chain registry ready).
    signer: signers.Signer

    @property
    def fingerprint(self) -> str:
        return certificate_fingerprint(self.certificate)


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex: which certificate a process has loaded."""
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class TsaKeys:
    certificate: asn1_x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _load_private_key(
    pem: bytes, password: bytes | None
) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError("signer keys are EC or RSA keys")
    return key


class SignerRegistry:
    """The root certificate, its CRL, the TSA and every signer found in the PKI folder, loaded
    once at start."""

    def __init__(
        self,
        root_cert: x509.Certificate,
        loaded: Iterable[LoadedSigner],
        tsa: TsaKeys | None = None,
        crl_der: bytes | None = None,
    ) -> None:
        self.root_cert = root_cert
        self.root_cert_asn1 = _to_asn1(root_cert)
        self.root_pem = root_cert.public_bytes(serialization.Encoding.PEM)
        self.cert_store = SimpleCertificateStore.from_certs([self.root_cert_asn1])  # type: ignore[no-untyped-call]
        self._signers = {(s.desa_code, s.role): s for s in loaded}
        self.tsa = tsa
        self.crl_der = crl_der

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
            loaded.append(_load_signer(pki_dir, desa_code, role, root_cert, registry, key_password))
        tsa = None
        if (pki_dir / TSA_CERT_FILE).exists():
            tsa_cert = _issued_by_root(pki_dir / TSA_CERT_FILE, root_cert, "the TSA")
            tsa_key = _load_ec_key((pki_dir / TSA_KEY_FILE).read_bytes(), key_password)
            if tsa_cert.public_key() != tsa_key.public_key():
                raise PkiError("the TSA certificate and key do not match")
            tsa = TsaKeys(_to_asn1(tsa_cert), tsa_key)
        crl_path = pki_dir / CRL_FILE
        crl_der = crl_path.read_bytes() if crl_path.exists() else None
        log.info("loaded %d signer(s) from the PKI folder", len(loaded))
        return cls(root_cert, loaded, tsa, crl_der)

    def get(self, desa_code: str, role: str) -> LoadedSigner | None:
        return self._signers.get((desa_code, role))

    def reload_signer(
        self, pki_dir: Path, desa_code: str, role: str, key_password: bytes | None = None
    ) -> LoadedSigner:
        """Loads one signer's files again (installed or replaced at runtime: signer_install.py)
        and uses it from now on. Raises PkiError, keeping the one loaded before."""
        loaded = _load_signer(
            pki_dir, desa_code, role, self.root_cert, self.cert_store, key_password
        )
        self._signers[(desa_code, role)] = loaded
        return loaded

    def roles_for(self, desa_code: str) -> list[str]:
        return sorted(role for (code, role) in self._signers if code == desa_code)


def _load_signer(
    pki_dir: Path,
    desa_code: str,
    role: str,
    root_cert: x509.Certificate,
    cert_store: SimpleCertificateStore,
    key_password: bytes | None,
) -> LoadedSigner:
    cert_path = signer_cert_path(pki_dir, desa_code, role)
    key_path = signer_key_path(pki_dir, desa_code, role)
    if not key_path.exists():
        raise PkiError(f"signer {desa_code}/{role} has a certificate but no key")
    cert = _issued_by_root(cert_path, root_cert, f"signer {desa_code}/{role}")
    key = _load_private_key(key_path.read_bytes(), key_password)
    if cert.public_key() != key.public_key():
        raise PkiError(f"signer {desa_code}/{role}: certificate and key do not match")
    signer = CachedKeySigner(_to_asn1(cert), key, cert_store)
    return LoadedSigner(desa_code, role, cert, signer)


def _issued_by_root(path: Path, root_cert: x509.Certificate, what: str) -> x509.Certificate:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise PkiError(f"{what} is not issued by the root") from exc
    return cert
