"""Signer certificates installed at runtime: a kabupaten operator onboarding a desa uploads its
Kades' or Sekdes' certificate and key (a PKCS#12 file, or a PEM certificate and PEM key) through
verification, which calls `InstallSigner`. No image, no restart.

- Checked before anything is kept: issued by the kabupaten's root (the chain every letter
  carries), valid now, not a CA, allowed to sign, not on the root's CRL, and the key matches.
- Kept in signing's database (`installed_signer`): every replica and every restart finds them
  there. The key is stored as PKCS#8 encrypted with the signing key password; the production
  profile refuses to keep a key without one.
- Laid out in the process's PKI folder (`signers/<desa>/<role>.key.pem` and `.crt.pem`, the
  layout pki.py reads), then loaded into the process's registry. The signing workers load a
  signer again when a job names a certificate they do not hold (signers.SignatureJob), so
  nothing waits for a restart.
- `refresh` (before each letter is planned) takes up what another replica installed: one
  cheap query (count and newest time) unless something changed.

Only desa whose letters are signed with local keys take a certificate here: an HSM's or BSrE's
keys never leave them.

A camat's certificate (the "mengetahui" approval signature, issuing.approve_at_kecamatan) is
installed the same way and checked the same, under the kecamatan's code in place of a desa's
(the layout and registry key it so); its row also keeps the camat's name as printed on the
stamp, taken from the camat account in verification.

A camat who signs through BSrE brings no certificate: the operator gives the NIK BSrE knows
their certificate by (`register_remote`, kept in `remote_signer`). From then on the kecamatan's
camat signs through BSrE on every replica (`refresh` marks it in the signer set), whatever the
`signing_signers` setting says for the kecamatan's code.
"""

import asyncio
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import SIGNER_ROLES, Role, SignerKind
from common.wilayah import all_desa, find_desa
from services.signing.models import InstalledSigner, RemoteSigner, as_utc, utcnow
from services.signing.pki import (
    PkiError,
    SignerRegistry,
    certificate_fingerprint,
    signer_cert_path,
    signer_key_path,
)
from services.signing.signers import SignerSet

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 64 * 1024


class SignerRejected(Exception):
    """The upload cannot be used; `reason` is for the operator (Indonesian), never the key."""

    def __init__(self, reason: str, *, precondition: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.precondition = precondition


@dataclass(frozen=True)
class SignerUpload:
    """Either a PKCS#12 file (with its password) or a PEM certificate and a PEM key (with the
    key's password when it is encrypted)."""

    pkcs12: bytes = field(default=b"", repr=False)
    certificate_pem: bytes = b""
    key_pem: bytes = field(default=b"", repr=False)
    password: bytes = field(default=b"", repr=False)


SignerKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _parse(upload: SignerUpload) -> tuple[x509.Certificate, SignerKey]:
    if len(upload.pkcs12) + len(upload.certificate_pem) + len(upload.key_pem) > MAX_UPLOAD_BYTES:
        raise SignerRejected("Berkas sertifikat terlalu besar (paling besar 64 KB).")
    password = upload.password or None
    if upload.pkcs12:
        if upload.certificate_pem or upload.key_pem:
            raise SignerRejected("Kirim berkas PKCS#12 saja, atau sertifikat dan kunci PEM saja.")
        try:
            key, cert, _chain = pkcs12.load_key_and_certificates(upload.pkcs12, password)
        except (ValueError, TypeError) as exc:
            raise SignerRejected(
                "Berkas PKCS#12 tidak dapat dibuka: kata sandinya salah atau berkasnya rusak."
            ) from exc
        if cert is None or key is None:
            raise SignerRejected("Berkas PKCS#12 harus berisi sertifikat dan kunci privatnya.")
    else:
        if not upload.certificate_pem or not upload.key_pem:
            raise SignerRejected(
                "Kirim berkas PKCS#12 (.p12/.pfx), atau sertifikat PEM beserta kunci privat PEM."
            )
        try:
            cert = x509.load_pem_x509_certificate(upload.certificate_pem)
        except ValueError as exc:
            raise SignerRejected("Sertifikat bukan sertifikat X.509 berformat PEM.") from exc
        try:
            key = serialization.load_pem_private_key(upload.key_pem, password)
        except TypeError as exc:  # encrypted without a password, or a password for a plain key
            raise SignerRejected(
                "Kunci privat terenkripsi memerlukan kata sandinya (atau kata sandi diberikan "
                "untuk kunci yang tidak terenkripsi)."
            ) from exc
        except ValueError as exc:
            raise SignerRejected(
                "Kunci privat tidak dapat dibaca: kata sandinya salah atau berkasnya rusak."
            ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SignerRejected("Kunci penandatangan harus kunci EC atau RSA.")
    return cert, key


def check_certificate(
    cert: x509.Certificate,
    key: SignerKey,
    root: x509.Certificate,
    crl_der: bytes | None,
    now: datetime | None = None,
) -> None:
    """Raises SignerRejected with the first reason the pair cannot sign the desa's letters."""
    now = now or datetime.now(UTC)
    if cert.public_key() != key.public_key():
        raise SignerRejected("Kunci privat tidak cocok dengan sertifikat.")
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise SignerRejected(
            "Sertifikat tidak diterbitkan oleh Root CA kabupaten; surat yang ditandatanganinya "
            "tidak akan dapat diverifikasi."
        ) from exc
    if cert.not_valid_before_utc > now:
        raise SignerRejected("Sertifikat belum berlaku.")
    if cert.not_valid_after_utc <= now:
        raise SignerRejected("Sertifikat sudah kedaluwarsa.")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise SignerRejected("Sertifikat CA tidak dapat dipakai untuk menandatangani surat.")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise SignerRejected("Sertifikat ini tidak diizinkan untuk tanda tangan digital.")
    except x509.ExtensionNotFound:
        pass
    if crl_der:
        crl = x509.load_der_x509_crl(crl_der)
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise SignerRejected("Sertifikat ini sudah dicabut (tercantum di CRL kabupaten).")


def _key_pem_to_store(key: SignerKey, password: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _replace(path: Path, content: bytes, mode: int) -> None:
    """Atomically (temp file + rename): a reader sees the old file or the new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class InstalledInfo:
    desa_code: str
    role: str
    subject: str
    serial: str
    fingerprint: str
    not_after: datetime | None
    kind: str = SignerKind.LOCAL


def _info(row: InstalledSigner, cert: x509.Certificate) -> InstalledInfo:
    return InstalledInfo(
        row.desa_code,
        row.role,
        cert.subject.rfc4514_string(),
        row.serial,
        row.fingerprint,
        as_utc(row.not_after),
    )


async def lay_out_installed(sessions: async_sessionmaker[AsyncSession], pki_dir: Path) -> None:
    """At start, before the PKI folder is read: every installed signer's files as the database
    has them (a fresh pod's folder has none; a crash may have left a pair half replaced)."""
    async with sessions() as session:
        rows = (await session.exec(select(InstalledSigner))).all()
    for row in rows:
        key_path = signer_key_path(pki_dir, row.desa_code, row.role)
        cert_path = signer_cert_path(pki_dir, row.desa_code, row.role)
        await asyncio.to_thread(_replace, key_path, row.key_pem.encode(), 0o600)
        await asyncio.to_thread(_replace, cert_path, row.certificate_pem.encode(), 0o644)


def is_kecamatan_code(code: str) -> bool:
    return any(d.kecamatan_code == code for d in all_desa().values())


def _check_camat(kecamatan_code: str, signer_name: str) -> None:
    if not is_kecamatan_code(kecamatan_code):
        raise SignerRejected(f"Kecamatan dengan kode '{kecamatan_code}' tidak dikenal.")
    if not signer_name:
        raise SignerRejected(
            "Nama Camat (yang tercetak pada tanda tangan) wajib ada: isi nama lengkap pada akun "
            "Camat kecamatan ini."
        )


async def printed_name(sessions: async_sessionmaker[AsyncSession], code: str, role: str) -> str:
    """The name kept with an installed certificate or a BSrE signer's mark ("" when none)."""
    async with sessions() as session:
        row = await session.get(InstalledSigner, (code, role))
        remote = await session.get(RemoteSigner, (code, role))
    if remote is not None and (
        row is None or as_utc(remote.installed_at) > as_utc(row.installed_at)
    ):
        return remote.signer_name
    return row.signer_name if row is not None else ""


# A NIK: 16 digits (Dukcapil). Checked before BSrE ever sees it.
_NIK_DIGITS = 16


class InstalledSigners:
    """The signers installed at runtime: the database's rows, laid out in this process's PKI
    folder and loaded into its registry."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: SignerRegistry,
        signers: SignerSet,
        pki_dir: Path,
        key_password: bytes | None,
        *,
        production: bool,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._signers = signers
        self._pki_dir = pki_dir
        self._key_password = key_password
        self._production = production
        self._seen: tuple[int, datetime | None] = (0, None)
        self._seen_remote: tuple[int, datetime | None] = (0, None)
        self._lock = asyncio.Lock()

    async def install(
        self,
        desa_code: str,
        role: str,
        upload: SignerUpload,
        installed_by: str,
        signer_name: str = "",
    ) -> InstalledInfo:
        """Checks the upload, keeps it and uses it from the next letter on (replacing the
        role's certificate the desa had). For role camat, `desa_code` is the kecamatan's code
        and `signer_name` the camat's printed name. Raises SignerRejected."""
        signer_name = " ".join(signer_name.split())[:120]
        if role == Role.CAMAT:
            _check_camat(desa_code, signer_name)
        elif find_desa(desa_code) is None:
            raise SignerRejected(f"Desa dengan kode '{desa_code}' tidak dikenal.")
        elif role not in SIGNER_ROLES:
            raise SignerRejected(
                "Jabatan penandatangan harus salah satu dari: "
                f"{', '.join((*SIGNER_ROLES, Role.CAMAT))}."
            )
        else:
            signer_name = ""  # a desa signer's name is the desa profile's
        if not installed_by:
            raise SignerRejected("installed_by wajib diisi.")
        # A camat's signer is set like a desa's, keyed by the kecamatan code (for_kecamatan).
        kind = self._signers.kind_for(desa_code)
        if kind != SignerKind.LOCAL:
            raise SignerRejected(
                f"{'Camat kecamatan' if role == Role.CAMAT else 'Desa'} ini menandatangani "
                f"surat dengan penanda tangan '{kind}': kuncinya "
                "berada di HSM atau BSrE, tidak dipasang di sini.",
                precondition=True,
            )
        if self._production and not self._key_password:
            raise SignerRejected(
                "Kata sandi kunci penandatangan (SMARTDESA_SIGNING_KEY_PASSWORD_FILE) belum "
                "dipasang: kunci tidak disimpan tanpa enkripsi.",
                precondition=True,
            )
        cert, key = await asyncio.to_thread(_parse, upload)
        check_certificate(cert, key, self._registry.root_cert, self._registry.crl_der)
        key_pem = await asyncio.to_thread(_key_pem_to_store, key, self._key_password)
        row = InstalledSigner(
            desa_code=desa_code,
            role=role,
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            key_pem=key_pem.decode(),
            fingerprint=certificate_fingerprint(cert),
            serial=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc,
            installed_by=installed_by,
            installed_at=utcnow(),
            signer_name=signer_name,
        )
        async with self._sessions() as session:
            await session.merge(row)
            await session.commit()
        async with self._lock:
            await self._lay_out(row)
        log.info("signer %s/%s installed (certificate %s)", desa_code, role, row.fingerprint[:16])
        return _info(row, cert)

    async def register_remote(
        self,
        code: str,
        role: str,
        nik: str,
        installed_by: str,
        signer_name: str = "",
    ) -> InstalledInfo:
        """Marks the kecamatan's camat as signing through BSrE, which knows their certificate by
        `nik` (never logged). Raises SignerRejected."""
        signer_name = " ".join(signer_name.split())[:120]
        if role != Role.CAMAT:
            raise SignerRejected(
                "Penanda tangan BSrE yang dipasang di sini hanya Camat; penanda tangan desa "
                "melalui BSrE diatur dalam konfigurasi layanan tanda tangan.",
            )
        _check_camat(code, signer_name)
        if not installed_by:
            raise SignerRejected("installed_by wajib diisi.")
        nik = nik.strip()
        if len(nik) != _NIK_DIGITS or not nik.isdigit():
            raise SignerRejected("NIK Camat yang terdaftar di BSrE harus 16 angka.")
        if self._signers.kind_available(SignerKind.BSRE) is None:
            raise SignerRejected(
                "Layanan tanda tangan belum terhubung ke BSrE (SMARTDESA_SIGNING_BSRE_*): "
                "Camat belum dapat menandatangani melalui BSrE.",
                precondition=True,
            )
        row = RemoteSigner(
            desa_code=code,
            role=role,
            kind=SignerKind.BSRE,
            nik=nik,
            installed_by=installed_by,
            installed_at=utcnow(),
            signer_name=signer_name,
        )
        async with self._sessions() as session:
            await session.merge(row)
            await session.commit()
        self._apply_remote(row)
        log.info("signer %s/%s marked as signing through BSrE", code, role)
        return InstalledInfo(code, role, "BSrE", "", "", None, SignerKind.BSRE)

    def _apply_remote(self, row: RemoteSigner) -> None:
        bsre = self._signers.kind_available(SignerKind.BSRE)
        register = getattr(bsre, "register", None)
        if register is None:  # BSrE not configured on this replica: it cannot sign for them
            log.warning(
                "signer %s/%s is marked for BSrE, which is not set up", row.desa_code, row.role
            )
            return
        register(row.desa_code, row.role, row.nik)
        self._signers.mark(row.desa_code, SignerKind.BSRE)

    async def _refresh_remote(self) -> None:
        async with self._sessions() as session:
            count, newest = (
                await session.exec(select(func.count(), func.max(RemoteSigner.installed_at)))
            ).one()
            seen = (int(count), as_utc(newest) if newest is not None else None)
            if seen == self._seen_remote:
                return
            rows = (await session.exec(select(RemoteSigner))).all()
        for row in rows:
            self._apply_remote(row)
        self._seen_remote = seen

    async def _lay_out(self, row: InstalledSigner) -> None:
        """The row's files in the PKI folder (key first: a certificate never names a key that
        is not there yet), then the registry loads them."""
        loaded = self._registry.get(row.desa_code, row.role)
        if loaded is not None and loaded.fingerprint == row.fingerprint:
            return
        key_path = signer_key_path(self._pki_dir, row.desa_code, row.role)
        cert_path = signer_cert_path(self._pki_dir, row.desa_code, row.role)
        await asyncio.to_thread(_replace, key_path, row.key_pem.encode(), 0o600)
        await asyncio.to_thread(_replace, cert_path, row.certificate_pem.encode(), 0o644)
        try:
            await asyncio.to_thread(
                self._registry.reload_signer,
                self._pki_dir,
                row.desa_code,
                row.role,
                self._key_password,
            )
        except PkiError:
            log.exception("installed signer %s/%s cannot be loaded", row.desa_code, row.role)

    async def refresh(self) -> None:
        await self._refresh_remote()
        async with self._sessions() as session:
            count, newest = (
                await session.exec(select(func.count(), func.max(InstalledSigner.installed_at)))
            ).one()
        seen = (int(count), as_utc(newest) if newest is not None else None)
        if seen == self._seen:
            return
        async with self._lock:
            async with self._sessions() as session:
                rows = (await session.exec(select(InstalledSigner))).all()
            for row in rows:
                await self._lay_out(row)
            self._seen = seen

    async def roles_for(self, desa_code: str) -> list[str]:
        """The roles with a key for the desa; for a kecamatan's code, ["camat"] once its
        camat's certificate is there (installed, or the dev PKI's)."""
        await self.refresh()
        if is_kecamatan_code(desa_code):
            camat = self._signers.for_kecamatan(desa_code)
            held = camat is not None and camat.can_sign(desa_code, Role.CAMAT)
            return [Role.CAMAT] if held else []
        signer = self._signers.for_desa(desa_code)
        return signer.roles_for(desa_code) if signer is not None else []
