"""The letter types as verification reads them from the kabupaten's one catalogue (signing's
gRPC CatalogueService, docs/letter-catalogue.md): their names for the staff pages, and each
type's default route, which a desa may replace with its own (routes.py). Verification keeps
no list of letter types.

Caching is common/catalogue_reader.py's: each version is kept for good, the current versions
`CURRENT_TTL_SECONDS`, and a type the cached list lacks (just published) re-reads it at once
(at most once a second), so the first workflow of a new type finds its route. Nothing older is
served once the list is out of date: a route is refused (Unavailable, 503, and the workflow's
route activity retries) rather than guessed. Names only label pages, so they fall back to the
type's code instead.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

from common.catalogue_reader import CURRENT_TTL_SECONDS, CatalogueReader
from common.domain.errors import Unavailable
from common.domain.letter_versions import parse_pinned
from services.verification.routes import LetterRoute, StepSpec

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
    definition: catalogue_pb2.LetterTypeDefinition  # the whole version (labels, syarat)


def known_type(message: catalogue_pb2.LetterTypeDefinition) -> KnownType:
    return KnownType(
        code=message.code,
        name=message.name,
        online=message.online,
        route=LetterRoute(
            steps=tuple(StepSpec(s.role, s.hours) for s in message.route_steps),
            signer_role=message.route_signer,
        ),
        definition=message,
    )


class Catalogue:
    """The catalogue as verification reads it: every type, through the shared reader
    (common/catalogue_reader.py: the caching), each as `known_type` makes it."""

    def __init__(
        self,
        stub: catalogue_pb2_grpc.CatalogueServiceStub,
        ttl_seconds: float = CURRENT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = CatalogueReader(
            stub, known_type, CatalogueUnavailable, ttl_seconds=ttl_seconds, clock=clock
        )

    def forget_current(self) -> None:
        """The next read asks signing again (after a publish made through this process)."""
        self._reader.forget_current()

    async def current(self) -> Mapping[str, KnownType]:
        """Every type's current version, by code in the catalogue's order; or
        CatalogueUnavailable."""
        return await self._reader.current()

    async def names(self) -> Mapping[str, str]:
        """Names by code for labelling pages; empty when the catalogue cannot be read (pages
        then show the code)."""
        try:
            return {code: t.name for code, t in (await self.current()).items()}
        except CatalogueUnavailable:
            return {}

    async def known(self, letter_type: str, template_version: str = "") -> KnownType | None:
        """The type's version `template_version` names (`<code>-v<n>`, with or without the
        desa's wording: what an application keeps), or its current version when it names none
        of this type; None if the catalogue has no such type or version. CatalogueUnavailable
        when signing does not answer."""
        pinned = parse_pinned(template_version)
        if pinned is not None and pinned.code == letter_type:
            return await self._reader.version(letter_type, pinned.version)
        return await self._reader.find(letter_type)

    async def definition(
        self, code: str, template_version: str = ""
    ) -> catalogue_pb2.LetterTypeDefinition | None:
        """The whole definition `known` finds; None also when signing does not answer (pages
        then show codes instead of labels)."""
        try:
            found = await self.known(code, template_version)
        except CatalogueUnavailable:
            return None
        return found.definition if found is not None else None
