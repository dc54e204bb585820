"""The kabupaten's letter catalogue as a reading service keeps it (signing's gRPC
CatalogueService, docs/letter-catalogue.md#how-the-services-read-it). Intake and verification
each wrap one reader and keep only their own view of a type (`convert`) and their own
Indonesian "cannot be read" error.

Caching, and why it is safe:
- A published version never changes (signing only adds versions), so each version read is
  kept for the life of the process (bounded by the catalogue's size times the versions in
  use). An application keeps the version it started with, so every later read of it hits.
- Which version is *current* changes when someone publishes: the list of current versions is
  kept `ttl_seconds` only, so a type the kabupaten publishes is listed within that time.
- A type published a moment ago is found at once: a code the cached list lacks re-reads the
  list (`find`), at most once per `MISS_REFRESH_SECONDS` counted from the last such re-read
  (not from the last read: a list read a moment before a publish must not hide the type just
  published), so made-up codes cannot flood signing. Chosen over a `catalogue.published`
  event: no event contract to keep, and freshness does not depend on NATS.
- Nothing stale is served once the TTL is over: if signing does not answer then, the reader
  raises the service's own Unavailable rather than guess.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import grpc
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

log = logging.getLogger(__name__)

CURRENT_TTL_SECONDS = 10.0
# A code the cached list lacks re-reads it, but not more often than this.
MISS_REFRESH_SECONDS = 1.0
# Generous: the first read of a process parses every definition on signing's side.
LOOKUP_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


class CatalogueReader(Generic[T]):
    """Current versions (briefly) and every version read (for good), each as `convert` makes
    it. `online_only`: the current list holds only the types residents may request online."""

    def __init__(
        self,
        stub: catalogue_pb2_grpc.CatalogueServiceStub,
        convert: Callable[[catalogue_pb2.LetterTypeDefinition], T],
        unavailable: Callable[[], Exception],
        *,
        online_only: bool = False,
        ttl_seconds: float = CURRENT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._convert = convert
        self._unavailable = unavailable
        self._online_only = online_only
        self._ttl = ttl_seconds
        self._clock = clock
        self._current: dict[str, T] | None = None
        self._current_at = 0.0
        self._missed_at = -MISS_REFRESH_SECONDS  # when a miss last re-read the list
        self._refreshing = asyncio.Lock()  # one read of the list at a time, not one per request
        self._versions: dict[tuple[str, int], T] = {}

    def forget_current(self) -> None:
        """The next read asks signing again (after a publish made through this process)."""
        self._current = None

    def _failed(self, exc: grpc.aio.AioRpcError) -> Exception:
        log.warning("letter catalogue not read (signing: %s)", exc.code().name)
        return self._unavailable()

    async def current(self) -> Mapping[str, T]:
        """The current version of every type (or every online one), by code, in the
        catalogue's order."""
        async with self._refreshing:
            return await self._read_current()

    async def _read_current(self) -> Mapping[str, T]:
        now = self._clock()
        if self._current is not None and now - self._current_at < self._ttl:
            return self._current
        try:
            response = await self._stub.ListLetterTypes(
                catalogue_pb2.ListCatalogueRequest(online_only=self._online_only),
                timeout=LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise self._failed(exc) from exc
        found = {m.code: self._kept(m) for m in response.letter_types}
        self._current, self._current_at = found, now
        return found

    def _kept(self, message: catalogue_pb2.LetterTypeDefinition) -> T:
        """The kept view of this version, converted only the first time it is seen: the list
        is read again every `ttl_seconds` and its versions rarely change."""
        key = (message.code, message.version)
        kept = self._versions.get(key)
        if kept is None:
            kept = self._versions[key] = self._convert(message)
        return kept

    async def find(self, code: str) -> T | None:
        """The current version of `code`; None if the catalogue (or its online part) has no
        such type. A code the cached list lacks re-reads the list first (see the docstring)."""
        found = (await self.current()).get(code)
        if found is not None:
            return found
        async with self._refreshing:
            now = self._clock()
            if self._current is not None and now - self._missed_at < MISS_REFRESH_SECONDS:
                return self._current.get(code)
            self._missed_at = now
            self._current = None
            return (await self._read_current()).get(code)

    async def version(self, code: str, version: int) -> T | None:
        """Version `version` of `code`, online or not; None if the catalogue has none (or
        `version` is not one: 0 would ask signing for the current one, which is `find`'s)."""
        if version < 1:
            return None
        found = self._versions.get((code, version))
        if found is not None:
            return found
        try:
            message = await self._stub.GetLetterType(
                catalogue_pb2.GetLetterTypeRequest(code=code, version=version),
                timeout=LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._failed(exc) from exc
        return self._versions.setdefault((code, version), self._convert(message))

    async def everything(self) -> dict[str, T]:
        """The current version of every type, online or not, read now (not cached)."""
        try:
            response = await self._stub.ListLetterTypes(
                catalogue_pb2.ListCatalogueRequest(), timeout=LOOKUP_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise self._failed(exc) from exc
        return {m.code: self._kept(m) for m in response.letter_types}
