"""Signing's FastAPI app: the public verification site and the letters API, with the runtime
(SigningService over gRPC) opened in its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.compression import install_compression
from common.http import health_router, install_problem_handlers
from common.metrics import install_metrics
from common.tracing import instrument_app
from services.signing.api.routes import (
    letters,
    pki,
    register,
    retention,
    verification_page,
    verifications,
)
from services.signing.config import Settings, get_settings
from services.signing.runtime import open_runtime
from services.signing.web import install_pages


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="Smart Desa: surat dan verifikasi", lifespan=lifespan)
    install_problem_handlers(app)
    install_compression(app)
    install_metrics(app, "signing")
    instrument_app(app)
    app.include_router(health_router())
    for module in (verification_page, pki):
        app.include_router(module.router)
    for module in (letters, register, retention, verifications):
        app.include_router(module.router, prefix="/api/v1")
    install_pages(app)
    return app
