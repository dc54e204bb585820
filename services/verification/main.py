"""The verification service's app: staff API under /api/v1, DirectoryService over gRPC, and
the task inbox fed from NATS."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from common.http import health_router, install_problem_handlers
from services.verification.api.routes import auth, tasks
from services.verification.config import Settings, get_settings
from services.verification.runtime import start_runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.runtime = await start_runtime(settings, stack)
            yield

    app = FastAPI(
        title="Smart Desa: layanan verifikasi (staf desa)",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.include_router(health_router())
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(tasks.router, prefix="/api/v1")
    return app
