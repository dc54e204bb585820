"""The letter types intake offers, read from the kabupaten's one catalogue: signing's gRPC
CatalogueService (docs/letter-catalogue.md). Intake keeps no list of its own; what it checks at
the door (fields, syarat, who may ask) is the catalogue's, converted here into
`letter_types.LetterType`.

Caching (common/catalogue_reader.py says why it is safe): each version is kept for good, the
list of current versions `CURRENT_TTL_SECONDS`, and a code the list lacks re-reads it at once
(at most once a second), so a type the kabupaten has just published is requestable at once.
An application keeps the version it started with (`LetterApplication.letter_type_version`), so
every later check of it reads that version. If signing does not answer once the list is out of
date, intake answers 503 with `CATALOGUE_UNAVAILABLE` rather than guess, and writes nothing.
"""

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping

import grpc
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.catalogue_reader import CURRENT_TTL_SECONDS, LOOKUP_TIMEOUT_SECONDS, CatalogueReader
from common.domain import field_values
from common.domain.errors import Unavailable
from common.domain.letter_versions import parse_pinned, with_wording
from services.intake.letter_types import FormField, LetterType, Requirement
from services.intake.models import LetterApplication
from services.intake.register_data import SUBJECT_LABELS

log = logging.getLogger(__name__)

CATALOGUE_UNAVAILABLE = (
    "Daftar jenis surat sedang tidak dapat dimuat karena layanan surat desa tidak dapat "
    "dihubungi. Tidak ada yang tersimpan; silakan coba lagi beberapa saat lagi."
)
# Coded choices written out (common.domain.field_values): a field whose choices are all codes
# of one of these is shown in those words ("P" -> "Perempuan").
_CHOICE_WORDS: tuple[Mapping[str, str], ...] = (field_values.SEX, field_values.MARITAL_STATUS)


class CatalogueUnavailable(Unavailable):
    def __init__(self) -> None:
        super().__init__("catalogue-unavailable", CATALOGUE_UNAVAILABLE)


def _choice_labels(choices: tuple[str, ...]) -> Mapping[str, str]:
    for words in _CHOICE_WORDS:
        if choices and set(choices) <= set(words):
            return words
    return {}


def letter_type_of(message: catalogue_pb2.LetterTypeDefinition) -> LetterType:
    """Intake's view of one catalogue version. Intake asks for the uploads the catalogue marks
    `wajib`; `opsional` and `bawa_asli` syarat are shown, labelled, not asked for."""
    return LetterType(
        code=message.code,
        name=message.name,
        description=message.description,
        requirements=tuple(
            Requirement(s.code, s.name, s.description) for s in message.syarat if s.kind == "wajib"
        ),
        syarat=tuple(Requirement(s.code, s.name, s.description, s.kind) for s in message.syarat),
        fields=tuple(
            FormField(
                name=f.name,
                label=f.label,
                required=f.required,
                kind=f.kind,  # type: ignore[arg-type]  # the catalogue checks the kinds
                max_length=f.max_length,
                choices=tuple(f.choices),
                hint=f.hint,
                choice_labels=_choice_labels(tuple(f.choices)),
            )
            for f in message.fields
        ),
        open_to_non_residents=message.non_residents,
        subject=SUBJECT_LABELS.get(message.code, ""),
        online=message.online,
        template_version=message.template_version,
    )


class Catalogue:
    """The catalogue as intake reads it: the online types, through the shared reader
    (common/catalogue_reader.py: the caching), each as `letter_type_of` makes it."""

    def __init__(
        self,
        stub: catalogue_pb2_grpc.CatalogueServiceStub,
        ttl_seconds: float = CURRENT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._reader = CatalogueReader(
            stub,
            letter_type_of,
            CatalogueUnavailable,
            online_only=True,
            ttl_seconds=ttl_seconds,
            clock=clock,
        )

    def forget_current(self) -> None:
        """The next read asks signing again (after a publish this process made, in tests)."""
        self._reader.forget_current()

    async def current(self) -> Mapping[str, LetterType]:
        """The current version of every type residents may request online, by code, in the
        catalogue's order."""
        return await self._reader.current()

    async def everything(self) -> dict[str, LetterType]:
        """The current version of every type, online or not (not cached: for the backfill)."""
        return await self._reader.everything()

    async def find(self, code: str) -> LetterType | None:
        """The current version of a type residents may request online; None if none is. A code
        the cached list lacks (a type published a moment ago) re-reads the list first."""
        return await self._reader.find(code)

    async def worded(self, letter_type: LetterType | None, desa_code: str) -> LetterType | None:
        """`letter_type` as a new application of `desa_code` keeps it: its template_version
        names the desa's current wording of the type too, if the desa has one
        (`SKD-v2-desa-32.13.11.2004-3`), so the letter is worded as when it started. Not
        cached: a wording the desa has just published applies to the next application."""
        if letter_type is None:
            return None
        try:
            found = await self._stub.ListDesaOverrides(
                catalogue_pb2.ListDesaOverridesRequest(
                    key=catalogue_pb2.LetterTypeDraftKey(code=letter_type.code, desa_code=desa_code)
                ),
                timeout=LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("desa wording not read (signing: %s)", exc.code().name)
            raise CatalogueUnavailable() from exc
        wording = found.current.version if found.current.body_json else 0
        pinned = with_wording(letter_type.template_version, desa_code, wording)
        if pinned == letter_type.template_version:
            return letter_type
        return dataclasses.replace(letter_type, template_version=pinned)

    async def version(self, template_version: str) -> LetterType | None:
        """The version `<code>-v<n>` an application keeps (with or without its desa's wording,
        which only the letter's text uses); None if the catalogue has none."""
        pinned = parse_pinned(template_version)
        if pinned is None:
            return None
        return await self._reader.version(pinned.code, pinned.version)

    async def of(self, application: LetterApplication) -> LetterType:
        """The version the application started with (its form, syarat and letter)."""
        pinned = application.letter_type_version
        found = await self.version(pinned) if pinned else await self.find(application.letter_type)
        if found is None:  # only catalogue versions are ever stored
            raise LookupError(f"letter type version {pinned!r} is not in the catalogue")
        return found


async def pin_unpinned(sessions: async_sessionmaker[AsyncSession], catalogue: Catalogue) -> int:
    """Gives every application stored before versions were recorded (letter_type_version "")
    the version current now, and its name: the backfill of migration 0014, run at start right
    after it. Returns how many were pinned; 0 and a warning if signing does not answer (the
    next start tries again; until then signing renders those from its current version)."""
    async with sessions() as session:
        unpinned = (
            await session.exec(
                select(LetterApplication.letter_type)
                .where(col(LetterApplication.letter_type_version) == "")
                .distinct()
            )
        ).all()
        if not unpinned:
            return 0
        try:
            current = await catalogue.everything()
        except CatalogueUnavailable:
            log.warning("applications not pinned to catalogue versions yet: signing did not answer")
            return 0
        pinned = 0
        for code in unpinned:
            message = current.get(code)
            if message is None:
                log.warning("letter type %s of stored applications is not in the catalogue", code)
                continue
            rows = (
                await session.exec(
                    select(LetterApplication)
                    .where(col(LetterApplication.letter_type) == code)
                    .where(col(LetterApplication.letter_type_version) == "")
                )
            ).all()
            for row in rows:
                row.letter_type_version = message.template_version
                row.letter_type_name = message.name
                session.add(row)
            pinned += len(rows)
        await session.commit()
    log.info("%d applications pinned to their letter type's current catalogue version", pinned)
    return pinned
