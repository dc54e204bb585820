"""The letter types as verification reads them from the kabupaten's one catalogue (signing's
gRPC CatalogueService, docs/letter-catalogue.md): their names for the staff pages, and each
type's default route, which a desa may replace with its own (routes.py). Verification keeps
no list of letter types.

The current versions are cached `CURRENT_TTL_SECONDS`: a type or route the kabupaten publishes
reaches the staff pages and new workflows within that time; a type the cached list lacks (just
published) re-reads it at once (`known`, at most once per `MISS_REFRESH_SECONDS`), so the first
workflow of a new type finds its route. Nothing older is served once it is
over: a route is refused (Unavailable, 503, and the workflow's route activity retries) rather
than guessed. Names only label pages, so they fall back to the type's code instead.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

from common.domain.errors import Unavailable
from common.domain.letter_versions import parse_pinned
from services.verification.routes import LetterRoute, StepSpec

log = logging.getLogger(__name__)

CURRENT_TTL_SECONDS = 10.0
# A code the cached list lacks re-reads it, but not more often than this.
MISS_REFRESH_SECONDS = 1.0
# Generous: the first read of a process parses every definition on signing's side.
LOOKUP_TIMEOUT_SECONDS = 10.0
CATALOGUE_UNAVAILABLE = (
    "Katalog jenis surat sedang tidak dapat dibaca karena layanan surat tidak dapat "
    "dihubungi. Tidak ada yang diubah; silakan coba lagi sebentar lagi."
)


class CatalogueUnavailable(Unavailable):
    def __init__(self) -> None:
        super().__init__("catalogue-unavailable", CATALOGUE_UNAVAILABLE)


@dataclass(frozen=True)
class KnownType:
    """What verification reads of one type's current catalogue version."""

    code: str
    name: str
    online: bool  # residents may request it (a desa offers it unless it switched it off)
    route: LetterRoute  # the kabupaten's default route


def known_type(message: catalogue_pb2.LetterTypeDefinition) -> KnownType:
    return KnownType(
        code=message.code,
        name=message.name,
        online=message.online,
        route=LetterRoute(
            steps=tuple(StepSpec(s.role, s.hours) for s in message.route_steps),
            signer_role=message.route_signer,
        ),
    )


class Catalogue:
    def __init__(
        self,
        stub: catalogue_pb2_grpc.CatalogueServiceStub,
        ttl_seconds: float = CURRENT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._ttl = ttl_seconds
        self._clock = clock
        self._current: dict[str, KnownType] | None = None
        self._current_at = 0.0
        self._missed_at = -MISS_REFRESH_SECONDS  # when a miss last re-read the list
        self._refreshing = asyncio.Lock()  # one read of the list at a time, not one per request
        # Published versions never change: each one read is kept for the process's life.
        self._versions: dict[tuple[str, int], catalogue_pb2.LetterTypeDefinition] = {}

    def forget_current(self) -> None:
        """The next read asks signing again (after a publish made through this process)."""
        self._current = None

    async def current(self) -> Mapping[str, KnownType]:
        """Every type's current version, by code in the catalogue's order; or
        CatalogueUnavailable."""
        async with self._refreshing:
            return await self._read_current()

    async def _read_current(self) -> Mapping[str, KnownType]:
        now = self._clock()
        if self._current is not None and now - self._current_at < self._ttl:
            return self._current
        try:
            response = await self._stub.ListLetterTypes(
                catalogue_pb2.ListCatalogueRequest(), timeout=LOOKUP_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("letter catalogue not read (signing: %s)", exc.code().name)
            raise CatalogueUnavailable() from exc
        self._current = {m.code: known_type(m) for m in response.letter_types}
        self._current_at = now
        return self._current

    async def names(self) -> Mapping[str, str]:
        """Names by code for labelling pages; empty when the catalogue cannot be read (pages
        then show the code)."""
        try:
            return {code: t.name for code, t in (await self.current()).items()}
        except CatalogueUnavailable:
            return {}

    async def known(self, letter_type: str) -> KnownType | None:
        found = (await self.current()).get(letter_type)
        if found is not None:
            return found
        async with self._refreshing:  # a type published a moment ago: read the list again
            # Limited from the last re-read a miss made, not from the last read: a list read
            # a moment before a publish must not hide the type just published.
            now = self._clock()
            if self._current is not None and now - self._missed_at < MISS_REFRESH_SECONDS:
                return self._current.get(letter_type)
            self._missed_at = now
            self._current = None
            return (await self._read_current()).get(letter_type)

    async def definition(
        self, code: str, template_version: str = ""
    ) -> catalogue_pb2.LetterTypeDefinition | None:
        """The version an application keeps (`<code>-v<n>`, its letter_type_version), or the
        current one when it names none; None when there is none or signing does not answer
        (pages then show codes instead of labels)."""
        pinned = parse_pinned(template_version)  # with the desa's wording or not
        version = pinned.version if pinned is not None and pinned.code == code else 0
        kept = self._versions.get((code, version)) if version else None
        if kept is not None:
            return kept
        try:
            found: catalogue_pb2.LetterTypeDefinition = await self._stub.GetLetterType(
                catalogue_pb2.GetLetterTypeRequest(code=code, version=version),
                timeout=LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("letter catalogue not read (signing: %s)", exc.code().name)
            return None
        if version:
            self._versions[(code, version)] = found
        return found
