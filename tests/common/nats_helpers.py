"""Reading streams in tests the way an outside consumer would, and polling with a deadline."""

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from common.dead_letters import dead_letter_subject
from common.events import PUBLIC_STREAM
from common.messaging import DLQ_STREAM


async def read_all(
    js: JetStreamContext, filter_subject: str, stream: str = PUBLIC_STREAM
) -> list[Msg]:
    """Every message of `stream` on `filter_subject` stored now, oldest first."""
    info = await js.add_consumer(
        stream,
        ConsumerConfig(
            filter_subject=filter_subject,
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=60.0,
        ),
    )
    assert info.name is not None
    sub = await js.pull_subscribe_bind(consumer=info.name, stream=stream)
    out: list[Msg] = []
    pending = info.num_pending or 0
    try:
        while len(out) < pending:
            out.extend(await sub.fetch(min(100, pending - len(out)), timeout=5))
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(stream, info.name)
    return out


async def dead_letters_of(js: JetStreamContext, stream: str, consumer: str) -> list[Msg]:
    return await read_all(js, dead_letter_subject(stream, consumer), stream=DLQ_STREAM)
