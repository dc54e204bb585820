"""The resources intake runs with (database, NATS, outbox relay, Temporal client, signing
channel, gRPC server): built at start, torn down in reverse."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import grpc
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from smartdesa.v1 import (
    catalogue_pb2_grpc,
    directory_pb2_grpc,
    notification_pb2_grpc,
    population_pb2_grpc,
    signing_pb2_grpc,
    tasks_pb2_grpc,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import (
    InternalAuth,
    TokenIssuer,
    TokenVerifier,
    resident_token_issuer,
    token_verifier,
)
from common.db import create_engine, session_factory
from common.messaging import connect, ensure_streams
from common.migrations import upgrade
from common.outbox import OutboxRelay
from common.rpc import INTAKE, NOTIFICATION, SIGNING, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from common.shutdown import Shutdown
from common.temporal_client import TemporalConnection
from services.intake.catalogue import Catalogue, pin_unpinned
from services.intake.config import Settings
from services.intake.duties_servicer import PublicDutiesServicer, register_duties
from services.intake.otp import Limits, OtpKey, SweepClock
from services.intake.resumable import upload_janitor
from services.intake.retention import retention_janitor
from services.intake.servicer import IntakeServicer, register
from services.intake.task_hand_over import TaskHandOver

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    nats: NATS
    js: JetStreamContext
    relay: OutboxRelay
    temporal: TemporalConnection  # the client, built on the first call (common/temporal_client.py)
    signing_channel: grpc.aio.Channel
    signing: signing_pb2_grpc.SigningServiceStub
    # The kabupaten's letter catalogue (signing's CatalogueService), cached as
    # services/intake/catalogue.py says: every letter type intake offers and checks.
    catalogue: Catalogue
    # The same service uncached: the whole definitions the published service standards are
    # composed from (services/intake/service_standard.py).
    catalogue_stub: catalogue_pb2_grpc.CatalogueServiceStub
    # Verification's DirectoryService: which letter types a desa offers.
    directory: directory_pb2_grpc.DirectoryServiceStub
    # Verification's PopulationService: the register a registered resident's letter is filled
    # from (services/intake/register_data.py).
    population: population_pb2_grpc.PopulationServiceStub
    # Notification's NotificationService: the resident's notification preferences
    # (services/intake/notification_preferences.py).
    notifications: notification_pb2_grpc.NotificationServiceStub
    grpc_server: GrpcServer
    token_issuer: TokenIssuer
    token_verifier: TokenVerifier
    otp_key: OtpKey
    code_limits: Limits
    # When the sign-in tables were last swept (at most once a minute).
    sign_in_sweeps: SweepClock = field(default_factory=SweepClock)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    ensure_dev_secrets(settings)
    settings.attachments_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        shutdown = Shutdown(stack, settings.shutdown_timeout_seconds)
        engine = create_engine(settings.intake_db_url)
        shutdown.push("database engine", engine.dispose)
        await upgrade(engine, "intake")  # schema migrations, in every profile
        sessions = session_factory(engine)

        nc = await connect(settings.nats_url, "intake")
        shutdown.push("NATS connection", nc.close)
        js = nc.jetstream()
        await ensure_streams(js, settings.nats_stream_replicas)

        relay = OutboxRelay(sessions, js, service="intake")
        relay.start()
        shutdown.push("outbox relay", relay.stop)

        janitor = upload_janitor(sessions, settings.attachments_dir)  # unfinished uploads
        janitor.start()
        shutdown.push("upload janitor", janitor.stop)

        # Deletes ended applications' attachments after the kabupaten's period (retention.py).
        retention = retention_janitor(sessions, settings)
        retention.start()
        shutdown.push("retention job", retention.stop)

        # Built on first use, never waiting for the server: intake serves sign-in and drafts
        # while Temporal is still starting or briefly away; submitting then answers 503.
        temporal = TemporalConnection(settings.temporal_address, settings.temporal_namespace)

        auth = InternalAuth.from_settings(settings, INTAKE)
        signing_channel = client_channel(settings.signing_grpc_target, auth, SIGNING)
        shutdown.push("gRPC channel to signing", signing_channel.close)
        catalogue_channel = (
            signing_channel
            if settings.catalogue_target == settings.signing_grpc_target
            else client_channel(settings.catalogue_target, auth, SIGNING)
        )
        if catalogue_channel is not signing_channel:
            shutdown.push("gRPC channel to the catalogue", catalogue_channel.close)
        catalogue_stub = catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel)
        catalogue = Catalogue(catalogue_stub)
        # Migration 0014's backfill: applications from before keep the version current now.
        await pin_unpinned(sessions, catalogue)
        verification_channel = client_channel(settings.verification_grpc_target, auth, VERIFICATION)
        shutdown.push("gRPC channel to verification", verification_channel.close)
        notification_channel = client_channel(settings.notification_grpc_target, auth, NOTIFICATION)
        shutdown.push("gRPC channel to notification", notification_channel.close)

        hand_over = None
        if settings.intake_task_hand_over:
            hand_over = TaskHandOver(
                tasks_pb2_grpc.TaskInboxServiceStub(verification_channel),
                hold_s=settings.intake_task_hand_over_hold_seconds,
            )
            # Before the channel closes (pushed after it): the held events are let go.
            shutdown.push("task hand-over", hand_over.close)
        servicer = IntakeServicer(
            sessions,
            settings.attachments_dir,
            relay.wake,
            temporal,
            settings.temporal_task_queue,
            catalogue,
            population_pb2_grpc.PopulationServiceStub(verification_channel),
            kept_document_days=settings.intake_kept_document_days,
            hand_over=hand_over,
        )
        duties = PublicDutiesServicer(sessions, temporal, relay.wake, settings.attachments_dir)

        def register_all(server: grpc.aio.Server) -> None:
            register(servicer)(server)
            register_duties(duties)(server)

        grpc_server = GrpcServer(
            f"{settings.intake_grpc_host}:{settings.intake_grpc_port}",
            auth,
            ["smartdesa.v1.IntakeService", "smartdesa.v1.PublicDutiesService"],
            register_all,
        )
        await grpc_server.start()
        shutdown.push("gRPC server", grpc_server.stop)
        log.info("intake gRPC listening on port %d", grpc_server.port)

        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            nats=nc,
            js=js,
            relay=relay,
            temporal=temporal,
            signing_channel=signing_channel,
            signing=signing_pb2_grpc.SigningServiceStub(signing_channel),
            catalogue=catalogue,
            catalogue_stub=catalogue_stub,
            directory=directory_pb2_grpc.DirectoryServiceStub(verification_channel),
            population=population_pb2_grpc.PopulationServiceStub(verification_channel),
            notifications=notification_pb2_grpc.NotificationServiceStub(notification_channel),
            grpc_server=grpc_server,
            token_issuer=resident_token_issuer(
                settings, settings.intake_resident_token_ttl_seconds
            ),
            token_verifier=token_verifier(settings, residents=True, staff=False),
            otp_key=OtpKey.from_settings(settings),
            code_limits=Limits.from_settings(settings),
        )
