"""The verification service's app: staff API under /api/v1, with the runtime (DirectoryService
over gRPC, the task inbox fed from NATS) opened in its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.compression import install_compression
from common.http import health_router, install_problem_handlers
from common.metrics import install_metrics
from common.tracing import instrument_app
from services.verification.api.routes import (
    applications,
    auth,
    corrections,
    desa_profile,
    kabupaten,
    kecamatan,
    letter_routes,
    onboarding,
    plt,
    residents,
    sign_in_phones,
    staff,
    tasks,
)
from services.verification.config import Settings, get_settings
from services.verification.runtime import open_runtime
from services.verification.web import install_pages


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Smart Desa: layanan verifikasi (staf desa)",
        version="1",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_compression(app)
    install_metrics(app, "verification")
    instrument_app(app)
    app.include_router(health_router())
    for module in (
        auth,
        tasks,
        letter_routes,
        plt,
        staff,
        kabupaten,
        applications,
        desa_profile,
        residents,
        corrections,
        sign_in_phones,
        onboarding,
        kecamatan,
    ):
        app.include_router(module.router, prefix="/api/v1")
    install_pages(app)
    return app
