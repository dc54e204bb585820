"""Telling open inbox pages that a desa's tasks changed, across every verification replica.

The task projection (one durable JetStream consumer shared by the replicas, so only one replica
applies each event) publishes a small core-NATS notice after it commits a change; every replica
subscribes and passes the notice on to the server-sent-event streams of its own clients in that
desa whose holder the change concerns, which then fetch the list again. The notice carries the
desa code (its subject) and the roles the changed task concerns (its step's, and those it was
escalated to, before and after the change): no application, NIK, name or phone travels this
way. A stream is told when one of those roles is its holder's at that moment, their own or one
they hold as Plt; a notice without roles (an older replica's, or one the projection could not
place) tells every stream of the desa, as does a change of the desa's Plt periods, after which
each stream reads its holder's periods again.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from common.db import utcnow

log = logging.getLogger(__name__)

# Core NATS only, outside every stream's subjects: `smartdesa.internal.>` is captured by the
# SMARTDESA_INTERNAL stream, which must not fill up with these fleeting notices (a page that
# misses one fetches its list again on the next, or on reconnecting).
INBOX_SUBJECT_PREFIX = "smartdesa.notices.verification.inbox"
# How many notices one slow client may have waiting; more would say nothing new.
_QUEUE_SIZE = 8


def inbox_subject(desa_code: str) -> str:
    """`smartdesa.notices.verification.inbox.32_13_11_2004` (dots would split the token)."""
    return f"{INBOX_SUBJECT_PREFIX}.{desa_code.replace('.', '_')}"


def desa_of_subject(subject: str) -> str | None:
    prefix = INBOX_SUBJECT_PREFIX + "."
    if not subject.startswith(prefix):
        return None
    token = subject[len(prefix) :]
    return token.replace("_", ".") if token and "." not in token else None


# The payload of a notice that the desa's Plt periods changed (roles are never spelled so).
_PLT_CHANGED = b"!plt"


@dataclass(frozen=True)
class Change:
    """A change to a desa's tasks: the roles it concerns (none: anyone's, unknown), or a change
    of who holds which role there (`plt`)."""

    roles: frozenset[str] = frozenset()
    plt: bool = False

    def payload(self) -> bytes:
        return _PLT_CHANGED if self.plt else " ".join(sorted(self.roles)).encode()

    @classmethod
    def of_payload(cls, data: bytes) -> "Change":
        if data == _PLT_CHANGED:
            return cls(plt=True)
        return cls(frozenset(data.decode(errors="replace").split()))

    def label(self) -> str:
        """What the stream's event says: the roles, for the curious; the page does not read it."""
        if self.plt:
            return "plt"
        return " ".join(sorted(self.roles)) or "berubah"


ANYONE = Change()


@dataclass
class Holder:
    """Whose inbox a stream shows: their own role, and their Plt periods in the desa (role,
    from, until; current and upcoming), read when the stream opens and again when the desa's
    Plt periods change. Which of them count is decided at each notice, so a period that starts
    or ends while the page is open counts from that moment."""

    role: str
    periods: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def roles_at(self, now: datetime) -> set[str]:
        return {self.role} | {role for role, start, end in self.periods if start <= now < end}

    def concerned_by(self, change: Change, now: datetime) -> bool:
        # When unsure, tell: a needless notice costs a fetch, a missing one a stale inbox.
        return change.plt or not change.roles or not change.roles.isdisjoint(self.roles_at(now))


# What a stream receives: a change to tell its page of, or None (the service is stopping).
Notice = Change | None


class InboxFanout:
    """The SSE clients of this process, by desa, and the NATS subscription that feeds them."""

    def __init__(self) -> None:
        self._clients: dict[str, set[asyncio.Queue[Notice]]] = {}
        # Whose each stream is; a stream without a holder hears every change of its desa.
        self._holders: dict[asyncio.Queue[Notice], Holder] = {}
        self._subscription: Subscription | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def client_count(self, desa_code: str | None = None) -> int:
        if desa_code is not None:
            return len(self._clients.get(desa_code, ()))
        # A kecamatan's stream listens to several desa: count it once.
        return len({id(q) for c in self._clients.values() for q in c})

    async def start(self, nc: NATS) -> None:
        self._loop = asyncio.get_running_loop()
        self._subscription = await nc.subscribe(f"{INBOX_SUBJECT_PREFIX}.*", cb=self._on_message)

    async def _on_message(self, msg: Msg) -> None:
        desa_code = desa_of_subject(msg.subject)
        if desa_code is not None:
            self.notify_local(desa_code, Change.of_payload(msg.data))

    def notify_local(self, desa_code: str, change: Change = ANYONE) -> None:
        """Wake every stream of this process in `desa_code` whose holder `change` concerns."""
        now = utcnow()
        for queue in list(self._clients.get(desa_code, ())):
            if queue.full():
                continue  # it already has a change to fetch
            holder = self._holders.get(queue)
            if holder is None or holder.concerned_by(change, now):
                queue.put_nowait(change)

    @asynccontextmanager
    async def listen(
        self, *desa_codes: str, holder: Holder | None = None
    ) -> AsyncIterator[asyncio.Queue[Notice]]:
        """A queue of notices about any of `desa_codes` for one stream, for as long as it is
        open (a desa's inbox listens to its desa, a kecamatan's to every desa in it): those
        that concern `holder`, or all of them without one."""
        queue: asyncio.Queue[Notice] = asyncio.Queue(_QUEUE_SIZE + 1)
        if self._closed:
            queue.put_nowait(None)
        if holder is not None:
            self._holders[queue] = holder
        for desa_code in desa_codes:
            self._clients.setdefault(desa_code, set()).add(queue)
        try:
            yield queue
        finally:
            self._holders.pop(queue, None)
            for desa_code in desa_codes:
                clients = self._clients.get(desa_code)
                if clients is not None:
                    clients.discard(queue)
                    if not clients:
                        del self._clients[desa_code]

    def close(self) -> None:
        """Ends every stream (the service is stopping); safe to call from a signal handler's
        thread through `close_threadsafe`."""
        self._closed = True
        for clients in self._clients.values():
            for queue in clients:
                while queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)

    def close_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.close)
        else:
            self.close()

    async def stop(self) -> None:
        self.close()
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception:  # noqa: BLE001 (the connection may already be closing)
                log.debug("inbox subscription already gone")
            self._subscription = None


async def publish_inbox_changed(
    nc: NATS, desa_code: str, roles: Iterable[str] = (), *, plt: bool = False
) -> None:
    """After a commit: tell every replica that `desa_code`'s tasks changed, for `roles` (none:
    for anyone), or that its Plt periods did (`plt`). Best effort: a lost notice only delays an
    open page until its next refresh."""
    change = Change(plt=True) if plt else Change(frozenset(r for r in roles if r))
    try:
        await nc.publish(inbox_subject(desa_code), change.payload())
    except Exception:  # noqa: BLE001
        log.warning("could not publish an inbox notice", exc_info=True)
