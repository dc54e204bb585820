"""The outside-consumer example against a real nats-server of its own: its durable consumer sees
only its kecamatan, counts letters per desa and step, ignores duplicates, unknown and unreadable
messages, and carries on after a restart."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from smartdesa.v1 import events_pb2

from common.events import CloudEvent, event_type, proto_data, public_subject
from common.messaging import ensure_streams, publish
from examples.kecamatan_dashboard.dashboard import (
    STREAM,
    Dashboard,
    Store,
    kecamatan_filter,
    render,
)
from tests.support.processes import nats_server

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"
ELSEWHERE = "32.13.12.2001"  # another kecamatan


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[str]:
    with nats_server(tmp_path / "jetstream") as url:
        yield url


@pytest.fixture
async def js(own_nats: str) -> AsyncIterator[JetStreamContext]:
    nc: NATS = await nats.connect(own_nats)
    try:
        jsc = nc.jetstream()
        await ensure_streams(jsc)  # Smart Desa's services declare the stream
        yield jsc
    finally:
        await nc.close()


class Publisher:
    """Publishes events as Smart Desa does, one sequence per application."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.sent: dict[tuple[str, int], CloudEvent] = {}
        self._seq: dict[str, int] = {}

    async def __call__(
        self, application_id: str, desa: str, name: str, version: int = 1, **fields: object
    ) -> CloudEvent:
        seq = self._seq[application_id] = self._seq.get(application_id, 0) + 1
        parts = desa.split(".")
        event = CloudEvent(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{application_id}/{seq}")),
            source="/services/intake",
            type=event_type(name, version),
            subject=application_id,
            data=proto_data(
                events_pb2.ApplicationEvent(
                    application_id=application_id,
                    desa_code=desa,
                    kecamatan_code=".".join(parts[:3]),
                    kabupaten_code=".".join(parts[:2]),
                    letter_type="SKD",
                    **fields,  # type: ignore[arg-type]
                )
            ),
        )
        await publish(self.js, public_subject(desa, name), event)
        self.sent[(application_id, seq)] = event
        return event


async def _run_dashboard(js: JetStreamContext, state: Path) -> dict[str, dict[str, int]]:
    store = Store(state)
    dashboard = Dashboard(js, store, "32.13.11")
    try:
        await dashboard.start()
        await dashboard.catch_up()
        return store.counts()
    finally:
        await dashboard.stop()
        store.close()


async def test_the_dashboard_counts_letters_per_desa_and_step(
    js: JetStreamContext, tmp_path: Path
) -> None:
    send = Publisher(js)
    state = tmp_path / "dashboard.db"
    kasi = "kasi_pemerintahan"

    await send("a1", PAMANUKAN, "application.submitted", status="in_review")
    await send("a1", PAMANUKAN, "application.step_assigned", status="in_review", step_role=kasi)
    await send("a1", PAMANUKAN, "application.decided", step_role=kasi, decision="approve",
               status="in_review")  # fmt: skip
    await send("a1", PAMANUKAN, "application.step_assigned", status="in_review", step_index=1,
               step_role="sekdes")  # fmt: skip
    await send("a1", PAMANUKAN, "application.reminded", status="in_review", step_index=1,
               step_role="sekdes")  # fmt: skip
    await send("a2", PAMANUKAN, "application.submitted", status="in_review")
    await send("a2", PAMANUKAN, "application.step_assigned", status="in_review", step_role=kasi)
    await send("a2", PAMANUKAN, "application.revision_requested", status="revision_requested",
               step_role=kasi, decision="revise")  # fmt: skip
    await send("a3", RANCASARI, "application.submitted", status="in_review")
    await send("a3", RANCASARI, "application.step_assigned", status="in_review", step_role=kasi)
    await send("x1", ELSEWHERE, "application.submitted", status="in_review")
    await send("x1", ELSEWHERE, "application.step_assigned", status="in_review", step_role=kasi)
    # Something that is not a CloudEvent on the kecamatan's subjects: terminated, not fatal.
    await js.publish(public_subject(PAMANUKAN, "application.submitted"), b"rusak")

    assert await _run_dashboard(js, state) == {
        PAMANUKAN: {"sekdes": 1, "revision_requested": 1},
        RANCASARI: {kasi: 1},
    }
    info = await js.consumer_info(STREAM, "dashboard-kecamatan-321311")
    assert (
        info.config.filter_subject == kecamatan_filter("32.13.11") == "smartdesa.events.*.321311.>"
    )
    assert info.config.durable_name == "dashboard-kecamatan-321311"

    # While the dashboard is stopped: a publisher re-sends an old event beyond the duplicate
    # window (same ce-id, new message), the letters move on, and new kinds of events appear.
    stale = send.sent[("a1", 2)]
    await js.publish(
        public_subject(PAMANUKAN, stale.name),
        stale.body(),
        headers={**stale.headers(), "Nats-Msg-Id": str(uuid.uuid4())},
    )
    await send("a2", PAMANUKAN, "application.resubmitted", status="in_review", step_role=kasi)
    await send("a1", PAMANUKAN, "application.decided", step_index=1, step_role="sekdes",
               decision="approve", status="in_review")  # fmt: skip
    await send("a1", PAMANUKAN, "application.step_assigned", step_index=2, step_role="kades",
               status="in_review")  # fmt: skip
    await send("a1", PAMANUKAN, "application.decided", step_index=2, step_role="kades",
               decision="approve", status="in_review")  # fmt: skip
    await send("a1", PAMANUKAN, "letter.issued", status="issued", letter_number="470/1/X")
    await send("a3", RANCASARI, "application.escalated", status="in_review", step_role=kasi,
               escalated_to_role="sekdes", escalation_level=1)  # fmt: skip
    await send("a3", RANCASARI, "application.step_assigned", version=2, step_role="sekdes",
               status="in_review")  # fmt: skip
    await send("a4", RANCASARI, "application.archived", status="in_review")

    # A restart: the same durable consumer and the same state carry on; nothing counts twice.
    counts = await _run_dashboard(js, state)
    assert counts == {
        PAMANUKAN: {"issued": 1, kasi: 1},
        RANCASARI: {kasi: 1},
    }
    table = render("32.13.11", counts)
    assert table.splitlines() == [
        "Kecamatan 32.13.11: surat per desa dan tahap",
        "desa           kasi_pemerintahan  issued  total",
        "32.13.11.2002  1                  0       1",
        "32.13.11.2004  1                  1       2",
    ]
    # Everything was acknowledged (the unreadable one terminated): nothing waits to come back.
    info = await js.consumer_info(STREAM, "dashboard-kecamatan-321311")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


def test_a_kecamatan_code_is_checked() -> None:
    with pytest.raises(ValueError):
        kecamatan_filter("32.13")
    assert kecamatan_filter("32.13.11") == "smartdesa.events.*.321311.>"
