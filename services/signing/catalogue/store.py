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
- A desa's wording of a type's body (`letter_type_override`, docs/letter-catalogue.md#desa-wording)
  is applied to the type's version at issue (`for_desa`); the letter records both
  (`SKD-v2-desa-32.13.11.2004-3`) and renders again from them.
- The editor's drafts (`letter_type_draft`) are kept as typed until published or discarded.
"""

import hashlib
import json
import logging
import re
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.signing.catalogue.definition import (
    Block,
    CatalogueError,
    LetterTypeDef,
    body_json,
    from_json,
    parse_body,
    with_body,
)
from services.signing.models import (
    LetterTypeDraft,
    LetterTypeOverride,
    LetterTypeVersion,
    utcnow,
)

log = logging.getLogger(__name__)

SEED_PUBLISHER = "seed"
_RECORDED = re.compile(
    r"(?P<code>[A-Z][A-Z0-9_]*)-v(?P<version>\d+)"
    r"(-desa-(?P<desa>[0-9A-Za-z.]+)-(?P<override>\d+))?"
)
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


def recorded_override(template_version: str) -> tuple[str, int] | None:
    """(desa, override version) a letter recorded, None when it used the kabupaten's wording."""
    match = _RECORDED.fullmatch(template_version)
    if match and match["desa"]:
        return match["desa"], int(match["override"])
    return None


async def definition_for_letter(
    session: AsyncSession, template_version: str
) -> LetterTypeDef | None:
    """The definition a letter was rendered from, with the desa's wording it used, if any."""
    recorded = recorded_version(template_version)
    if recorded is None:
        return None
    base = await get_version(session, *recorded)
    override = recorded_override(template_version)
    if base is None or override is None:
        return base
    row = await session.get(LetterTypeOverride, (override[0], base.code, override[1]))
    if row is None or not row.body_json:
        return None
    return _with_override(base, row)


# --- a desa's wording ---------------------------------------------------------------------------

_combined: dict[tuple[str, int, str], LetterTypeDef] = {}


def _with_override(base: LetterTypeDef, row: LetterTypeOverride) -> LetterTypeDef:
    key = (base.digest, base.version, f"{row.desa_code}/{row.version}/{row.sha256}")
    found = _combined.get(key)
    if found is None:
        body = parse_body(json.loads(row.body_json))
        found = _combined[key] = with_body(base, body, row.desa_code, row.version)
    return found


async def current_override(
    session: AsyncSession, desa_code: str, code: str
) -> LetterTypeOverride | None:
    query = (
        select(LetterTypeOverride)
        .where(
            col(LetterTypeOverride.desa_code) == desa_code,
            col(LetterTypeOverride.code) == code,
        )
        .order_by(col(LetterTypeOverride.version).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def override_history(
    session: AsyncSession, desa_code: str, code: str
) -> list[LetterTypeOverride]:
    query = (
        select(LetterTypeOverride)
        .where(
            col(LetterTypeOverride.desa_code) == desa_code,
            col(LetterTypeOverride.code) == code,
        )
        .order_by(col(LetterTypeOverride.version).desc())
    )
    return list((await session.exec(query)).all())


async def desa_wordings(
    session: AsyncSession, desa_code: str
) -> list[tuple[LetterTypeOverride, bool]]:
    """The desa's current own wording of each type that has one (a wording withdrawn back to
    the kabupaten's is left out), by code, and whether it fits the type's current version
    (`for_desa` uses it) or falls back to the kabupaten's."""
    rows = (
        await session.exec(
            select(LetterTypeOverride)
            .where(col(LetterTypeOverride.desa_code) == desa_code)
            .order_by(col(LetterTypeOverride.code), col(LetterTypeOverride.version))
        )
    ).all()
    latest: dict[str, LetterTypeOverride] = {}
    for row in rows:
        latest[row.code] = row
    current = {d.code: d for d in await list_current(session)}
    found: list[tuple[LetterTypeOverride, bool]] = []
    for code, row in latest.items():
        definition = current.get(code)
        if not row.body_json or definition is None:
            continue
        try:
            _with_override(definition, row)
        except CatalogueError:
            found.append((row, False))
        else:
            found.append((row, True))
    return found


async def for_desa(
    session: AsyncSession, definition: LetterTypeDef, desa_code: str
) -> LetterTypeDef:
    """The definition a letter of `desa_code` is rendered from: the desa's current wording of
    the body, if it has one that still fits the type (its placeholders are still fields of this
    version), else the kabupaten's."""
    row = await current_override(session, desa_code, definition.code)
    if row is None or not row.body_json:
        return definition
    try:
        return _with_override(definition, row)
    except CatalogueError as exc:
        # The kabupaten changed the type since (e.g. removed a field the wording names): its
        # own wording is used until the desa publishes its wording again (the desa's page says
        # which version the wording was written for).
        log.warning(
            "override %d of %s by desa %s no longer fits version %d: %s",
            row.version,
            definition.code,
            desa_code,
            definition.version,
            exc,
        )
        return definition


async def with_pinned_wording(
    session: AsyncSession, definition: LetterTypeDef, template_version: str
) -> LetterTypeDef:
    """`definition` with the desa's wording an application started with, which its version
    names (`SKD-v2-desa-32.13.11.2004-3`); the kabupaten's wording when it names none, and
    (logged) when that wording does not fit this version."""
    override = recorded_override(template_version)
    if override is None:
        return definition
    row = await session.get(LetterTypeOverride, (override[0], definition.code, override[1]))
    if row is None or not row.body_json:
        log.warning("wording %s of %s is not in the catalogue", override, definition.code)
        return definition
    try:
        return _with_override(definition, row)
    except CatalogueError as exc:
        log.warning(
            "override %d of %s by desa %s does not fit version %d: %s",
            row.version,
            definition.code,
            row.desa_code,
            definition.version,
            exc,
        )
        return definition


async def publish_override(
    session: AsyncSession,
    desa_code: str,
    base: LetterTypeDef,
    body: tuple[Block, ...] | None,
    publisher: str,
) -> tuple[LetterTypeOverride, bool]:
    """Publishes a desa's wording of `base`'s body (None: back to the kabupaten's) as its next
    override version; the same wording again publishes nothing. Checked against `base`
    (CatalogueError). Commits."""
    text = ""
    if body is not None:
        with_body(base, body, desa_code, 0)  # refuses what does not fit the type
        text = body_json(body)
    latest = await current_override(session, desa_code, base.code)
    if latest is None and not text:
        raise CatalogueError("Desa ini belum punya kata-kata sendiri untuk jenis surat ini.")
    if latest is not None and latest.body_json == text and latest.base_version == base.version:
        return latest, False
    row = LetterTypeOverride(
        desa_code=desa_code,
        code=base.code,
        version=(latest.version + 1) if latest is not None else 1,
        base_version=base.version,
        body_json=text,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        published_at=utcnow(),
        published_by=publisher,
    )
    session.add(row)
    await session.commit()
    log.info(
        "override %d of letter type %s for desa %s published by %s",
        row.version,
        row.code,
        desa_code,
        publisher,
    )
    return row, True


# --- the editor's drafts and history ------------------------------------------------------------


async def versions(session: AsyncSession, code: str) -> list[LetterTypeVersion]:
    """Every published version of a type, newest first."""
    query = (
        select(LetterTypeVersion)
        .where(col(LetterTypeVersion.code) == code)
        .order_by(col(LetterTypeVersion.version).desc())
    )
    return list((await session.exec(query)).all())


async def get_draft(session: AsyncSession, code: str, desa_code: str) -> LetterTypeDraft | None:
    return await session.get(LetterTypeDraft, (code, desa_code))


async def save_draft(
    session: AsyncSession, code: str, desa_code: str, draft_json: str, saved_by: str
) -> LetterTypeDraft | None:
    """Keeps the draft as typed (an empty one discards it). Commits."""
    row = await session.get(LetterTypeDraft, (code, desa_code))
    if not draft_json:
        if row is not None:
            await session.delete(row)
            await session.commit()
        return None
    if row is None:
        row = LetterTypeDraft(code=code, desa_code=desa_code, draft_json=draft_json, saved_by="")
    row.draft_json, row.saved_by, row.saved_at = draft_json, saved_by, utcnow()
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


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
