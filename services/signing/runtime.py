"""The resources signing runs with (signers' keys and certificates, the TSA, the letter
signers, database, NATS and the outbox relay, letter issuer, gRPC server): built at start, torn
down in reverse."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from nats.aio.client import Client as NATS
from smartdesa.v1 import directory_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth, TokenVerifier, token_verifier
from common.background import BacklogLoop
from common.db import create_engine, session_factory
from common.domain import SignerKind
from common.messaging import connect, ensure_streams
from common.migrations import upgrade
from common.outbox import OutboxRelay
from common.rpc import SIGNING, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets, read_secret
from common.session_checks import StaffSessions
from common.shutdown import Shutdown
from services.signing import servicer
from services.signing.catalogue.definition import load_seed
from services.signing.catalogue.servicer import SERVICE_NAME as CATALOGUE_SERVICE_NAME
from services.signing.catalogue.store import sync_seed
from services.signing.config import Settings
from services.signing.issuing import LetterIssuer
from services.signing.pades import PadesLevel
from services.signing.pdf_verification import PdfChecker
from services.signing.pki import SignerRegistry, crl_needs_renewal, ensure_dev_pki, renew_dev_crl
from services.signing.seed import dev_signers, seed_dev_profiles
from services.signing.signer_install import InstalledSigners, lay_out_installed
from services.signing.signers import (
    EngineConfig,
    LetterSigner,
    LocalKeySigner,
    Pkcs11Config,
    Pkcs11LetterSigner,
    SignerSet,
    build_engine,
)
from services.signing.tsa import TimestampAuthority

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signers: SignerRegistry
    letter_signers: SignerSet
    installed_signers: InstalledSigners
    tsa: TimestampAuthority | None
    checker: PdfChecker
    issuer: LetterIssuer
    grpc_server: GrpcServer
    nats: NATS
    relay: OutboxRelay
    token_verifier: TokenVerifier  # staff tokens (the register, revocation)
    staff_sessions: StaffSessions  # whether such a token's session is still current
    # Now, for what depends on the date (retention); tests set it to jump years ahead.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def crl(self) -> bytes | None:
        """The current CRL; the dev profile re-issues it before it goes stale."""
        path = self.settings.pki_dir / "crl.der"
        if self.settings.is_dev and crl_needs_renewal(self.settings.pki_dir):
            renew_dev_crl(self.settings.pki_dir)
        return path.read_bytes() if path.exists() else self.signers.crl_der


def _extra_roots(settings: Settings) -> list[asn1_x509.Certificate]:
    roots = []
    for path in settings.signing_trust_roots:
        der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
        roots.append(asn1_x509.Certificate.load(der))
    return roots


CRL_CHECK_SECONDS = 3600.0


async def _renew_crl(settings: Settings) -> bool:
    if await asyncio.to_thread(crl_needs_renewal, settings.pki_dir):
        await asyncio.to_thread(renew_dev_crl, settings.pki_dir)
        log.info("development CRL re-issued")
    return False


def _key_password(settings: Settings) -> bytes | None:
    if settings.signing_key_password_file is None:
        return None
    return read_secret(settings.signing_key_password_file)


async def _load_signers(settings: Settings) -> SignerRegistry:
    if settings.is_dev:
        await asyncio.to_thread(ensure_dev_pki, settings.pki_dir, dev_signers(), settings.crl_url)
    return await asyncio.to_thread(SignerRegistry.load, settings.pki_dir, _key_password(settings))


def _engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        pki_dir=settings.pki_dir,
        key_password=_key_password(settings),
        level=PadesLevel(settings.signing_pades_level),
        tsa_url=settings.signing_tsa_url,
    )


async def _letter_signers(settings: Settings, registry: SignerRegistry) -> SignerSet:
    """Only the kinds some desa uses are opened (an HSM or BSrE account may not exist)."""
    wanted: set[SignerKind] = {settings.signing_default_signer, *settings.signing_signers.values()}
    if settings.signing_bsre_url:
        # BSrE configured: a kabupaten operator may mark a camat as signing through it at
        # runtime (signer_install.InstalledSigners.register_remote).
        wanted.add(SignerKind.BSRE)
    config = _engine_config(settings)
    built: dict[SignerKind, LetterSigner] = {}
    if SignerKind.LOCAL in wanted:
        built[SignerKind.LOCAL] = await asyncio.to_thread(
            LocalKeySigner,
            config,
            registry,
            settings.signing_workers,
            settings.signing_workers_idle_seconds,
        )
    if SignerKind.PKCS11 in wanted:
        if not (
            settings.signing_pkcs11_module
            and settings.signing_pkcs11_token_label
            and settings.signing_pkcs11_pin_file
        ):
            raise RuntimeError("the pkcs11 signer needs SMARTDESA_SIGNING_PKCS11_* settings")
        pkcs11_config = Pkcs11Config(
            settings.signing_pkcs11_module,
            settings.signing_pkcs11_token_label,
            read_secret(settings.signing_pkcs11_pin_file).decode().strip(),
        )
        built[SignerKind.PKCS11] = await asyncio.to_thread(
            Pkcs11LetterSigner, pkcs11_config, build_engine(config, registry)
        )
    if SignerKind.BSRE in wanted:
        from services.signing.bsre import BsreConfig, BsreSigner

        if not (
            settings.signing_bsre_url
            and settings.signing_bsre_username
            and settings.signing_bsre_password_file
        ):
            raise RuntimeError("the bsre signer needs SMARTDESA_SIGNING_BSRE_* settings")
        built[SignerKind.BSRE] = BsreSigner(
            BsreConfig(
                base_url=settings.signing_bsre_url,
                username=settings.signing_bsre_username,
                password=read_secret(settings.signing_bsre_password_file).decode().strip(),
                niks=settings.signing_bsre_niks,
            ),
            trust_roots=[registry.root_cert_asn1, *_extra_roots(settings)],
        )
    return SignerSet(built, dict(settings.signing_signers), settings.signing_default_signer)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    ensure_dev_secrets(settings)
    async with AsyncExitStack() as stack:
        shutdown = Shutdown(stack, settings.shutdown_timeout_seconds)
        engine = create_engine(settings.database_url)
        shutdown.push("database engine", engine.dispose)
        await upgrade(engine, "signing")  # schema migrations, in every profile
        sessions = session_factory(engine)
        # Signers installed at runtime (kept in the database) are in the PKI folder before it
        # is read, so this replica starts with every one of them.
        await lay_out_installed(sessions, settings.pki_dir)
        signers = await _load_signers(settings)
        # The kabupaten's catalogue of letter types, from the repository's seed files.
        await sync_seed(sessions, load_seed())
        if settings.is_dev:
            await seed_dev_profiles(sessions, settings.assets_dir)

        nc = await connect(settings.nats_url, "signing")
        shutdown.push("NATS connection", nc.close)
        js = nc.jetstream()
        await ensure_streams(js, settings.nats_stream_replicas)
        relay = OutboxRelay(sessions, js)
        relay.start()
        shutdown.push("outbox relay", relay.stop)

        if settings.is_dev:
            # The dev CA re-issues its CRL before it goes stale (signing workers pick the new
            # file up), whether or not anyone asks for it meanwhile.
            crl_loop = BacklogLoop("crl-renewal", partial(_renew_crl, settings), CRL_CHECK_SECONDS)
            crl_loop.start()
            shutdown.push("CRL renewal loop", crl_loop.stop)

        letter_signers = await _letter_signers(settings, signers)
        shutdown.push("letter signers", letter_signers.close)
        installed = InstalledSigners(
            sessions,
            signers,
            letter_signers,
            settings.pki_dir,
            _key_password(settings),
            production=not settings.is_dev,
        )
        letter_signers.installed = installed
        tsa = TimestampAuthority(signers.tsa, [signers.root_cert_asn1]) if signers.tsa else None
        checker = PdfChecker(
            [signers.root_cert_asn1, *_extra_roots(settings)],
            timeout_seconds=settings.verification_timeout_seconds,
            memory_limit_bytes=settings.verification_memory_limit_bytes,
            concurrency=settings.verification_concurrency,
        )

        issuer = LetterIssuer(
            sessions, letter_signers, settings.letters_dir, settings.public_verification_url
        )
        internal_auth = InternalAuth.from_settings(settings, SIGNING)
        # Staff accounts are verification's: it says whether a staff token is still good.
        verification_channel = client_channel(
            settings.verification_grpc_target, internal_auth, VERIFICATION
        )
        shutdown.push("verification channel", verification_channel.close)
        staff_sessions = StaffSessions(
            directory_pb2_grpc.DirectoryServiceStub(verification_channel),
            settings.session_check_cache_seconds,
            settings.session_check_timeout_seconds,
        )
        grpc_server = GrpcServer(
            f"{settings.signing_grpc_host}:{settings.signing_grpc_port}",
            internal_auth,
            [servicer.SERVICE_NAME, CATALOGUE_SERVICE_NAME],
            servicer.register(issuer, sessions, relay.wake, installed),
        )
        await grpc_server.start()
        shutdown.push("gRPC server", grpc_server.stop)
        log.info(
            "signing ready: gRPC on port %d, %s",
            grpc_server.port,
            settings.public_verification_url,
        )

        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            signers=signers,
            letter_signers=letter_signers,
            installed_signers=installed,
            tsa=tsa,
            checker=checker,
            issuer=issuer,
            grpc_server=grpc_server,
            nats=nc,
            relay=relay,
            token_verifier=token_verifier(settings, residents=False, staff=True),
            staff_sessions=staff_sessions,
        )
