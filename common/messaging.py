"""NATS JetStream plumbing: connecting, declaring streams and consumers explicitly at start, and
a consume loop with explicit acks."""

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    PubAck,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from common.events import (
    INTERNAL_ROOT,
    INTERNAL_STREAM,
    PUBLIC_ROOT,
    PUBLIC_STREAM,
    CloudEvent,
    check_public_data,
    is_public,
)
from common.shutdown import cancel_and_wait
from common.tracing import continued_span, inject, producer_span

log = logging.getLogger(__name__)

# Dead letters: JetStream has no dead-letter queue of its own. When a consumer gives up on a
# message (max_deliver reached, or term()) the server publishes an advisory naming the stream
# sequence; a stream keeps those advisories, and common.dead_letters copies each original into
# SMARTDESA_DLQ before the source stream's limits remove it.
ADVISORY_STREAM = "SMARTDESA_ADVISORIES"
DLQ_STREAM = "SMARTDESA_DLQ"
DLQ_ROOT = "smartdesa.dlq"
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
TERMINATED_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED"
DEAD_LETTER_SOURCES = (PUBLIC_STREAM, INTERNAL_STREAM)

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
    StreamConfig(
        name=ADVISORY_STREAM,
        # Every consumer of our streams, ours and outside systems' alike.
        subjects=[
            f"{advisory}.{stream}.*"
            for stream in DEAD_LETTER_SOURCES
            for advisory in (MAX_DELIVERIES_ADVISORY, TERMINATED_ADVISORY)
        ],
        storage=StorageType.FILE,
        max_age=7 * 24 * 3600.0,
        duplicate_window=60.0,
        description="JetStream's advisories about messages a consumer gave up on.",
    ),
    StreamConfig(
        name=DLQ_STREAM,
        subjects=[f"{DLQ_ROOT}.>"],
        storage=StorageType.FILE,
        max_age=30 * 24 * 3600.0,
        max_bytes=1024**3,  # old dead letters make room for new ones
        discard=DiscardPolicy.OLD,
        duplicate_window=15 * 60.0,
        description="Copies of messages a consumer gave up on, for an operator to inspect.",
    ),
)


async def connect(url: str, name: str) -> NATS:
    """Connect and keep reconnecting for ever; while the server is away, one line per event
    instead of nats-py's traceback for every failed reconnect."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats (%s): %s: %s", name, type(exc).__name__, exc)

    async def on_disconnected() -> None:
        log.warning("nats (%s): disconnected; reconnecting", name)

    async def on_reconnected() -> None:
        log.warning("nats (%s): reconnected", name)

    return await nats.connect(
        servers=url.split(","),  # a cluster: every server it may try first
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create or update our streams; safe to call from every service at every start.
    `replicas` (SMARTDESA_NATS_STREAM_REPLICAS) is 3 on a 3-node JetStream cluster."""
    for base in STREAMS:
        assert base.name is not None
        config = dataclasses.replace(base, num_replicas=replicas)
        try:
            await js.stream_info(base.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


class PermanentEventError(Exception):
    """The event can never be handled (malformed, unknown): terminate it, do not redeliver."""


EventHandler = Callable[[CloudEvent], Awaitable[None]]
# Which lane an event goes in (`Consumer(lanes=...)`): events of one key are handled one after
# another in stream order, events of different keys side by side. None: the shared lane "".
LaneKey = Callable[[CloudEvent], str | None]

# How long a failed event waits before its next delivery (the handler raised): given with each
# nak. The server's own BackOff list is not used: it replaces ack_wait with its first step and
# overrides later nak delays.
RETRY_DELAYS = (1.0, 5.0, 15.0, 60.0, 300.0)
# How long the server waits for an ack before it redelivers (a consumer that died or hangs); a
# handler still at work says so with in_progress() meanwhile.
ACK_WAIT = 30.0
MAX_DELIVER = 10


class Consumer:
    """A durable pull consumer, declared explicitly (create or update) at start, with explicit
    acks. A failed event is redelivered after the next of `retry_delays`; after `max_deliver`
    deliveries, or at once when it can never be handled, the server gives up on it and
    common.dead_letters keeps a copy.

    With `lanes` > 1 and a `lane_key`, up to `lanes` events of different keys are handled at
    once, those of one key (e.g. one application) still one after another in stream order;
    each is acked when its own handling ends. One event at a time otherwise."""

    BATCH = 10
    # Events fetched ahead per lane with lanes: enough that no lane waits for a fetch, few
    # enough that a stopping replica leaves little for the server to redeliver.
    AHEAD_PER_LANE = 4

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        filter_subjects: Sequence[str],
        handler: EventHandler,
        max_deliver: int = MAX_DELIVER,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        ack_wait: float = ACK_WAIT,
        lanes: int = 1,
        lane_key: LaneKey | None = None,
    ) -> None:
        if max_deliver < 2 or not retry_delays or ack_wait <= 0:
            raise ValueError("a consumer needs max_deliver >= 2, retry delays and an ack wait")
        if lanes < 1 or (lanes > 1 and lane_key is None):
            raise ValueError("lanes need a lane key, and at least one lane")
        self._lanes = lanes
        self._lane_key = lane_key
        self._js = js
        self._stream = stream
        self._durable = durable
        self._handler = handler
        self._max_deliver = max_deliver
        self._retry_delays = list(retry_delays)
        self._heartbeat = ack_wait / 3
        self._config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            max_ack_pending=1000,
            filter_subjects=list(filter_subjects),
        )
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        # With lanes: each key's events waiting or being handled, in stream order (the first
        # is the one being handled), and the task that works through them.
        self._queues: dict[str, deque[tuple[Msg, CloudEvent]]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    @property
    def durable(self) -> str:
        return self._durable

    @property
    def config(self) -> ConsumerConfig:
        return self._config

    @property
    def retry_delays(self) -> list[float]:
        return list(self._retry_delays)

    async def declare(self) -> None:
        """Create the durable, or update it to this configuration (the server does either)."""
        await self._js.add_consumer(self._stream, self._config)

    async def start(self) -> None:
        await self.declare()
        self._sub = await self._js.pull_subscribe_bind(durable=self._durable, stream=self._stream)
        run = self._run if self._lanes == 1 else self._run_lanes
        self._task = asyncio.create_task(run(self._sub), name=f"consumer-{self._durable}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        # Unacked events are redelivered (to this replica's successor or another replica).
        for worker in list(self._workers):
            await cancel_and_wait(worker)
        self._workers.clear()
        self._queues.clear()
        if self._sub is not None:
            # A fetch cancelled mid-wait leaves the subscription pending; a drain would wait
            # for its whole timeout.
            await self._sub.unsubscribe()
            self._sub = None

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(batch=self.BATCH, timeout=1)
            except TimeoutError:  # nats' own and asyncio's: nothing to fetch right now
                continue
            except Exception as exc:  # e.g. the server is restarting; the client reconnects
                log.warning("fetch failed on %s (%s); retrying", self._durable, type(exc).__name__)
                await asyncio.sleep(1)
                continue
            waiting = list(msgs)
            beat = asyncio.create_task(self._keep_alive(waiting), name=f"{self._durable}-beat")
            try:
                while waiting:
                    msg = waiting[0]
                    try:
                        await self._handle(msg)
                    except Exception as exc:
                        # The ack itself failed (connection lost): the server redelivers it
                        # and the handler's dedupe makes that harmless.
                        log.warning(
                            "acknowledging on %s failed (%s)", self._durable, type(exc).__name__
                        )
                    waiting.pop(0)
            finally:
                await cancel_and_wait(beat)

    async def _run_lanes(self, sub: JetStreamContext.PullSubscription) -> None:
        """Fetches while fewer than `lanes * AHEAD_PER_LANE` events are held, and puts each in
        its key's lane; a lane's worker handles and acks them in order."""
        limit = self._lanes * self.AHEAD_PER_LANE
        slots = asyncio.Semaphore(self._lanes)  # lanes being worked at once
        held: list[Msg] = []  # fetched and not yet acked (the keep-alive's list)
        room = asyncio.Event()  # set when an ack made room for more
        beat = asyncio.create_task(self._keep_alive(held), name=f"{self._durable}-beat")
        try:
            while True:
                if len(held) >= limit:
                    room.clear()
                    await room.wait()
                    continue
                try:
                    msgs = await sub.fetch(batch=min(limit - len(held), self.BATCH), timeout=1)
                except TimeoutError:
                    continue
                except Exception as exc:
                    log.warning(
                        "fetch failed on %s (%s); retrying", self._durable, type(exc).__name__
                    )
                    await asyncio.sleep(1)
                    continue
                for msg in msgs:
                    try:
                        event = await self._parse(msg)
                    except Exception as exc:  # the term() failed: the server redelivers it
                        log.warning(
                            "terminating on %s failed (%s)", self._durable, type(exc).__name__
                        )
                        continue
                    if event is None:
                        continue
                    held.append(msg)
                    key = (self._lane_key(event) if self._lane_key else None) or ""
                    queue = self._queues.get(key)
                    if queue is not None:
                        queue.append((msg, event))
                        continue
                    self._queues[key] = deque([(msg, event)])
                    worker = asyncio.create_task(
                        self._work_lane(key, slots, held, room), name=f"{self._durable}-lane"
                    )
                    self._workers.add(worker)
                    worker.add_done_callback(self._workers.discard)
        finally:
            await cancel_and_wait(beat)

    async def _work_lane(
        self, key: str, slots: asyncio.Semaphore, held: list[Msg], room: asyncio.Event
    ) -> None:
        queue = self._queues[key]
        async with slots:
            while queue:
                msg, event = queue[0]
                try:
                    await self._handle_event(msg, event)
                except Exception as exc:
                    # As in _run: the server redelivers, the handler's dedupe makes it harmless.
                    log.warning(
                        "acknowledging on %s failed (%s)", self._durable, type(exc).__name__
                    )
                queue.popleft()
                held.remove(msg)
                room.set()
            # Nothing awaits between the last look and this: a new event of the key either
            # joined the queue (and was handled above) or starts a new lane.
            del self._queues[key]

    async def _keep_alive(self, waiting: list[Msg]) -> None:
        """Tell the server the fetched messages are being worked on, so a slow handler (or a
        long batch) is not mistaken for a dead one and redelivered meanwhile."""
        while True:
            await asyncio.sleep(self._heartbeat)
            for msg in list(waiting):
                try:
                    await msg.in_progress()
                except Exception:  # noqa: S112 - best effort; a redelivery is deduplicated
                    continue

    async def _handle(self, msg: Msg) -> None:
        event = await self._parse(msg)
        if event is not None:
            await self._handle_event(msg, event)

    async def _parse(self, msg: Msg) -> CloudEvent | None:
        """The message's event; None when it is malformed (terminated here)."""
        try:
            return CloudEvent.from_message(msg.headers, msg.data)
        except ValueError:
            log.warning("terminating malformed message on %s", msg.subject)
            await msg.term()
            return None

    async def _handle_event(self, msg: Msg, event: CloudEvent) -> None:
        try:
            # The trace of whatever caused the event carries on here (traceparent header).
            with continued_span(f"{event.name} process", msg.headers):
                await self._handler(event)
        except PermanentEventError as exc:
            log.warning("terminating event %s (%s): %s", event.id, event.type, exc)
            await msg.term()
        except Exception:
            delivered = msg.metadata.num_delivered or 1
            if delivered >= self._max_deliver:
                # No delay: the server gives up on it now and announces it (dead letter).
                log.exception(
                    "event %s (%s) failed %d times; giving up", event.id, event.type, delivered
                )
                await msg.nak()
                return
            delay = self._retry_delays[min(delivered, len(self._retry_delays)) - 1]
            log.exception("event %s (%s) failed; redelivery in %ss", event.id, event.type, delay)
            await msg.nak(delay=delay)
        else:
            await msg.ack()


async def publish(
    js: JetStreamContext, subject: str, event: CloudEvent, traceparent: str | None = None
) -> PubAck:
    """Publish and wait for the stream's ack; Nats-Msg-Id makes a re-publish within the
    stream's duplicate window harmless (the ack says `duplicate`, nothing is stored). The trace
    context goes along as a W3C `traceparent` header: `traceparent` when the event was staged
    earlier (the outbox), else the current span's."""
    if is_public(subject):
        check_public_data(event.data, event.name)
    with producer_span(f"{event.name} publish", traceparent):
        headers = event.headers()
        inject(headers)
        ack: PubAck = await js.publish(subject, event.body(), headers=headers, timeout=5)
    return ack
