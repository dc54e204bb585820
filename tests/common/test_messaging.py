"""JetStream plumbing against a real nats-server: streams and consumers declared explicitly and
idempotently, deduplicated publishing, subject wildcards by area and type, consumer retries,
slow handlers, and the dead-letter stream."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from smartdesa.v1 import events_pb2

from common import dead_letters as dl
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
    OTP_REQUESTED,
)
from common.events import (
    INTERNAL_STREAM,
    PUBLIC_STREAM,
    CloudEvent,
    NotPublicData,
    deterministic_event_id,
    event_type,
    internal_subject,
    proto_data,
    public_filter,
    public_subject,
)
from common.messaging import (
    ADVISORY_STREAM,
    DLQ_STREAM,
    STREAMS,
    Consumer,
    PermanentEventError,
    ensure_streams,
    publish,
)
from tests.common.nats_helpers import dead_letters_of, read_all
from tests.support.waiting import eventually


def unique_desa() -> str:
    """A desa code no other test publishes to (its own subjects in the shared stream)."""
    n = uuid.uuid4().int
    return f"9{n % 9}.{n // 10 % 90 + 10}.{n // 1000 % 90 + 10}.{n // 100000 % 9000 + 1000}"


def an_event(
    desa: str, name: str = APPLICATION_STEP_ASSIGNED, key: str | None = None
) -> CloudEvent:
    application_id = key or uuid.uuid4().hex
    parts = desa.split(".")
    return CloudEvent(
        id=deterministic_event_id(application_id, name),
        source="/tests",
        type=event_type(name),
        subject=application_id,
        data=proto_data(
            events_pb2.ApplicationEvent(
                application_id=application_id,
                desa_code=desa,
                kecamatan_code=".".join(parts[:3]),
                kabupaten_code=".".join(parts[:2]),
                letter_type="SKD",
                status="in_review",
            )
        ),
    )


async def test_streams_are_declared_idempotently(js: JetStreamContext) -> None:
    await ensure_streams(js)
    await ensure_streams(js)
    for config in STREAMS:
        assert config.name is not None
        info = await js.stream_info(config.name)
        assert info.config.subjects == config.subjects
        assert info.config.duplicate_window == config.duplicate_window
        assert info.config.max_age == config.max_age


async def test_a_consumer_is_declared_before_it_pulls_and_a_changed_config_updates_it(
    js: JetStreamContext,
) -> None:
    durable = f"t-{uuid.uuid4().hex[:8]}"

    async def nothing(_: CloudEvent) -> None:
        return None

    first = Consumer(
        js,
        stream=PUBLIC_STREAM,
        durable=durable,
        filter_subjects=["smartdesa.events.>"],
        handler=nothing,
        max_deliver=5,
    )
    with pytest.raises(NotFoundError):
        await js.consumer_info(PUBLIC_STREAM, durable)
    await first.declare()
    await first.declare()  # the same again is fine
    info = await js.consumer_info(PUBLIC_STREAM, durable)
    assert info.config.max_deliver == 5
    # No server BackOff: it would shorten the ack wait to its first step.
    assert info.config.ack_wait == 30.0
    assert not info.config.backoff

    changed = Consumer(
        js,
        stream=PUBLIC_STREAM,
        durable=durable,
        filter_subjects=["smartdesa.events.*.*.*.letter.>"],
        handler=nothing,
        max_deliver=7,
    )
    await changed.declare()
    info = await js.consumer_info(PUBLIC_STREAM, durable)
    assert info.config.max_deliver == 7
    assert info.config.filter_subjects == ["smartdesa.events.*.*.*.letter.>"]
    await js.delete_consumer(PUBLIC_STREAM, durable)


async def test_a_republished_event_is_dropped_by_the_stream(js: JetStreamContext) -> None:
    desa = unique_desa()
    event = an_event(desa)
    subject = public_subject(desa, APPLICATION_STEP_ASSIGNED)
    first = await publish(js, subject, event)
    again = await publish(js, subject, event)
    assert not first.duplicate
    assert again.duplicate
    assert again.seq == first.seq
    stored = await read_all(js, subject)
    assert [CloudEvent.from_message(m.headers, m.data).id for m in stored] == [event.id]
    assert stored[0].headers is not None and stored[0].headers["Nats-Msg-Id"] == event.id


async def test_personal_data_is_refused_on_a_public_subject(js: JetStreamContext) -> None:
    desa = unique_desa()
    event = an_event(desa)
    leaky = CloudEvent(
        id=event.id,
        source=event.source,
        type=event.type,
        data={**event.data, "nik": "3213111508900001"},
    )
    with pytest.raises(NotPublicData) as refused:
        await publish(js, public_subject(desa, APPLICATION_STEP_ASSIGNED), leaky)
    assert "3213111508900001" not in str(refused.value)
    assert await read_all(js, public_subject(desa, APPLICATION_STEP_ASSIGNED)) == []


async def test_wildcards_select_by_kabupaten_kecamatan_desa_and_type(js: JetStreamContext) -> None:
    """Two kabupaten, two kecamatan in one of them, two desa in one kecamatan, two types."""
    n = uuid.uuid4().int % 80 + 10
    kab_a, kab_b = f"9{n % 9}.{n}", f"9{n % 9}.{n + 1}"
    kec_a1, kec_a2 = f"{kab_a}.01", f"{kab_a}.02"
    desa_a1x, desa_a1y, desa_a2, desa_b = (
        f"{kec_a1}.2001",
        f"{kec_a1}.2002",
        f"{kec_a2}.2001",
        f"{kab_b}.01.2001",
    )
    published: dict[str, tuple[str, str]] = {}
    for desa in (desa_a1x, desa_a1y, desa_a2, desa_b):
        for name in (APPLICATION_STEP_ASSIGNED, LETTER_ISSUED):
            event = an_event(desa, name)
            await publish(js, public_subject(desa, name), event)
            published[event.id] = (desa, name)

    async def selected(filter_subject: str) -> set[tuple[str, str]]:
        return {
            published[CloudEvent.from_message(m.headers, m.data).id]
            for m in await read_all(js, filter_subject)
        }

    everything = set(published.values())
    assert await selected(public_filter(kabupaten=kab_a)) == {
        x for x in everything if x[0] != desa_b
    }
    assert await selected(public_filter(kecamatan=kec_a1)) == {
        x for x in everything if x[0] in (desa_a1x, desa_a1y)
    }
    assert await selected(public_filter(desa=desa_a1y)) == {
        x for x in everything if x[0] == desa_a1y
    }
    assert await selected(public_filter(kabupaten=kab_b, name=LETTER_ISSUED)) == {
        (desa_b, LETTER_ISSUED)
    }
    assert await selected(public_filter(kecamatan=kec_a1, name="application.*")) == {
        (desa_a1x, APPLICATION_STEP_ASSIGNED),
        (desa_a1y, APPLICATION_STEP_ASSIGNED),
    }
    assert public_filter(kecamatan="32.13.11") == "smartdesa.events.*.321311.>"
    assert public_filter() == "smartdesa.events.>"
    assert public_filter(name=LETTER_ISSUED) == "smartdesa.events.*.*.*.letter.issued"


@dataclass
class Recorder:
    """A handler whose behaviour per event id the test decides."""

    seen: list[str] = field(default_factory=list)
    handled: list[str] = field(default_factory=list)
    fail_times: dict[str, int] = field(default_factory=dict)  # raise this many times first
    poison: set[str] = field(default_factory=set)
    slow: dict[str, float] = field(default_factory=dict)

    async def __call__(self, event: CloudEvent) -> None:
        self.seen.append(event.id)
        if event.id in self.poison:
            raise PermanentEventError("cannot be handled")
        if self.fail_times.get(event.id, 0) > 0:
            self.fail_times[event.id] -= 1
            raise RuntimeError("peer unavailable")
        if event.id in self.slow:
            await asyncio.sleep(self.slow[event.id])  # a handler that takes its time
        self.handled.append(event.id)


@pytest.fixture
async def mover(js: JetStreamContext) -> AsyncIterator[dl.DeadLetterMover]:
    m = dl.DeadLetterMover(js, retry_seconds=0.2)
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


async def _consumer(
    js: JetStreamContext, desa: str, handler: Recorder, **kwargs: object
) -> Consumer:
    consumer = Consumer(
        js,
        stream=PUBLIC_STREAM,
        durable=f"t-{uuid.uuid4().hex[:8]}",
        filter_subjects=[public_filter(desa=desa)],
        handler=handler,
        **kwargs,  # type: ignore[arg-type]
    )
    await consumer.start()
    return consumer


def _subject_lane(event: CloudEvent) -> str | None:
    return event.subject


@pytest.mark.parametrize("lanes", [1, 4])
async def test_a_failed_event_is_retried_until_handled(js: JetStreamContext, lanes: int) -> None:
    desa = unique_desa()
    recorder = Recorder()
    event = an_event(desa)
    recorder.fail_times[event.id] = 2
    consumer = await _consumer(
        js, desa, recorder, retry_delays=[0.1], lanes=lanes, lane_key=_subject_lane
    )
    try:
        await publish(js, public_subject(desa, APPLICATION_STEP_ASSIGNED), event)
        await eventually(lambda: recorder.handled == [event.id], what="the retried event")
        assert recorder.seen == [event.id] * 3
    finally:
        await consumer.stop()
        await js.delete_consumer(PUBLIC_STREAM, consumer.durable)


async def test_poison_and_exhausted_events_become_dead_letters_and_the_rest_flow(
    js: JetStreamContext, mover: dl.DeadLetterMover
) -> None:
    desa = unique_desa()
    recorder = Recorder()
    poison, exhausted = an_event(desa), an_event(desa)
    good = [an_event(desa) for _ in range(3)]
    recorder.poison.add(poison.id)
    recorder.fail_times[exhausted.id] = 1000
    consumer = await _consumer(js, desa, recorder, max_deliver=3, retry_delays=[0.1])
    subject = public_subject(desa, APPLICATION_STEP_ASSIGNED)
    try:
        await publish(js, subject, good[0])
        # Not a CloudEvent at all: no ce-* headers.
        await js.publish(subject, b"{not json", headers={"Nats-Msg-Id": f"raw-{desa}"})
        await publish(js, subject, poison)
        await publish(js, subject, exhausted)
        for event in good[1:]:
            await publish(js, subject, event)

        letters: list[Msg] = await eventually(
            _at_least(3, lambda: dead_letters_of(js, PUBLIC_STREAM, consumer.durable)),
            what="three dead letters",
        )
        await eventually(
            lambda: sorted(recorder.handled) == sorted(e.id for e in good), what="the good ones"
        )
    finally:
        await consumer.stop()
        await js.delete_consumer(PUBLIC_STREAM, consumer.durable)

    by_reason: dict[str, list[Msg]] = {}
    for letter in letters:
        assert letter.headers is not None
        by_reason.setdefault(letter.headers[dl.REASON], []).append(letter)
    terminated = by_reason[dl.TERMINATED]
    (exhausted_letter,) = by_reason[dl.MAX_DELIVERIES]
    assert len(terminated) == 2
    assert {m.data for m in terminated} == {b"{not json", poison.body()}
    assert exhausted_letter.data == exhausted.body()
    headers = exhausted_letter.headers
    assert headers is not None
    assert headers["ce-id"] == exhausted.id
    assert headers["ce-type"] == exhausted.type
    assert headers[dl.SUBJECT] == subject
    assert headers[dl.CONSUMER] == consumer.durable
    assert headers[dl.DELIVERIES] == "3"
    assert headers[dl.ORIGINAL] == "kept"
    assert recorder.seen.count(exhausted.id) == 3
    assert recorder.seen.count(poison.id) == 1


async def test_an_advisory_filed_twice_is_one_dead_letter(js: JetStreamContext) -> None:
    desa = unique_desa()
    event = an_event(desa)
    subject = public_subject(desa, APPLICATION_STEP_ASSIGNED)
    ack = await publish(js, subject, event)
    durable = f"t-{uuid.uuid4().hex[:8]}"
    advisory = dl.Advisory(
        reason=dl.TERMINATED,
        stream=PUBLIC_STREAM,
        consumer=durable,
        stream_seq=ack.seq,
        deliveries=1,
        at="2026-01-01T00:00:00Z",
    )
    mover = dl.DeadLetterMover(js)
    await mover.file(advisory)
    await mover.file(advisory)
    letters = await dead_letters_of(js, PUBLIC_STREAM, durable)
    assert [m.data for m in letters] == [event.body()]

    gone = dl.Advisory(
        reason=dl.MAX_DELIVERIES,
        stream=PUBLIC_STREAM,
        consumer=durable,
        stream_seq=ack.seq + 10**9,
        deliveries=10,
        at="2026-01-01T00:00:00Z",
    )
    await mover.file(gone)
    letters = await dead_letters_of(js, PUBLIC_STREAM, durable)
    assert len(letters) == 2
    assert letters[1].headers is not None
    assert letters[1].headers[dl.ORIGINAL] == "missing"

    # As the operator's listing (`make dead-letters`) shows them.
    listed = [d for d in await dl.read_dead_letters(js, limit=10_000) if d.consumer == durable]
    assert [(d.reason, d.stream_seq, d.original, d.ce_id) for d in listed] == [
        (dl.TERMINATED, ack.seq, "kept", event.id),
        (dl.MAX_DELIVERIES, ack.seq + 10**9, "missing", ""),
    ]
    assert listed[0].subject == subject and listed[0].body == event.body()


async def test_a_slow_handler_is_not_mistaken_for_a_dead_one(js: JetStreamContext) -> None:
    desa = unique_desa()
    recorder = Recorder()
    slow, after = an_event(desa), an_event(desa)
    # Three times the ack wait: without the in-progress heartbeat the server would redeliver
    # the event (and the one waiting behind it in the batch) meanwhile.
    recorder.slow[slow.id] = 3.0
    consumer = await _consumer(js, desa, recorder, ack_wait=1.0)
    try:
        subject = public_subject(desa, APPLICATION_STEP_ASSIGNED)
        await publish(js, subject, slow)
        await publish(js, subject, after)
        await eventually(lambda: recorder.handled == [slow.id, after.id], what="both handled")
        info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
        assert info.num_redelivered == 0
        assert recorder.seen == [slow.id, after.id]
    finally:
        await consumer.stop()
        await js.delete_consumer(PUBLIC_STREAM, consumer.durable)


async def test_lanes_handle_keys_side_by_side_each_in_order_and_ack_after(
    js: JetStreamContext,
) -> None:
    desa = unique_desa()
    keys = [uuid.uuid4().hex for _ in range(3)]
    names = (APPLICATION_SUBMITTED, APPLICATION_STEP_ASSIGNED, APPLICATION_DECIDED, LETTER_ISSUED)
    events = {k: [an_event(desa, name, key=k) for name in names] for k in keys}
    handled: dict[str, list[str]] = {k: [] for k in keys}
    # The first key's first event waits until the second key's last is handled: handled one
    # at a time, in stream order, it would wait for ever.
    held, release = events[keys[0]][0], asyncio.Event()
    # What of the held key was handled when the other key was done (nothing: it waits in line).
    held_key_then: list[list[str]] = []
    pending_then: list[int] = []  # events fetched and not acked then: the held one at least

    async def handler(event: CloudEvent) -> None:
        if event.id == held.id:
            await release.wait()
        assert event.subject is not None
        handled[event.subject].append(event.id)
        if event.id == events[keys[1]][-1].id:
            held_key_then.append(list(handled[keys[0]]))
            info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
            pending_then.append(info.num_ack_pending)
            release.set()

    consumer = Consumer(
        js,
        stream=PUBLIC_STREAM,
        durable=f"t-{uuid.uuid4().hex[:8]}",
        filter_subjects=[public_filter(desa=desa)],
        handler=handler,
        lanes=4,
        lane_key=_subject_lane,
    )
    try:
        # The keys interleaved in the stream: k0 e0, k1 e0, k2 e0, k0 e1, ...
        for i in range(len(names)):
            for k in keys:
                await publish(js, public_subject(desa, names[i]), events[k][i])
        await consumer.start()
        await eventually(
            lambda: all(len(handled[k]) == len(names) for k in keys), what="every event"
        )
        assert held_key_then == [[]]
        assert pending_then[0] >= 1
        assert handled == {k: [e.id for e in events[k]] for k in keys}

        async def all_acked() -> bool:
            info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
            return bool(info.num_ack_pending == 0 and info.num_pending == 0)

        await eventually(all_acked, what="every event acked")
        info = await js.consumer_info(PUBLIC_STREAM, consumer.durable)
        assert info.num_redelivered == 0
    finally:
        release.set()
        await consumer.stop()
        await js.delete_consumer(PUBLIC_STREAM, consumer.durable)


async def test_the_advisory_stream_and_dlq_exist_for_every_source(js: JetStreamContext) -> None:
    info = await js.stream_info(ADVISORY_STREAM)
    assert info.config.subjects is not None
    assert "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.SMARTDESA_EVENTS.*" in info.config.subjects
    assert "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.SMARTDESA_INTERNAL.*" in info.config.subjects
    assert (await js.stream_info(DLQ_STREAM)).config.subjects == ["smartdesa.dlq.>"]
    # A consumer of the mover's own stream is not watched: no advisory loop.
    assert not any(ADVISORY_STREAM in s for s in info.config.subjects)


def _at_least(
    n: int, read: Callable[[], Awaitable[list[Msg]]]
) -> Callable[[], Awaitable[list[Msg] | None]]:
    async def probe() -> list[Msg] | None:
        found = await read()
        return found if len(found) >= n else None

    return probe


async def test_an_internal_dead_letter_keeps_no_body(js: JetStreamContext) -> None:
    """Internal messages may hold a one-time code: its dead letter says what and where, not it."""
    secret = CloudEvent(
        id=str(uuid.uuid4()), source="/tests", type=event_type(OTP_REQUESTED),
        data={"resident_id": "r-1", "code": "918273", "expires_at": "2026-01-01T00:05:00Z"},
    )  # fmt: skip
    ack = await publish(js, internal_subject(OTP_REQUESTED), secret)
    durable = f"t-{uuid.uuid4().hex[:8]}"
    await dl.DeadLetterMover(js).file(
        dl.Advisory(
            reason=dl.MAX_DELIVERIES,
            stream=INTERNAL_STREAM,
            consumer=durable,
            stream_seq=ack.seq,
            deliveries=10,
            at="2026-01-01T00:00:00Z",
        )  # fmt: skip
    )
    (letter,) = await dead_letters_of(js, INTERNAL_STREAM, durable)
    assert letter.headers is not None
    assert letter.headers[dl.ORIGINAL] == "body-dropped"
    assert letter.headers["ce-id"] == secret.id
    assert letter.headers[dl.SUBJECT] == internal_subject(OTP_REQUESTED)
    assert not letter.data
    assert "918273" not in str(letter.headers)
