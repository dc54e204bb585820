"""The signing service's app: public verification site over HTTP, SigningService over gRPC."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from common.auth import InternalAuth
from common.db import create_engine, create_tables, session_factory
from common.http import health_router, install_problem_handlers
from common.rpc import SIGNING, GrpcServer
from common.secrets import ensure_dev_secrets, read_secret
from services.signing import servicer
from services.signing.api.deps import Runtime
from services.signing.api.routes import letters, pki, verification_page, verifications
from services.signing.config import Settings, get_settings
from services.signing.issuing import LetterIssuer
from services.signing.models import TABLES
from services.signing.pki import SignerRegistry, ensure_dev_pki
from services.signing.seed import dev_signers, seed_dev_profiles

log = logging.getLogger(__name__)


async def _load_signers(settings: Settings) -> SignerRegistry:
    if settings.is_dev:
        await asyncio.to_thread(ensure_dev_pki, settings.pki_dir, dev_signers())
    password = (
        read_secret(settings.signing_key_password_file)
        if settings.signing_key_password_file is not None
        else None
    )
    return await asyncio.to_thread(SignerRegistry.load, settings.pki_dir, password)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_dev_secrets(settings)
        signers = await _load_signers(settings)
        engine = create_engine(settings.database_url)
        try:
            await create_tables(engine, TABLES)
            sessions = session_factory(engine)
            if settings.is_dev:
                await seed_dev_profiles(sessions)
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
            app.state.runtime = Runtime(settings, engine, sessions, signers, issuer, grpc_server)
            log.info(
                "signing ready: gRPC on port %d, %s",
                grpc_server.port,
                settings.public_verification_url,
            )
            try:
                yield
            finally:
                await grpc_server.stop()
        finally:
            await engine.dispose()

    app = FastAPI(title="Smart Desa: surat dan verifikasi", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(health_router())
    app.include_router(verification_page.router)
    app.include_router(pki.router)
    api = APIRouter(prefix="/api/v1")
    api.include_router(letters.router)
    api.include_router(verifications.router)
    app.include_router(api)
    return app
