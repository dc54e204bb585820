"""Intake's FastAPI app: the resident REST API, with the runtime opened in its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.compression import install_compression
from common.http import health_router, install_problem_handlers
from common.metrics import install_metrics
from common.tracing import instrument_app
from services.intake.api.routes import applications, auth, letter_links, letter_types, uploads
from services.intake.config import Settings, get_settings
from services.intake.runtime import open_runtime
from services.intake.web import install_pages


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Smart Desa: layanan warga",
        description="Permohonan surat desa oleh warga: masuk, ajukan, unggah syarat, unduh surat.",
        version="1",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_compression(app)
    install_metrics(app, "intake")
    instrument_app(app)
    app.include_router(health_router())
    for module in (auth, letter_types, applications, letter_links, uploads):
        app.include_router(module.router, prefix="/api/v1")
    install_pages(app)
    return app
