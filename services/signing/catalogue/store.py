"""The published versions of the kabupaten's letter types (table `letter_type_version`).

- Publishing a definition that differs from the type's current version adds version n+1; the
  same definition again publishes nothing (idempotent). Versions are never changed or deleted.
- The repository's seed files are published at start (`sync_seed`) as "seed": a new type gets
  version 1, and a changed seed file a new version, unless a kabupaten operator has published
  the type since: their version stands, and the changed file is logged, not applied.
- A letter records `<code>-v<version>` (Letter.template_version) and can be rendered again from
  `definition_for_letter`. Letters issued before the catalogue recorded the old template's
  version (e.g. "SKD-2026.2"); version 1 of each seed type prints the same letter, so they map
  to version 1.
"""

import logging
import re
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.signing.catalogue.definition import LetterTypeDef, from_json
from services.signing.models import LetterTypeVersion, utcnow

log = logging.getLogger(__name__)

SEED_PUBLISHER = "seed"
_RECORDED = re.compile(r"(?P<code>[A-Z][A-Z0-9_]*)-v(?P<version>\d+)")
# Versions never change, so each is parsed (and checked) once per process; keyed by content,
# so two databases (tests, a restored backup) can never be mixed up.
_parsed: dict[tuple[str, int], LetterTypeDef] = {}


def _definition(row: LetterTypeVersion) -> LetterTypeDef:
    key = (row.sha256, row.version)
    found = _parsed.get(key)
    if found is None:
        found = _parsed[key] = from_json(row.definition_json, row.version)
    return found


async def _latest_row(session: AsyncSession, code: str) -> LetterTypeVersion | None:
    query = (
        select(LetterTypeVersion)
        .where(col(LetterTypeVersion.code) == code)
        .order_by(col(LetterTypeVersion.version).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def current(session: AsyncSession, code: str) -> LetterTypeDef | None:
    """The type's published version that new letters use (None: no such type)."""
    row = await _latest_row(session, code)
    return _definition(row) if row is not None else None


async def get_version(session: AsyncSession, code: str, version: int) -> LetterTypeDef | None:
    row = await session.get(LetterTypeVersion, (code, version))
    return _definition(row) if row is not None else None


async def list_current(session: AsyncSession) -> list[LetterTypeDef]:
    """The current version of every type, by code."""
    rows = (
        await session.exec(
            select(LetterTypeVersion).order_by(
                col(LetterTypeVersion.code), col(LetterTypeVersion.version)
            )
        )
    ).all()
    latest: dict[str, LetterTypeVersion] = {}
    for row in rows:
        latest[row.code] = row
    return [_definition(row) for row in latest.values()]


async def published_by(session: AsyncSession, code: str, version: int) -> tuple[str, str]:
    """(who, when as ISO) a version was published; ("", "") when there is none."""
    row = await session.get(LetterTypeVersion, (code, version))
    return (row.published_by, row.published_at.isoformat()) if row is not None else ("", "")


def recorded_version(template_version: str) -> tuple[str, int] | None:
    """(code, version) from what a letter recorded; version 1 for the templates before."""
    match = _RECORDED.fullmatch(template_version)
    if match:
        return match["code"], int(match["version"])
    code = template_version.split("-", 1)[0]
    return (code, 1) if code else None


async def definition_for_letter(
    session: AsyncSession, template_version: str
) -> LetterTypeDef | None:
    recorded = recorded_version(template_version)
    return await get_version(session, *recorded) if recorded else None


async def publish(
    session: AsyncSession, definition: LetterTypeDef, publisher: str
) -> tuple[LetterTypeDef, bool]:
    """Publishes `definition` as the type's next version; (the current version, whether a new
    one was made). Commits. A concurrent publish of the same type makes one of them fail with
    IntegrityError (the caller may try again)."""
    latest = await _latest_row(session, definition.code)
    digest = definition.digest
    if latest is not None and latest.sha256 == digest:
        return _definition(latest), False
    row = LetterTypeVersion(
        code=definition.code,
        version=(latest.version + 1) if latest is not None else 1,
        definition_json=definition.to_json(),
        sha256=digest,
        published_at=utcnow(),
        published_by=publisher,
    )
    session.add(row)
    await session.commit()
    log.info("letter type %s version %d published by %s", row.code, row.version, publisher)
    return _definition(row), True


async def sync_seed(
    sessions: async_sessionmaker[AsyncSession], seed: Mapping[str, LetterTypeDef]
) -> list[str]:
    """Publishes the seed files that are new or changed (see the module's docstring); returns
    the codes that got a new version. Safe with several replicas starting at once."""
    published: list[str] = []
    for code, definition in seed.items():
        async with sessions() as session:
            latest = await _latest_row(session, code)
            if latest is not None and latest.sha256 == definition.digest:
                continue
            if latest is not None and latest.published_by != SEED_PUBLISHER:
                log.warning(
                    "seed file of letter type %s changed, but version %d was published by an "
                    "operator: left as it is",
                    code,
                    latest.version,
                )
                continue
            try:
                _, made = await publish(session, definition, SEED_PUBLISHER)
            except IntegrityError:  # another replica published it first
                await session.rollback()
                continue
            if made:
                published.append(code)
    return published
