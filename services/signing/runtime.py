"""The resources signing runs with (signers' keys and certificates, database, letter issuer,
gRPC server): built at start, torn down in reverse."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth, TokenVerifier, token_verifier
from common.db import create_engine, session_factory
from common.migrations import upgrade
from common.rpc import SIGNING, GrpcServer
from common.secrets import ensure_dev_secrets, read_secret
from services.signing import servicer
from services.signing.config import Settings
from services.signing.issuing import LetterIssuer
from services.signing.pki import SignerRegistry, ensure_dev_pki
from services.signing.seed import dev_signers, seed_dev_profiles

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signers: SignerRegistry
    issuer: LetterIssuer
    grpc_server: GrpcServer
    token_verifier: TokenVerifier  # staff tokens (the register)


async def _load_signers(settings: Settings) -> SignerRegistry:
    if settings.is_dev:
        await asyncio.to_thread(ensure_dev_pki, settings.pki_dir, dev_signers())
    password = (
        read_secret(settings.signing_key_password_file)
        if settings.signing_key_password_file is not None
        else None
    )
    return await asyncio.to_thread(SignerRegistry.load, settings.pki_dir, password)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    ensure_dev_secrets(settings)
    signers = await _load_signers(settings)
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine, "signing")  # schema migrations, in every profile
        sessions = session_factory(engine)
        if settings.is_dev:
            await seed_dev_profiles(sessions, settings.assets_dir)

        issuer = LetterIssuer(
            sessions, signers, settings.letters_dir, settings.public_verification_url
        )
        grpc_server = GrpcServer(
            f"{settings.signing_grpc_host}:{settings.signing_grpc_port}",
            InternalAuth.from_settings(settings, SIGNING),
            [servicer.SERVICE_NAME],
            servicer.register(issuer),
        )
        await grpc_server.start()
        stack.push_async_callback(grpc_server.stop)
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
            issuer=issuer,
            grpc_server=grpc_server,
            token_verifier=token_verifier(settings, residents=False, staff=True),
        )
