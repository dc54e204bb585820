"""The Temporal client of intake and verification, built on first use.

temporalio (about 270 modules, 15-18 MB PSS a process) is imported then, not at start: an idle
service that has not yet started, decided or queried a workflow does without it
(docs/operations.md#memory-of-the-idle-stack). The client is built with `lazy=True`, so building
it never waits for the server; an unreachable server shows at the first call as the same error
the approval client already turns into "unavailable" (workflows/approval/client.py). The first
call after start pays the import (about 0.35 s of CPU); later calls share one client.
"""

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from temporalio.client import Client


def _import_temporal() -> None:
    import temporalio.client  # noqa: F401
    import temporalio.contrib.opentelemetry  # noqa: F401


class TemporalConnection:
    def __init__(self, address: str, namespace: str) -> None:
        self.address = address
        self.namespace = namespace
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, client: "Client") -> "TemporalConnection":
        """One around a client built already (tests, on their Temporal test server)."""
        connection = cls(client.service_client.config.target_host, client.namespace)
        connection._client = client
        return connection

    @property
    def started(self) -> bool:
        """Whether the client was built (and temporalio imported)."""
        return self._client is not None

    async def client(self) -> "Client":
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._connect()
        return self._client

    async def _connect(self) -> "Client":
        # Imported in a thread: the event loop goes on serving other requests meanwhile.
        await asyncio.to_thread(_import_temporal)
        from temporalio.client import Client

        from common.tracing import temporal_interceptors

        return await Client.connect(
            self.address,
            namespace=self.namespace,
            lazy=True,
            interceptors=temporal_interceptors(),
        )
