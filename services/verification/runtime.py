"""The resources verification runs with (database, NATS task consumer, Temporal client, intake
and signing channels, gRPC server): built at start, torn down in reverse."""

from __future__ import annotations  # the async stub types exist only in the .pyi

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import cast

import grpc
from nats.aio.client import Client as NATS
from smartdesa.v1 import (
    catalogue_pb2_grpc,
    intake_pb2_grpc,
    notification_pb2_grpc,
    signing_pb2_grpc,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth, TokenIssuer, TokenVerifier, staff_token_issuer, token_verifier
from common.db import create_engine, session_factory
from common.events import PUBLIC_STREAM
from common.messaging import Consumer, connect, ensure_streams
from common.migrations import upgrade
from common.rpc import INTAKE, NOTIFICATION, SIGNING, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from common.shutdown import Shutdown
from common.temporal_client import TemporalConnection
from services.verification import servicer, task_hand_over
from services.verification.catalogue import Catalogue
from services.verification.config import Settings
from services.verification.inbox_events import InboxFanout, publish_inbox_changed
from services.verification.population import servicer as population_servicer
from services.verification.seed import seed_dev_staff
from services.verification.task_inbox import (
    TASK_EVENT_SUBJECTS,
    TASKS_DURABLE,
    TaskProjection,
    application_lane,
)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    token_issuer: TokenIssuer
    token_verifier: TokenVerifier
    nats: NATS
    task_consumer: Consumer
    temporal: TemporalConnection  # the client, built on the first call (common/temporal_client.py)
    intake_channel: grpc.aio.Channel
    intake: intake_pb2_grpc.IntakeServiceAsyncStub
    grpc_server: GrpcServer
    signing_channel: grpc.aio.Channel
    signing: signing_pb2_grpc.SigningServiceAsyncStub  # letter previews
    # The kabupaten's letter catalogue (signing's CatalogueService): type names, default
    # routes, each application's version (services/verification/catalogue.py).
    catalogue: Catalogue
    # The same service uncached, on signing's port (the editor: drafts, previews, overrides).
    catalogue_stub: catalogue_pb2_grpc.CatalogueServiceAsyncStub
    inbox_fanout: InboxFanout  # the inbox pages' server-sent events
    # The WhatsApp numbers linked in the desa (listed and undone beside sign-in bindings).
    notification: notification_pb2_grpc.NotificationServiceAsyncStub | None = None


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Start everything the service needs; torn down in reverse order on exit."""
    ensure_dev_secrets(settings)
    internal_auth = InternalAuth.from_settings(settings, VERIFICATION)
    async with AsyncExitStack() as stack:
        shutdown = Shutdown(stack, settings.shutdown_timeout_seconds)
        engine = create_engine(settings.database_url)
        shutdown.push("database engine", engine.dispose)
        await upgrade(engine, "verification")  # schema migrations, in every profile
        sessions = session_factory(engine)
        await seed_dev_staff(settings, sessions)

        nc = await connect(settings.nats_url, "verification")
        # close, not drain: this connection only consumes (close still flushes pending acks), and a
        # drain waits out its 30 s timeout on the consumer's pull subscription.
        shutdown.push("NATS connection", nc.close)
        js = nc.jetstream()
        await ensure_streams(js, settings.nats_stream_replicas)

        # Every replica hears every desa's inbox notices and wakes its own pages' streams.
        inbox_fanout = InboxFanout()
        await inbox_fanout.start(nc)
        shutdown.push("inbox streams", inbox_fanout.stop)

        async def inbox_changed(desa_code: str, roles: frozenset[str]) -> None:
            await publish_inbox_changed(nc, desa_code, roles)

        # One projection for both ways an event comes: JetStream, and intake's hand-over
        # (task_hand_over.py) as soon as intake has committed it.
        projection = TaskProjection(sessions, on_change=inbox_changed)
        task_consumer = Consumer(
            js,
            stream=PUBLIC_STREAM,
            durable=TASKS_DURABLE,
            filter_subjects=TASK_EVENT_SUBJECTS,
            handler=projection.handle,
            max_deliver=settings.nats_max_deliver,
            retry_delays=settings.nats_retry_delays,
            lanes=settings.verification_task_lanes,
            lane_key=application_lane,
        )
        await task_consumer.start()
        shutdown.push("task consumer", task_consumer.stop)

        temporal = TemporalConnection(settings.temporal_address, settings.temporal_namespace)

        intake_channel = client_channel(settings.intake_grpc_target, internal_auth, INTAKE)
        shutdown.push("gRPC channel to intake", intake_channel.close)

        notification_channel = client_channel(
            settings.notification_grpc_target, internal_auth, NOTIFICATION
        )
        shutdown.push("gRPC channel to notification", notification_channel.close)

        signing_channel = client_channel(settings.signing_grpc_target, internal_auth, SIGNING)
        shutdown.push("gRPC channel to signing", signing_channel.close)
        catalogue_channel = signing_channel
        if settings.catalogue_target != settings.signing_grpc_target:
            catalogue_channel = client_channel(settings.catalogue_target, internal_auth, SIGNING)
            shutdown.push("gRPC channel to the catalogue", catalogue_channel.close)
        catalogue = Catalogue(catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel))

        add_directory = servicer.register(sessions, catalogue)
        add_population = population_servicer.register(sessions)
        add_task_inbox = task_hand_over.register(projection)

        def add_servicers(server: grpc.aio.Server) -> None:
            add_directory(server)
            add_population(server)
            add_task_inbox(server)

        grpc_server = GrpcServer(
            settings.grpc_bind,
            internal_auth,
            [servicer.SERVICE_NAME, population_servicer.SERVICE_NAME, task_hand_over.SERVICE_NAME],
            add_servicers,
        )
        await grpc_server.start()
        shutdown.push("gRPC server", grpc_server.stop)

        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            token_issuer=staff_token_issuer(settings, settings.staff_token_ttl_seconds),
            token_verifier=token_verifier(settings, residents=False, staff=True),
            nats=nc,
            task_consumer=task_consumer,
            temporal=temporal,
            intake_channel=intake_channel,
            intake=cast(
                "intake_pb2_grpc.IntakeServiceAsyncStub",
                intake_pb2_grpc.IntakeServiceStub(intake_channel),
            ),
            grpc_server=grpc_server,
            signing_channel=signing_channel,
            signing=cast(
                "signing_pb2_grpc.SigningServiceAsyncStub",
                signing_pb2_grpc.SigningServiceStub(signing_channel),
            ),
            catalogue_stub=cast(
                "catalogue_pb2_grpc.CatalogueServiceAsyncStub",
                catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel),
            ),
            inbox_fanout=inbox_fanout,
            notification=cast(
                "notification_pb2_grpc.NotificationServiceAsyncStub",
                notification_pb2_grpc.NotificationServiceStub(notification_channel),
            ),
            catalogue=catalogue,
        )
