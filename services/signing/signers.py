"""Who holds the key: pluggable letter signers. Which one a desa uses is configuration
(`SMARTDESA_SIGNING_SIGNERS`, desa code -> kind, default `SMARTDESA_SIGNING_DEFAULT_SIGNER`).

- `local`: keys from the PKI folder, parsed once per worker process. Render and sign run in a
  process pool (both cores; never on the event loop).
- `pkcs11`: the key stays in an HSM (SoftHSM2 in tests) and pyHanko asks it for the raw
  signature; one session opened at start, used by one thread at a time.
- `bsre`: BSrE's signing service does the PDF signature (services/signing/bsre.py).

Every kind renders the same letter and returns a signed PDF; the PAdES work of `local` and
`pkcs11` is the same `PadesEngine`. Every kind also makes the camat's approval signature
(`approve`) on a letter going through the kecamatan; which kind a kecamatan uses is the same
setting, keyed by the kecamatan's code (`SignerSet.for_kecamatan`).
"""

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.timestamps import TimeStamper

from common.domain import SIGNER_ROLES, SignerKind
from common.files import write_once
from services.signing import rendering
from services.signing.pades import (
    ApprovalStamp,
    HttpxTimeStamper,
    PadesEngine,
    PadesLevel,
    StampText,
)
from services.signing.pki import CRL_FILE, LoadedSigner, PkiError, SignerRegistry
from services.signing.processes import forkserver_context

log = logging.getLogger(__name__)
_T = TypeVar("_T")
# pyHanko warns on every B-LTA signature that it may not fetch revocation data: by design, the
# CRL is handed to it (pre-fetched) instead.
logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)


class SigningFailed(Exception):
    """The signer could not sign (unreachable, refused, wrong passphrase). `reason` is for
    staff (Indonesian) and never contains the passphrase."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class SignatureJob:
    """One letter to render and sign. Picklable: it crosses into the worker process."""

    content: rendering.LetterContent
    desa_code: str
    role: str  # whose certificate signs
    location: str
    stamp: StampText
    # Only for signers that ask for it per signature (BSrE); never stored, never logged.
    passphrase: str | None = field(default=None, repr=False)
    # Where the signed letter goes. A signer that can writes it there itself (write_once:
    # atomic, fsynced, first writer wins), so the PDF does not travel back to the caller.
    output: Path | None = None
    # The certificate the service has for this signer (pki.certificate_fingerprint), "" if
    # none: a worker holding another one (installed or replaced at runtime) loads it again.
    signer_fingerprint: str = ""
    # The letter goes through the kecamatan: reserve the camat's signature field.
    approval_field: bool = False


@dataclass(frozen=True)
class ApprovalJob:
    """The camat's "mengetahui" signature on a certified letter. Picklable."""

    pdf: bytes
    kecamatan_code: str  # whose camat certificate signs (the PKI keys it by kecamatan code)
    location: str
    stamp: ApprovalStamp
    role: str = "camat"
    # Only for signers that ask for it per signature (BSrE); never stored, never logged.
    passphrase: str | None = field(default=None, repr=False)
    # As SignatureJob's: a worker holding another camat certificate (installed or replaced at
    # runtime) loads this one again.
    signer_fingerprint: str = ""


@dataclass(frozen=True)
class SignedLetter:
    pdf: bytes  # empty when `stored`: the letter is in the job's `output` file
    render_ms: float
    sign_ms: float
    worker_pid: int = field(default_factory=os.getpid)  # the process that rendered and signed
    stored: bool = False  # this call created the job's `output` file with the signed letter
    sha256: str = ""  # of the signed letter, when `stored`


class LetterSigner(Protocol):
    kind: SignerKind

    def can_sign(self, desa_code: str, role: str) -> bool: ...

    def roles_for(self, desa_code: str) -> list[str]:
        """The roles this signer holds keys for in the desa."""
        ...

    async def sign(self, job: SignatureJob) -> SignedLetter: ...

    async def approve(self, job: ApprovalJob) -> bytes:
        """The camat's approval signature on `job.pdf` (the PDF with it added)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class EngineConfig:
    """How a process builds its PadesEngine: picklable, sent to each worker once."""

    pki_dir: Path
    key_password: bytes | None = field(default=None, repr=False)
    level: PadesLevel = PadesLevel.B_LTA
    # None: stamp with the TSA in the PKI folder in process (the key /tsa serves with).
    tsa_url: str | None = None


def build_timestamper(config: EngineConfig, registry: SignerRegistry) -> TimeStamper | None:
    if config.level == PadesLevel.B_B:
        return None
    if config.tsa_url:
        return HttpxTimeStamper(config.tsa_url)
    if registry.tsa is None:
        raise SigningFailed("Otoritas cap waktu (TSA) belum dikonfigurasi.")
    from services.signing.tsa import TimestampAuthority

    return TimestampAuthority(registry.tsa, [registry.root_cert_asn1])


# The dev PKI's CMS (EC P-256, three certificates, a timestamp token) is under 4 KB: 16 KB of
# hex digits leaves room for RSA keys and a longer chain.
LOCAL_BYTES_RESERVED = 16384


def build_engine(
    config: EngineConfig,
    registry: SignerRegistry,
    timestamper: TimeStamper | None = None,
    bytes_reserved: int | None = None,
) -> PadesEngine:
    return PadesEngine(
        config.level,
        [registry.root_cert_asn1],
        timestamper or build_timestamper(config, registry),
        crls=[registry.crl_der] if registry.crl_der else [],
        # Without a CRL at hand, production fetches it from the certificates' CRL address.
        allow_fetching=registry.crl_der is None,
        bytes_reserved=bytes_reserved,
    )


class _LocalState:
    """A process's keys and engine, built once; the CRL is re-read when the file changes."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.registry = SignerRegistry.load(config.pki_dir, config.key_password)
        self.engine = build_engine(config, self.registry, bytes_reserved=LOCAL_BYTES_RESERVED)
        self._crl_mtime = self._crl_stat()
        self.lock = threading.Lock()

    def _crl_stat(self) -> float:
        try:
            return (self.config.pki_dir / CRL_FILE).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def refresh_crl(self) -> None:
        mtime = self._crl_stat()
        if mtime != self._crl_mtime:
            self._crl_mtime = mtime
            self.engine.update_crls([(self.config.pki_dir / CRL_FILE).read_bytes()])

    def _signer_for(self, code: str, role: str, fingerprint: str) -> LoadedSigner | None:
        loaded = self.registry.get(code, role)
        if fingerprint and (loaded is None or loaded.fingerprint != fingerprint):
            # Installed or replaced since this process loaded its keys (signer_install.py
            # wrote the files before the job was sent): read that one signer again.
            try:
                loaded = self.registry.reload_signer(
                    self.config.pki_dir, code, role, self.config.key_password
                )
            except PkiError as exc:
                raise SigningFailed(
                    f"Kunci penandatangan {role} {code} belum dapat dibaca.", retryable=True
                ) from exc
        return loaded

    def approve(self, job: ApprovalJob) -> bytes:
        loaded = self._signer_for(job.kecamatan_code, job.role, job.signer_fingerprint)
        if loaded is None:
            try:  # installed since this process loaded its keys
                loaded = self.registry.reload_signer(
                    self.config.pki_dir, job.kecamatan_code, job.role, self.config.key_password
                )
            except PkiError as exc:
                raise SigningFailed(
                    f"Tidak ada kunci penandatangan camat untuk kecamatan {job.kecamatan_code}."
                ) from exc
        with self.lock:
            self.refresh_crl()
            return self.engine.approve(job.pdf, loaded.signer, job.location, job.stamp)

    def render_and_sign(self, job: SignatureJob) -> SignedLetter:
        loaded = self._signer_for(job.desa_code, job.role, job.signer_fingerprint)
        if loaded is None:
            raise SigningFailed(
                f"Tidak ada kunci penandatangan {job.role} untuk desa {job.desa_code}."
            )
        with self.lock:
            self.refresh_crl()
            start = time.perf_counter()
            pdf = rendering.render_letter(job.content)
            rendered = time.perf_counter()
            signed = self.engine.sign(
                pdf, loaded.signer, job.location, job.stamp, approval_field=job.approval_field
            )
            done = time.perf_counter()
        render_ms, sign_ms = (rendered - start) * 1000, (done - rendered) * 1000
        if job.output is not None and write_once(job.output, signed):
            digest = hashlib.sha256(signed).hexdigest()
            return SignedLetter(b"", render_ms, sign_ms, stored=True, sha256=digest)
        # Not asked to store it, or a concurrent call stored its letter first (which counts).
        return SignedLetter(signed, render_ms, sign_ms)


_worker_state: _LocalState | None = None


def _init_worker(config: EngineConfig) -> None:
    global _worker_state
    _worker_state = _LocalState(config)
    log.debug("signing worker %d ready", os.getpid())


def _worker_ready() -> int:
    return os.getpid()


def _sign_in_worker(job: SignatureJob) -> SignedLetter:
    assert _worker_state is not None, "worker not initialised"
    return _worker_state.render_and_sign(job)


def _approve_in_worker(job: ApprovalJob) -> bytes:
    assert _worker_state is not None, "worker not initialised"
    return _worker_state.approve(job)


def _render_in_worker(content: rendering.LetterContent) -> bytes:
    return rendering.render_letter(content)


class LocalKeySigner:
    """Keys from the PKI folder. `workers` > 0: a process pool of that size, each worker with
    its own parsed keys and engine; 0: one in-process state used from a thread (tests, tools).

    The pool starts on the first letter and is released after `idle_seconds` without one: an
    idle service holds no worker processes (about 25 MB PSS each), at the price of a slower
    first letter after a quiet spell (the workers import pyHanko and parse the keys again)."""

    kind: SignerKind = SignerKind.LOCAL

    def __init__(
        self,
        config: EngineConfig,
        registry: SignerRegistry,
        workers: int,
        idle_seconds: float = 300.0,
    ) -> None:
        self._registry = registry
        self._config = config
        self._workers = workers
        self._idle_seconds = idle_seconds
        self._executor: ProcessPoolExecutor | None = None
        self._in_flight = 0
        self._release_timer: asyncio.TimerHandle | None = None
        self._shutting_down: set[asyncio.Task[None]] = set()
        self._state: _LocalState | None = None
        if workers <= 0:
            self._state = _LocalState(config)

    @property
    def pool_running(self) -> bool:
        return self._executor is not None

    def can_sign(self, desa_code: str, role: str) -> bool:
        return self._registry.get(desa_code, role) is not None

    def roles_for(self, desa_code: str) -> list[str]:
        return self._registry.roles_for(desa_code)

    def _pool(self) -> ProcessPoolExecutor:
        """The running pool, started if there is none. Called on the event loop only."""
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        if self._executor is None:
            # forkserver: never fork the running event loop and its threads.
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=forkserver_context(),
                initializer=_init_worker,
                initargs=(self._config,),
            )
        return self._executor

    async def _in_pool(self, fn: Callable[[Any], _T], arg: Any) -> _T:
        executor = self._pool()
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, arg)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._release_timer = asyncio.get_running_loop().call_later(
                    self._idle_seconds, self._release
                )

    def _release(self) -> None:
        """Idle for `idle_seconds`: stop the workers; the next letter starts a new pool."""
        self._release_timer = None
        if self._in_flight or self._executor is None:
            return
        executor, self._executor = self._executor, None
        log.info("signing pool idle for %.0f s: workers released", self._idle_seconds)
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(executor.shutdown, True))
        self._shutting_down.add(task)
        task.add_done_callback(self._shutting_down.discard)

    async def sign(self, job: SignatureJob) -> SignedLetter:
        loaded = self._registry.get(job.desa_code, job.role)
        if loaded is not None:
            job = replace(job, signer_fingerprint=loaded.fingerprint)
        if self._workers > 0:
            return await self._in_pool(_sign_in_worker, job)
        assert self._state is not None
        return await asyncio.to_thread(self._state.render_and_sign, job)

    async def approve(self, job: ApprovalJob) -> bytes:
        """The camat's approval signature on `job.pdf` (the PDF with it added), with the
        certificate this process holds now (a worker holding an older one loads it again)."""
        loaded = self._registry.get(job.kecamatan_code, job.role)
        if loaded is not None:
            job = replace(job, signer_fingerprint=loaded.fingerprint)
        if self._workers > 0:  # the pool, started again if it was released while idle
            return await self._in_pool(_approve_in_worker, job)
        assert self._state is not None
        return await asyncio.to_thread(self._state.approve, job)

    async def render(self, content: rendering.LetterContent) -> bytes:
        """A letter without signature (a preview), rendered where letters are rendered."""
        if self._workers > 0:
            return await self._in_pool(_render_in_worker, content)
        return await asyncio.to_thread(rendering.render_letter, content)

    async def close(self) -> None:
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
        if self._shutting_down:
            await asyncio.gather(*self._shutting_down)


@dataclass(frozen=True)
class Pkcs11Config:
    module: Path
    token_label: str
    pin: str = field(repr=False)


def pkcs11_label(desa_code: str, role: str) -> str:
    """Label of a signer's key and certificate objects on the token."""
    return f"{desa_code}:{role}"


class Pkcs11LetterSigner:
    """The signer's key lives on a PKCS#11 token; certificates are read from the token too."""

    kind: SignerKind = SignerKind.PKCS11

    def __init__(self, config: Pkcs11Config, engine: PadesEngine) -> None:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11 as pyhanko_pkcs11

        self._pkcs11 = pyhanko_pkcs11
        self._session = pyhanko_pkcs11.open_pkcs11_session(
            str(config.module),
            token_criteria=TokenCriteria(label=config.token_label),
            user_pin=config.pin,
        )
        self._engine = engine
        self._signers: dict[tuple[str, str], pyhanko_signers.Signer] = {}
        self._lock = threading.Lock()  # one PKCS#11 session: one operation at a time

    def _signer(self, desa_code: str, role: str) -> pyhanko_signers.Signer | None:
        key = (desa_code, role)
        if key not in self._signers:
            label = pkcs11_label(desa_code, role)
            try:
                # Raw mechanism (hash here, sign there): SoftHSM2 and many HSMs offer CKM_ECDSA
                # but not the combined ECDSA-with-SHA256 mechanism.
                signer: pyhanko_signers.Signer = self._pkcs11.PKCS11Signer(
                    self._session, cert_label=label, key_label=label, use_raw_mechanism=True
                )
                signer.signing_cert  # noqa: B018  (loads it: a missing object fails here)
            except Exception:  # the token has no such key or certificate
                log.warning("no PKCS#11 signer %s on the token", label)
                return None
            self._signers[key] = signer
        return self._signers[key]

    def can_sign(self, desa_code: str, role: str) -> bool:
        with self._lock:
            return self._signer(desa_code, role) is not None

    def roles_for(self, desa_code: str) -> list[str]:
        return [role for role in SIGNER_ROLES if self.can_sign(desa_code, role)]

    def _render_and_sign(self, job: SignatureJob) -> SignedLetter:
        start = time.perf_counter()
        pdf = rendering.render_letter(job.content)
        rendered = time.perf_counter()
        with self._lock:
            signer = self._signer(job.desa_code, job.role)
            if signer is None:
                raise SigningFailed(
                    f"Token PKCS#11 tidak memiliki kunci {job.role} untuk desa {job.desa_code}."
                )
            signed = self._engine.sign(
                pdf, signer, job.location, job.stamp, approval_field=job.approval_field
            )
        done = time.perf_counter()
        return SignedLetter(signed, (rendered - start) * 1000, (done - rendered) * 1000)

    async def sign(self, job: SignatureJob) -> SignedLetter:
        return await asyncio.to_thread(self._render_and_sign, job)

    def _approve(self, job: ApprovalJob) -> bytes:
        with self._lock:
            signer = self._signer(job.kecamatan_code, job.role)
            if signer is None:
                raise SigningFailed(
                    f"Token PKCS#11 tidak memiliki kunci camat untuk kecamatan "
                    f"{job.kecamatan_code}."
                )
            return self._engine.approve(job.pdf, signer, job.location, job.stamp)

    async def approve(self, job: ApprovalJob) -> bytes:
        return await asyncio.to_thread(self._approve, job)

    async def close(self) -> None:
        await asyncio.to_thread(self._session.close)


class InstalledSignerSource(Protocol):
    async def refresh(self) -> None:
        """Takes up signers installed since the last call (by any replica)."""
        ...


class SignerSet:
    """The configured signers and which desa uses which."""

    def __init__(
        self,
        signers: dict[SignerKind, LetterSigner],
        per_desa: dict[str, SignerKind],
        default: SignerKind,
    ) -> None:
        self._signers = signers
        self._per_desa = per_desa
        self._default = default
        # Signers installed at runtime (signer_install.InstalledSigners), when there is a store.
        self.installed: InstalledSignerSource | None = None

    async def refresh(self) -> None:
        """Before a letter is planned: keys installed meanwhile, here or on another replica,
        are used without a restart."""
        if self.installed is not None:
            await self.installed.refresh()

    def kind_for(self, desa_code: str) -> SignerKind:
        return self._per_desa.get(desa_code, self._default)

    def kind_available(self, kind: SignerKind) -> LetterSigner | None:
        """The configured signer of `kind`, if signing runs one."""
        return self._signers.get(kind)

    def mark(self, code: str, kind: SignerKind) -> None:
        """From now on `code`'s letters (or, for a kecamatan's code, its camat's approvals) are
        signed by `kind` (a signer marked at runtime: signer_install.RemoteSigner)."""
        self._per_desa[code] = kind

    def local(self) -> "LocalKeySigner | None":
        """The PKI folder's signer."""
        found = self._signers.get(SignerKind.LOCAL)
        return found if isinstance(found, LocalKeySigner) else None

    def for_desa(self, desa_code: str) -> LetterSigner | None:
        return self._signers.get(self._per_desa.get(desa_code, self._default))

    def for_kecamatan(self, kecamatan_code: str) -> LetterSigner | None:
        """The camat's signer: the same setting, keyed by the kecamatan's code (e.g.
        {"32.13.11": "pkcs11"}), else the default kind."""
        return self.for_desa(kecamatan_code)

    async def render(self, content: rendering.LetterContent) -> bytes:
        """Unsigned letters (previews): in the local signer's worker processes when there are
        any (fonts and templates already loaded there), else in a thread."""
        local = self._signers.get(SignerKind.LOCAL)
        if isinstance(local, LocalKeySigner):
            return await local.render(content)
        return await asyncio.to_thread(rendering.render_letter, content)

    async def close(self) -> None:
        for signer in self._signers.values():
            await signer.close()
