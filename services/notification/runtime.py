"""The resources notification runs with (database, delivery channels, intake and verification
channels, dispatcher, NATS consumers): built at start, torn down in reverse."""

import asyncio
import contextvars
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import grpc
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from smartdesa.v1 import directory_pb2, directory_pb2_grpc, intake_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
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
from common.shutdown import Shutdown, cancel_and_wait
from common.signed_links import link_key
from services.notification.channels import WHATSAPP, Channel, build_channels, close_channels
from services.notification.chat import OFFICE_ROLE, ChatInbox, ChatLine, ChatProvider
from services.notification.config import Settings
from services.notification.dispatcher import Dispatcher
from services.notification.event_handler import (
    EVENTS_DURABLE,
    INTERNAL_DURABLE,
    INTERNAL_FILTERS,
    PUBLIC_FILTERS,
    EventHandler,
    event_lane,
)
from services.notification.models import WhatsAppChat
from services.notification.recipients import RecipientLookup
from services.notification.rules import LetterLinks
from services.notification.servicer import NotificationServicer, register
from workflows.conversation import task_queue

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient

log = logging.getLogger(__name__)
# How often a notification that has not started its conversation worker looks whether another
# replica has taken a chat message meanwhile.
CHAT_WATCH_SECONDS = 30.0


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
    # WhatsApp conversations (settings.notification_whatsapp_chat); None when off.
    chat: ChatInbox | None = None
    chat_worker: "ChatWorker | None" = None


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
        # The public events in lanes, one per application: one event waiting on intake or
        # verification does not hold the others. The internal ones (sign-in codes, notices)
        # are few and short: one at a time.
        for stream, durable, filters, lanes in (
            (PUBLIC_STREAM, EVENTS_DURABLE, PUBLIC_FILTERS, settings.notification_event_lanes),
            (INTERNAL_STREAM, INTERNAL_DURABLE, INTERNAL_FILTERS, 1),
        ):
            consumer = Consumer(
                js,
                stream=stream,
                durable=durable,
                filter_subjects=filters,
                handler=handler,
                max_deliver=settings.nats_max_deliver,
                retry_delays=settings.nats_retry_delays,
                lanes=lanes,
                lane_key=event_lane if lanes > 1 else None,
            )
            await consumer.start()
            shutdown.push(f"consumer {consumer.durable}", consumer.stop)
            consumers.append(consumer)

        grpc_server = GrpcServer(
            f"{settings.notification_grpc_host}:{settings.notification_grpc_port}",
            auth,
            ["smartdesa.v1.NotificationService"],
            register(servicer := NotificationServicer(sessions)),
        )
        await grpc_server.start()
        shutdown.push("gRPC server", grpc_server.stop)
        log.info("notification gRPC listening on port %d", grpc_server.port)

        chat = chat_worker = None
        if settings.notification_whatsapp_chat:
            chat, chat_worker = await _start_chat(
                settings, stack, sessions, channels, intake_channel, verification_channel
            )
            servicer.end_conversation = chat.end
            servicer.answer_conversation = chat.answer_office

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
            chat=chat,
            chat_worker=chat_worker,
        )
        log.info("notification service stopping")


class ChatWorker:
    """The conversation workflow's Temporal client and worker in this process (it owns the
    number, the Cloud API and the window bookkeeping), started when the chat is first needed.

    A notification whose chat was never used holds no Temporal client or worker and does not
    import temporalio (about 20 MB). A conversation exists only for a number that wrote (its
    `WhatsAppChat` row is committed before the conversation starts), so the worker starts:
    - at service start when the database has any such number: running conversations' timers
      (a request left halfway, a quiet chat ending) and tasks go on after a restart;
    - on the first message, office answer or unlink taken here;
    - when another replica has taken a message (looked for every `CHAT_WATCH_SECONDS`), so
      every replica polls the queue once the chat is in use.
    Once started it runs until the service stops."""

    def __init__(
        self,
        settings: Settings,
        stack: AsyncExitStack,
        sessions: async_sessionmaker[AsyncSession],
        activities: Callable[[], list[Callable[..., Any]]],
    ) -> None:
        self._settings = settings
        self._stack = stack
        self._sessions = sessions
        self._activities = activities
        self.queue = task_queue(settings.temporal_task_queue)
        self._client: TemporalClient | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._client is not None

    async def open(self) -> None:
        """At service start: the worker now if the chat has been used, else a watch for it."""
        if await self._chat_in_use():
            await self.client()
            return
        watch = asyncio.create_task(self._watch_for_use(), name="chat-worker-watch")
        self._stack.push_async_callback(cancel_and_wait, watch)

    async def _chat_in_use(self) -> bool:
        async with self._sessions() as session:
            return (await session.exec(select(WhatsAppChat.key).limit(1))).first() is not None

    async def _watch_for_use(self) -> None:
        while not self.running:
            await asyncio.sleep(CHAT_WATCH_SECONDS)
            try:
                if await self._chat_in_use():
                    await self.client()
            except Exception:  # the database or Temporal is down: look again later
                log.warning("chat worker not started yet; trying again", exc_info=True)

    async def client(self) -> "TemporalClient":
        """The client, with the worker polling, started on the first call. Raises RuntimeError
        when Temporal cannot be reached (the next call tries again)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await self._start()
            return self._client

    async def _start(self) -> "TemporalClient":
        from temporalio.client import Client
        from temporalio.worker import Worker

        from common.tracing import temporal_interceptors
        from workflows.conversation.workflows import ConversationWorkflow

        client = await Client.connect(
            self._settings.temporal_address,
            namespace=self._settings.temporal_namespace,
            interceptors=temporal_interceptors(),
        )
        worker = Worker(
            client,
            task_queue=self.queue,
            workflows=[ConversationWorkflow],
            activities=self._activities(),
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        # A context of its own: started from a webhook request, it must not carry that
        # request's trace (logs and spans) into every later conversation.
        running = asyncio.create_task(worker.run(), context=contextvars.Context())

        async def stop_worker() -> None:
            await worker.shutdown()
            await asyncio.gather(running, return_exceptions=True)

        self._stack.push_async_callback(stop_worker)
        log.info("WhatsApp chat worker polling %s", self.queue)
        return client


async def _start_chat(
    settings: Settings,
    stack: AsyncExitStack,
    sessions: async_sessionmaker[AsyncSession],
    channels: dict[str, Channel],
    intake_channel: grpc.aio.Channel,
    verification_channel: grpc.aio.Channel,
) -> tuple[ChatInbox, "ChatWorker"]:
    """The inbox the webhook hands messages to, and the conversation worker behind it."""
    provider = channels.get(WHATSAPP)
    if not hasattr(provider, "send_payload") or not hasattr(provider, "download_media"):
        raise RuntimeError("WhatsApp chat needs the whatsapp-cloud (or dev) provider")
    directory = directory_pb2_grpc.DirectoryServiceStub(verification_channel)

    async def office_recipients(desa_code: str) -> list[str]:
        answer: directory_pb2.ListRoleHoldersResponse = await directory.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=desa_code, role=OFFICE_ROLE),
            timeout=10,
        )
        return [h.username for h in answer.holders]

    line = ChatLine(
        sessions,
        cast(ChatProvider, provider),
        language=settings.notification_whatsapp_language,
        office_recipients=office_recipients,
    )

    def activities() -> list[Callable[..., Any]]:
        from workflows.conversation.activities import ConversationActivities

        return ConversationActivities(line, intake_channel, verification_channel).all()

    worker = ChatWorker(settings, stack, sessions, activities)
    await worker.open()
    inbox = ChatInbox(
        sessions=sessions,
        temporal=worker.client,
        task_queue=worker.queue,
        secret=chat_secret(settings),
        expire_after_seconds=int(settings.notification_whatsapp_chat_expire_days * 86400),
    )
    return inbox, worker


def chat_secret(settings: Settings) -> bytes:
    """The key conversation keys are made with (derived: a signed link's key never signs
    anything else)."""
    return hmac.new(link_key(settings), b"whatsapp-conversation-key", hashlib.sha256).digest()
