"""Notification's FastAPI app: the in-app inbox (with live updates), each person's preferences,
the WhatsApp status webhook (and, in dev, the local sinks' messages), with the runtime
(consumers, dispatcher) opened in its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.compression import install_compression
from common.http import health_router, install_problem_handlers
from common.metrics import install_metrics
from common.tracing import instrument_app
from common.web import SecurityHeaders
from services.notification.api.routes import (
    dev_messages,
    inbox,
    preferences,
    whatsapp_office,
    whatsapp_webhook,
)
from services.notification.config import Settings, get_settings
from services.notification.runtime import open_runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="Smart Desa: notification", version="0.1.0", lifespan=lifespan)
    install_problem_handlers(app)
    install_compression(app)
    app.add_middleware(SecurityHeaders)  # as every service: CSP, nosniff, no referrer
    install_metrics(app, "notification")
    instrument_app(app)
    app.include_router(health_router())
    app.include_router(inbox.router, prefix="/api/v1")
    app.include_router(preferences.router, prefix="/api/v1")
    app.include_router(whatsapp_webhook.router, prefix="/api/v1")
    app.include_router(whatsapp_office.router, prefix="/api/v1")
    if settings.is_dev:
        app.include_router(dev_messages.router)
    return app
