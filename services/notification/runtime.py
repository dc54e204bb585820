"""The resources notification runs with (database, delivery channels, intake and verification
channels, dispatcher, NATS consumers): built at start, torn down in reverse."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import grpc
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from smartdesa.v1 import directory_pb2_grpc, intake_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth, TokenVerifier, token_verifier
from common.db import create_engine, session_factory
from common.dead_letters import DeadLetterMover
from common.events import INTERNAL_STREAM, PUBLIC_STREAM
from common.messaging import Consumer, connect, ensure_streams
from common.migrations import upgrade
from common.rpc import INTAKE, NOTIFICATION, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from common.session_checks import ResidentSessions, StaffSessions
from common.shutdown import Shutdown
from common.signed_links import link_key
from services.notification.channels import Channel, build_channels, close_channels
from services.notification.config import Settings
from services.notification.dispatcher import Dispatcher
from services.notification.event_handler import (
    EVENTS_DURABLE,
    INTERNAL_DURABLE,
    INTERNAL_FILTERS,
    PUBLIC_FILTERS,
    EventHandler,
)
from services.notification.recipients import RecipientLookup
from services.notification.rules import LetterLinks
from services.notification.servicer import NotificationServicer, register

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    token_verifier: TokenVerifier
    # Whether a token's session is still current, as verification (staff) and intake
    # (residents) say.
    staff_sessions: StaffSessions
    resident_sessions: ResidentSessions
    channels: dict[str, Channel]
    intake_channel: grpc.aio.Channel
    verification_channel: grpc.aio.Channel
    recipients: RecipientLookup
    dispatcher: Dispatcher
    handler: EventHandler
    nats: NATS
    js: JetStreamContext
    consumers: list[Consumer]
    dead_letters: DeadLetterMover
    # NotificationService: the resident portal reads and changes a resident's preferences.
    grpc_server: GrpcServer


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Start everything in order; the exit stack tears it down in reverse (consumers first)."""
    ensure_dev_secrets(settings)
    async with AsyncExitStack() as stack:
        shutdown = Shutdown(stack, settings.shutdown_timeout_seconds)
        engine = create_engine(settings.database_url)
        shutdown.push("database engine", engine.dispose)
        await upgrade(engine, "notification")  # schema migrations, in every profile
        sessions = session_factory(engine)
        # Before anything connects: no provider in production is a refusal to start.
        channels = build_channels(settings, sessions)
        shutdown.push("message channels", partial(close_channels, channels))

        auth = InternalAuth.from_settings(settings, NOTIFICATION)
        intake_channel = client_channel(settings.intake_grpc_target, auth, INTAKE)
        shutdown.push("gRPC channel to intake", intake_channel.close)
        verification_channel = client_channel(settings.verification_grpc_target, auth, VERIFICATION)
        shutdown.push("gRPC channel to verification", verification_channel.close)
        letter_links = LetterLinks(
            key=link_key(settings),
            base_url=settings.letter_link_base_url,
            lifetime=timedelta(hours=settings.notification_letter_link_hours),
        )
        recipients = RecipientLookup(
            intake_channel, verification_channel, sessions=sessions, letter_links=letter_links
        )

        dispatcher = Dispatcher(
            sessions,
            channels,
            max_attempts=settings.notification_max_attempts,
            retry_base_seconds=settings.notification_retry_base_seconds,
            retry_cap_seconds=settings.notification_retry_cap_seconds,
            poll_seconds=settings.notification_dispatch_poll_seconds,
        )
        await dispatcher.start()
        shutdown.push("notification dispatcher", dispatcher.stop)

        handler = EventHandler(sessions, recipients, on_deliveries=dispatcher.wake)
        verifier = token_verifier(settings, residents=True, staff=True)

        nc = await connect(settings.nats_url, "notification")
        # Consumers stop (and ack what they handled) before this; nothing is left to drain.
        shutdown.push("NATS connection", nc.close)
        js = nc.jetstream()
        await ensure_streams(js, settings.nats_stream_replicas)

        # Copies what any consumer of our streams gives up on into the dead-letter stream.
        dead_letters = DeadLetterMover(js)
        await dead_letters.start()
        shutdown.push("dead-letter mover", dead_letters.stop)

        consumers: list[Consumer] = []
        for stream, durable, filters in (
            (PUBLIC_STREAM, EVENTS_DURABLE, PUBLIC_FILTERS),
            (INTERNAL_STREAM, INTERNAL_DURABLE, INTERNAL_FILTERS),
        ):
            consumer = Consumer(
                js,
                stream=stream,
                durable=durable,
                filter_subjects=filters,
                handler=handler,
                max_deliver=settings.nats_max_deliver,
                retry_delays=settings.nats_retry_delays,
            )
            await consumer.start()
            shutdown.push(f"consumer {consumer.durable}", consumer.stop)
            consumers.append(consumer)

        grpc_server = GrpcServer(
            f"{settings.notification_grpc_host}:{settings.notification_grpc_port}",
            auth,
            ["smartdesa.v1.NotificationService"],
            register(NotificationServicer(sessions)),
        )
        await grpc_server.start()
        shutdown.push("gRPC server", grpc_server.stop)
        log.info("notification gRPC listening on port %d", grpc_server.port)

        log.info("notification service started (profile %s)", settings.profile)
        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            token_verifier=verifier,
            staff_sessions=StaffSessions(
                directory_pb2_grpc.DirectoryServiceStub(verification_channel),
                settings.session_check_cache_seconds,
                settings.session_check_timeout_seconds,
            ),
            resident_sessions=ResidentSessions(
                intake_pb2_grpc.IntakeServiceStub(intake_channel),
                settings.session_check_cache_seconds,
                settings.session_check_timeout_seconds,
            ),
            channels=channels,
            intake_channel=intake_channel,
            verification_channel=verification_channel,
            recipients=recipients,
            dispatcher=dispatcher,
            handler=handler,
            nats=nc,
            js=js,
            consumers=consumers,
            dead_letters=dead_letters,
            grpc_server=grpc_server,
        )
        log.info("notification service stopping")
