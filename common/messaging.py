"""NATS JetStream plumbing: connecting, declaring streams and consumers explicitly at start, and
a consume loop with explicit acks."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from common.background import cancel_and_wait
from common.events import INTERNAL_ROOT, INTERNAL_STREAM, PUBLIC_ROOT, PUBLIC_STREAM, CloudEvent
from common.tracing import continued_span, inject, producer_span

log = logging.getLogger(__name__)

STREAMS = (
    StreamConfig(
        name=PUBLIC_STREAM,
        subjects=[f"{PUBLIC_ROOT}.>"],
        storage=StorageType.FILE,
        max_age=90 * 24 * 3600.0,
        duplicate_window=15 * 60.0,
        description="Application and letter events, no personal data.",
    ),
    StreamConfig(
        name=INTERNAL_STREAM,
        subjects=[f"{INTERNAL_ROOT}.>"],
        storage=StorageType.FILE,
        max_age=15 * 60.0,  # one-time codes and the like: gone after their use
        duplicate_window=5 * 60.0,
        description="Service-internal messages such as one-time codes; never exported.",
    ),
)


async def connect(url: str, name: str) -> NATS:
    return await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )


async def ensure_streams(js: JetStreamContext) -> None:
    """Create or update our streams; safe to call from every service at every start."""
    for config in STREAMS:
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


class PermanentEventError(Exception):
    """The event can never be handled (malformed, unknown): terminate it, do not redeliver."""


EventHandler = Callable[[CloudEvent], Awaitable[None]]


class Consumer:
    """A durable pull consumer, declared explicitly, with explicit acks and backoff on failure."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        filter_subjects: Sequence[str],
        handler: EventHandler,
        max_deliver: int = 10,
        backoff: Sequence[float] = (1, 5, 15, 60, 300),
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._handler = handler
        self._backoff = list(backoff)
        self._config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_deliver=max_deliver,
            backoff=list(backoff),
            filter_subjects=list(filter_subjects),
        )
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def declare(self) -> None:
        await self._js.add_consumer(self._stream, self._config)

    async def start(self) -> None:
        await self.declare()
        self._sub = await self._js.pull_subscribe_bind(durable=self._durable, stream=self._stream)
        self._task = asyncio.create_task(self._run(self._sub), name=f"consumer-{self._durable}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._sub is not None:
            # A fetch cancelled mid-wait leaves the subscription pending; a drain would wait
            # for its whole timeout.
            await self._sub.unsubscribe()
            self._sub = None

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(batch=20, timeout=1)
            except TimeoutError:  # nats' own and asyncio's: nothing to fetch right now
                continue
            except Exception:
                log.exception("fetch failed on %s; retrying", self._durable)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                await self._handle(msg)

    async def _handle(self, msg: Msg) -> None:
        try:
            event = CloudEvent.from_message(msg.headers, msg.data)
        except ValueError:
            log.warning("terminating malformed message on %s", msg.subject)
            await msg.term()
            return
        try:
            # The trace of whatever caused the event carries on here (traceparent header).
            with continued_span(f"{event.name} process", msg.headers):
                await self._handler(event)
        except PermanentEventError:
            log.warning("terminating event %s (%s): cannot be handled", event.id, event.type)
            await msg.term()
        except Exception:
            delivered = msg.metadata.num_delivered or 1
            delay = self._backoff[min(delivered, len(self._backoff)) - 1]
            log.exception("event %s (%s) failed; redelivery in %ss", event.id, event.type, delay)
            await msg.nak(delay=delay)
        else:
            await msg.ack()


async def publish(
    js: JetStreamContext, subject: str, event: CloudEvent, traceparent: str | None = None
) -> None:
    """Publish and wait for the stream's ack; Nats-Msg-Id makes a re-publish harmless. The
    trace context goes along as a W3C `traceparent` header: `traceparent` when the event was
    staged earlier (the outbox), else the current span's."""
    with producer_span(f"{event.name} publish", traceparent):
        headers = event.headers()
        inject(headers)
        await js.publish(subject, event.body(), headers=headers, timeout=5)
