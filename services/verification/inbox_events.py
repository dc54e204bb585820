"""Telling open inbox pages that a desa's tasks changed, across every verification replica.

The task projection (one durable JetStream consumer shared by the replicas, so only one replica
applies each event) publishes a small core-NATS notice after it commits a change; every replica
subscribes and passes the notice on to the server-sent-event streams of its own clients in that
desa, which then fetch the list again. The notice carries the desa code and nothing else: no
application, NIK, name or phone travels this way.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

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


# What a stream receives: a desa's tasks changed, or None (the service is stopping).
Notice = str | None


class InboxFanout:
    """The SSE clients of this process, by desa, and the NATS subscription that feeds them."""

    def __init__(self) -> None:
        self._clients: dict[str, set[asyncio.Queue[Notice]]] = {}
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
            self.notify_local(desa_code)

    def notify_local(self, desa_code: str) -> None:
        """Wake every stream of this process in `desa_code`."""
        for queue in list(self._clients.get(desa_code, ())):
            if queue.full():
                continue  # it already has a change to fetch
            queue.put_nowait(desa_code)

    @asynccontextmanager
    async def listen(self, *desa_codes: str) -> AsyncIterator[asyncio.Queue[Notice]]:
        """A queue of notices about any of `desa_codes` for one stream, for as long as it is
        open (a desa's inbox listens to its desa, a kecamatan's to every desa in it)."""
        queue: asyncio.Queue[Notice] = asyncio.Queue(_QUEUE_SIZE + 1)
        if self._closed:
            queue.put_nowait(None)
        for desa_code in desa_codes:
            self._clients.setdefault(desa_code, set()).add(queue)
        try:
            yield queue
        finally:
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


async def publish_inbox_changed(nc: NATS, desa_code: str) -> None:
    """After a commit: tell every replica that `desa_code`'s tasks changed. Best effort: a lost
    notice only delays an open page until its next refresh."""
    try:
        await nc.publish(inbox_subject(desa_code), b"")
    except Exception:  # noqa: BLE001
        log.warning("could not publish an inbox notice", exc_info=True)
