"""The notification service's HTTP app and the lifespan that runs its consumers and dispatcher."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI

from common.auth import InternalAuth, token_verifier
from common.db import create_engine, create_tables, session_factory
from common.events import (
    APPLICATION_REJECTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    INTERNAL_STREAM,
    LETTER_ISSUED,
    OTP_REQUESTED,
    PUBLIC_ROOT,
    PUBLIC_STREAM,
    internal_subject,
)
from common.http import health_router, install_problem_handlers
from common.messaging import Consumer, connect, ensure_streams
from common.rpc import INTAKE, NOTIFICATION, VERIFICATION, client_channel
from common.secrets import ensure_dev_secrets
from services.notification.api.routes import dev_messages, inbox
from services.notification.channels import build_channels
from services.notification.config import Settings, get_settings
from services.notification.dispatcher import Dispatcher
from services.notification.event_handler import EventHandler
from services.notification.models import TABLES
from services.notification.recipients import RecipientLookup
from services.notification.runtime import Runtime

log = logging.getLogger(__name__)

EVENTS_DURABLE = "notification-events"
INTERNAL_DURABLE = "notification-internal"

# Every desa (kabupaten.kecamatan.desa wildcards), only the events we act on.
PUBLIC_FILTERS = [
    f"{PUBLIC_ROOT}.*.*.*.{name}"
    for name in (
        APPLICATION_STEP_ASSIGNED,
        APPLICATION_REVISION_REQUESTED,
        APPLICATION_REJECTED,
        LETTER_ISSUED,
    )
]
INTERNAL_FILTERS = [internal_subject(OTP_REQUESTED)]


@asynccontextmanager
async def run_notification(settings: Settings) -> AsyncIterator[Runtime]:
    """Start everything in order; the exit stack tears it down in reverse (consumers first)."""
    ensure_dev_secrets(settings)
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await create_tables(engine, TABLES)
        sessions = session_factory(engine)
        # Before anything connects: no provider in production is a refusal to start.
        channels = build_channels(settings, sessions)

        auth = InternalAuth.from_settings(settings, NOTIFICATION)
        intake_channel = client_channel(settings.intake_grpc_target, auth, INTAKE)
        stack.push_async_callback(intake_channel.close)
        verification_channel = client_channel(settings.verification_grpc_target, auth, VERIFICATION)
        stack.push_async_callback(verification_channel.close)
        recipients = RecipientLookup(intake_channel, verification_channel)

        dispatcher = Dispatcher(
            sessions,
            channels,
            max_attempts=settings.notification_max_attempts,
            retry_base_seconds=settings.notification_retry_base_seconds,
            retry_cap_seconds=settings.notification_retry_cap_seconds,
            poll_seconds=settings.notification_dispatch_poll_seconds,
        )
        await dispatcher.start()
        stack.push_async_callback(dispatcher.stop)

        handler = EventHandler(sessions, recipients, on_deliveries=dispatcher.wake)
        runtime = Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            token_verifier=token_verifier(settings, residents=True, staff=True),
            channels=channels,
            intake_channel=intake_channel,
            verification_channel=verification_channel,
            recipients=recipients,
            dispatcher=dispatcher,
            handler=handler,
        )

        nc = await connect(settings.nats_url, "notification")
        # Consumers stop (and ack what they handled) before this; nothing is left to drain.
        stack.push_async_callback(nc.close)
        js = nc.jetstream()
        await ensure_streams(js)
        runtime.nats, runtime.js = nc, js

        for stream, durable, filters in (
            (PUBLIC_STREAM, EVENTS_DURABLE, PUBLIC_FILTERS),
            (INTERNAL_STREAM, INTERNAL_DURABLE, INTERNAL_FILTERS),
        ):
            consumer = Consumer(
                js, stream=stream, durable=durable, filter_subjects=filters, handler=handler
            )
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            runtime.consumers.append(consumer)

        log.info("notification service started (profile %s)", settings.profile)
        yield runtime
        log.info("notification service stopping")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with run_notification(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="Smart Desa: notification", version="0.1.0", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(health_router())
    api = APIRouter(prefix="/api/v1")
    api.include_router(inbox.router)
    app.include_router(api)
    if settings.is_dev:
        app.include_router(dev_messages.router)
    return app
