"""The dead-letter stream. JetStream announces a message a consumer gave up on (max_deliver
reached, or terminated as poison) with an advisory that names only its stream sequence; the
advisory stream keeps those advisories, and this mover copies each original message, with why and
where it died, into SMARTDESA_DLQ on `smartdesa.dlq.<stream>.<consumer>`. It runs in the
notification service; every copy has a deterministic Nats-Msg-Id, so several movers, or one
that handles an advisory twice, store it once.

A dead letter keeps the original subject, headers (the ce-* attributes) and body, except that an
internal message's body is dropped: it may hold a one-time code, which must not outlive its
15 minutes.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from common.events import INTERNAL_STREAM
from common.messaging import (
    ADVISORY_STREAM,
    DLQ_ROOT,
    DLQ_STREAM,
    MAX_DELIVERIES_ADVISORY,
    TERMINATED_ADVISORY,
)
from common.shutdown import cancel_and_wait

log = logging.getLogger(__name__)

MOVER_DURABLE = "dead-letter-mover"

# Headers a dead letter carries besides the original's.
REASON = "Smartdesa-Dlq-Reason"  # max_deliveries | terminated
STREAM = "Smartdesa-Dlq-Stream"
SEQUENCE = "Smartdesa-Dlq-Sequence"
CONSUMER = "Smartdesa-Dlq-Consumer"
SUBJECT = "Smartdesa-Dlq-Subject"
DELIVERIES = "Smartdesa-Dlq-Deliveries"
DEAD_AT = "Smartdesa-Dlq-At"
ORIGINAL = "Smartdesa-Dlq-Original"  # kept | body-dropped | missing

MAX_DELIVERIES = "max_deliveries"
TERMINATED = "terminated"


@dataclass(frozen=True)
class Advisory:
    reason: str
    stream: str
    consumer: str
    stream_seq: int
    deliveries: int
    at: str

    @classmethod
    def parse(cls, subject: str, body: bytes) -> "Advisory":
        if subject.startswith(MAX_DELIVERIES_ADVISORY + "."):
            reason = MAX_DELIVERIES
        elif subject.startswith(TERMINATED_ADVISORY + "."):
            reason = TERMINATED
        else:
            raise ValueError(f"not a dead-letter advisory: {subject}")
        data = json.loads(body)
        return cls(
            reason=reason,
            stream=str(data["stream"]),
            consumer=str(data["consumer"]),
            stream_seq=int(data["stream_seq"]),
            deliveries=int(data.get("deliveries", 0)),
            at=str(data.get("timestamp") or datetime.now(UTC).isoformat()),
        )

    @property
    def dead_letter_id(self) -> str:
        return f"{self.stream}.{self.stream_seq}.{self.consumer}.{self.reason}"


def dead_letter_subject(stream: str, consumer: str) -> str:
    return f"{DLQ_ROOT}.{stream}.{consumer}"


class DeadLetterMover:
    """A durable pull consumer on the advisory stream that writes the dead letters."""

    def __init__(self, js: JetStreamContext, retry_seconds: float = 5.0) -> None:
        self._js = js
        self._retry = retry_seconds
        self._config = ConsumerConfig(
            durable_name=MOVER_DURABLE,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            # Never gives up: an advisory it cannot file is retried until NATS answers again.
            max_deliver=-1,
        )
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        await self._js.add_consumer(ADVISORY_STREAM, self._config)
        self._sub = await self._js.pull_subscribe_bind(
            durable=MOVER_DURABLE, stream=ADVISORY_STREAM
        )
        self._task = asyncio.create_task(self._run(self._sub), name="dead-letter-mover")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                msgs = await sub.fetch(batch=10, timeout=1)
            except TimeoutError:
                continue
            except Exception as exc:
                log.warning("dead-letter fetch failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                await self._handle(msg)

    async def _handle(self, msg: Msg) -> None:
        try:
            advisory = Advisory.parse(msg.subject, msg.data)
        except (ValueError, KeyError, TypeError):
            log.warning("dropping an unreadable advisory on %s", msg.subject)
            await _settle(msg.term())
            return
        try:
            await self.file(advisory)
        except Exception as exc:
            log.warning(
                "could not file dead letter %s (%s); retrying",
                advisory.dead_letter_id,
                type(exc).__name__,
            )
            await _settle(msg.nak(delay=self._retry))
        else:
            await _settle(msg.ack())

    async def file(self, advisory: Advisory) -> None:
        """Copy the original message into the dead-letter stream (once, whatever the retries)."""
        headers: dict[str, str] = {}
        body = b""
        original_subject = ""
        try:
            original = await self._js.get_msg(advisory.stream, advisory.stream_seq)
        except NotFoundError:
            state = "missing"  # the source stream's limits removed it first
        else:
            original_subject = original.subject or ""
            headers = {k: v for k, v in (original.headers or {}).items() if k != "Nats-Msg-Id"}
            if advisory.stream == INTERNAL_STREAM:
                state = "body-dropped"
            else:
                state = "kept"
                body = original.data or b""
        headers.update(
            {
                REASON: advisory.reason,
                STREAM: advisory.stream,
                SEQUENCE: str(advisory.stream_seq),
                CONSUMER: advisory.consumer,
                SUBJECT: original_subject,
                DELIVERIES: str(advisory.deliveries),
                DEAD_AT: advisory.at,
                ORIGINAL: state,
                "Nats-Msg-Id": advisory.dead_letter_id,
            }
        )
        await self._js.publish(
            dead_letter_subject(advisory.stream, advisory.consumer),
            body,
            headers=headers,
            timeout=5,
        )
        log.warning(
            "dead letter: %s seq %d given up by %s (%s, %d deliveries)",
            advisory.stream,
            advisory.stream_seq,
            advisory.consumer,
            advisory.reason,
            advisory.deliveries,
        )


async def _settle(ack: Awaitable[None]) -> None:
    """Await an ack/nak/term; a lost connection only means the server redelivers it."""
    try:
        await ack
    except Exception as exc:
        log.warning("settling an advisory failed (%s)", type(exc).__name__)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as an operator reads it."""

    dlq_sequence: int
    reason: str
    stream: str
    stream_seq: int
    consumer: str
    subject: str
    deliveries: int
    at: str
    original: str
    ce_type: str
    ce_id: str
    body: bytes


async def read_dead_letters(js: JetStreamContext, limit: int = 100) -> list[DeadLetter]:
    """The newest `limit` dead letters, oldest first, read with a throwaway consumer."""
    info = await js.stream_info(DLQ_STREAM)
    first = max(info.state.first_seq, info.state.last_seq - limit + 1)
    if info.state.messages == 0:
        return []
    consumer = await js.add_consumer(
        DLQ_STREAM,
        ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=first,
            inactive_threshold=60.0,
        ),
    )
    assert consumer.name is not None
    sub = await js.pull_subscribe_bind(consumer=consumer.name, stream=DLQ_STREAM)
    out: list[DeadLetter] = []
    pending = consumer.num_pending or 0
    try:
        while len(out) < pending:
            for msg in await sub.fetch(min(100, pending - len(out)), timeout=5):
                h = {k: unquote(v) for k, v in (msg.headers or {}).items()}
                out.append(
                    DeadLetter(
                        dlq_sequence=msg.metadata.sequence.stream,
                        reason=h.get(REASON, ""),
                        stream=h.get(STREAM, ""),
                        stream_seq=int(h.get(SEQUENCE) or 0),
                        consumer=h.get(CONSUMER, ""),
                        subject=h.get(SUBJECT, ""),
                        deliveries=int(h.get(DELIVERIES) or 0),
                        at=h.get(DEAD_AT, ""),
                        original=h.get(ORIGINAL, ""),
                        ce_type=h.get("ce-type", ""),
                        ce_id=h.get("ce-id", ""),
                        body=msg.data or b"",
                    )
                )
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(DLQ_STREAM, consumer.name)
    return out
