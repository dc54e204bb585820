"""A kecamatan dashboard built the way an outside system would build it: nats-py, the standard
library and the published contract (docs/asyncapi.yaml), nothing of Smart Desa's own code.

It keeps its own durable pull consumer on the public stream, filtered to one kecamatan, and its
own state in a SQLite file: where each application stands. Each event is applied and recorded
by its `ce-id` in one transaction, then acknowledged, so a redelivered or re-published event
changes nothing and a restart carries on where it stopped.
"""

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

log = logging.getLogger(__name__)

STREAM = "SMARTDESA_EVENTS"
TYPE_PREFIX = "id.go.subang.smartdesa."

# Where an application stands after an event whose name says it (others: see `stage_after`).
_STAGE_BY_EVENT = {
    "application.submitted": "submitted",
    "application.revision_requested": "revision_requested",
    "application.rejected": "rejected",
    "application.cancelled": "cancelled",
    "application.expired": "expired",
    "application.signing_blocked": "signing_blocked",  # approved, waiting on the e-signature
    "letter.issued": "issued",
    "letter.revoked": "revoked",
}
# The application waits on a (new) step: its role is the stage.
_STEP_EVENTS = {"application.step_assigned", "application.resubmitted"}
# Nothing moves: reminders, escalations and approvals keep the step until the next one starts.
_STAY_EVENTS = {"application.reminded", "application.escalated", "application.decided"}

# Display order of the usual stages; any other role or stage follows in name order.
STAGE_ORDER = (
    "submitted",
    "operator",
    "kasi_pemerintahan",
    "kasi_kesra",
    "kasi_pelayanan",
    "sekdes",
    "kades",
    "revision_requested",
    "signing_blocked",
    "issued",
    "rejected",
    "cancelled",
    "expired",
    "revoked",
)


def kecamatan_filter(kecamatan_code: str) -> str:
    """`32.13.11` -> `smartdesa.events.*.321311.>` (every desa, every event of the kecamatan)."""
    digits = kecamatan_code.replace(".", "")
    if len(digits) != 6 or not digits.isdigit():
        raise ValueError(f"not a Kemendagri kecamatan code: {kecamatan_code!r}")
    return f"smartdesa.events.*.{digits}.>"


@dataclass(frozen=True)
class Event:
    id: str
    name: str  # e.g. application.step_assigned
    version: int
    data: Mapping[str, Any]

    @classmethod
    def from_message(cls, msg: Msg) -> "Event":
        """CloudEvents binary mode: attributes in percent-encoded ce-* headers, JSON body."""
        headers = {k.lower(): unquote(v) for k, v in (msg.headers or {}).items()}
        ce_type = headers.get("ce-type", "")
        if headers.get("ce-specversion") != "1.0" or not headers.get("ce-id"):
            raise ValueError("not a CloudEvents 1.0 message")
        if not ce_type.startswith(TYPE_PREFIX):
            raise ValueError(f"not a Smart Desa event type: {ce_type!r}")
        name, _, version = ce_type.removeprefix(TYPE_PREFIX).rpartition(".v")
        data = json.loads(msg.data or b"{}")
        if not isinstance(data, dict) or not version.isdigit():
            raise ValueError("unreadable event")
        return cls(id=headers["ce-id"], name=name, version=int(version), data=data)


def stage_after(event: Event, previous: str | None) -> str | None:
    """Where the application stands after `event`; None when the event says nothing new."""
    if event.name in _STAGE_BY_EVENT:
        return _STAGE_BY_EVENT[event.name]
    role = str(event.data.get("step_role") or "") or None
    if event.name in _STEP_EVENTS:
        return role or previous
    if event.name in _STAY_EVENTS:
        return previous or role
    return None  # an event type this dashboard does not know (yet): ignored


class Store:
    """The dashboard's own state: each application's desa and stage, and the events applied."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS application (
                application_id TEXT PRIMARY KEY,
                desa_code TEXT NOT NULL,
                letter_type TEXT NOT NULL,
                stage TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS applied_event (event_id TEXT PRIMARY KEY);
            """
        )

    def close(self) -> None:
        self._db.close()

    def apply(self, event: Event) -> bool:
        """Apply the event once; False when it was applied before or changes nothing."""
        if event.version != 1:
            return False  # a later major version: this dashboard reads v1
        application_id = str(event.data.get("application_id") or "")
        desa_code = str(event.data.get("desa_code") or "")
        if not application_id or not desa_code:
            raise ValueError("event without application or desa")
        with self._db:  # one transaction: the state and the record of this event
            seen = self._db.execute(
                "INSERT OR IGNORE INTO applied_event (event_id) VALUES (?)", (event.id,)
            )
            if seen.rowcount == 0:
                return False
            row = self._db.execute(
                "SELECT stage FROM application WHERE application_id = ?", (application_id,)
            ).fetchone()
            stage = stage_after(event, row[0] if row else None)
            if stage is None:
                return False
            self._db.execute(
                """INSERT INTO application (application_id, desa_code, letter_type, stage)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT (application_id) DO UPDATE SET stage = excluded.stage""",
                (application_id, desa_code, str(event.data.get("letter_type") or ""), stage),
            )
        return True

    def counts(self) -> dict[str, dict[str, int]]:
        """Letters per desa and stage."""
        out: dict[str, dict[str, int]] = {}
        for desa, stage, n in self._db.execute(
            "SELECT desa_code, stage, COUNT(*) FROM application GROUP BY desa_code, stage"
        ):
            out.setdefault(desa, {})[stage] = n
        return out


def render(kecamatan_code: str, counts: Mapping[str, Mapping[str, int]]) -> str:
    stages = {s for per_desa in counts.values() for s in per_desa}
    columns = [s for s in STAGE_ORDER if s in stages] + sorted(stages - set(STAGE_ORDER))
    header = ["desa", *columns, "total"]
    rows = [
        [desa, *(str(counts[desa].get(s, 0)) for s in columns), str(sum(counts[desa].values()))]
        for desa in sorted(counts)
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"Kecamatan {kecamatan_code}: surat per desa dan tahap"]
    for r in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    if not rows:
        lines.append("(belum ada surat)")
    return "\n".join(lines)


class Dashboard:
    def __init__(
        self, js: JetStreamContext, store: Store, kecamatan_code: str, durable: str | None = None
    ) -> None:
        self._js = js
        self._store = store
        self.kecamatan_code = kecamatan_code
        self.durable = durable or f"dashboard-kecamatan-{kecamatan_code.replace('.', '')}"
        self._filter = kecamatan_filter(kecamatan_code)
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        """Declare our own durable consumer (create, or update to this config) and bind to it."""
        await self._js.add_consumer(
            STREAM,
            ConsumerConfig(
                durable_name=self.durable,
                description=f"Kecamatan dashboard {self.kecamatan_code}",
                filter_subject=self._filter,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_deliver=5,
            ),
        )
        self._sub = await self._js.pull_subscribe_bind(durable=self.durable, stream=STREAM)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def pull(self, batch: int = 50, wait: float = 1.0) -> int | None:
        """Handle what is waiting; returns how many events changed the counts, or None when
        nothing was waiting."""
        assert self._sub is not None, "start() first"
        try:
            msgs = await self._sub.fetch(batch, timeout=wait)
        except TimeoutError:
            return None
        changed = 0
        for msg in msgs:
            try:
                event = Event.from_message(msg)
                applied = self._store.apply(event)
            except (ValueError, json.JSONDecodeError):
                log.warning("skipping an unreadable message on %s", msg.subject)
                await msg.term()  # never readable: do not redeliver it
                continue
            changed += applied
            await msg.ack()
        return changed

    async def catch_up(self) -> None:
        """Handle everything stored up to now."""
        while True:
            if await self.pull() is None:
                info = await self._js.consumer_info(STREAM, self.durable)
                if not info.num_pending and not info.num_ack_pending:
                    return

    async def follow(self, on_change: Callable[[str], None]) -> None:
        """Run until cancelled, handing the table to `on_change` whenever it changes."""
        while True:
            if await self.pull():
                on_change(render(self.kecamatan_code, self._store.counts()))
