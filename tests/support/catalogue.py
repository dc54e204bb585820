"""The kabupaten's letter catalogue as the other services read it in tests: signing's real
CatalogueService (services/signing/catalogue) on a SQLite database of its own, seeded from the
repository's seed files, served over real gRPC behind the internal-token check.

Seeding 42 types takes a moment, so it happens once per test process into a template file;
each test serves its own copy (a test may publish a version without touching another's).
"""

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import grpc
from smartdesa.v1 import catalogue_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.config import CommonSettings
from common.db import create_engine, session_factory
from common.rpc import SIGNING, GrpcServer
from common.secrets import ensure_dev_secrets
from services.intake.catalogue import letter_type_of
from services.intake.letter_types import LetterType
from services.signing.catalogue import store
from services.signing.catalogue.definition import LetterTypeDef, load_seed
from services.signing.catalogue.servicer import SERVICE_NAME, CatalogueServicer, definition_message
from services.signing.models import LetterTypeDraft, LetterTypeOverride, LetterTypeVersion

SEED: dict[str, LetterTypeDef] = load_seed()


@cache
def seed_letter_types() -> dict[str, LetterType]:
    """The seed catalogue as intake reads it (version 1 of every online type), through the
    same conversion as the served one: for tests that check forms without a server."""
    return {
        code: letter_type_of(definition_message(d, None)) for code, d in SEED.items() if d.online
    }


def seed_letter_type(code: str) -> LetterType:
    return seed_letter_types()[code]


async def _seed_into(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                SQLModel.metadata.create_all,
                # The versions, and the desa's wordings intake reads when an application starts.
                tables=[
                    LetterTypeVersion.__table__,  # type: ignore[attr-defined]
                    LetterTypeOverride.__table__,  # type: ignore[attr-defined]
                    LetterTypeDraft.__table__,  # type: ignore[attr-defined]
                ],
            )
        await store.sync_seed(session_factory(engine), SEED)
    finally:
        await engine.dispose()


# The seeded template of this process, per template directory (one per test session).
_templates: dict[Path, Path] = {}


async def seeded_copy(template_dir: Path, path: Path) -> None:
    """A fresh copy of the seeded catalogue database at `path`."""
    template = _templates.get(template_dir)
    if template is None:
        template = template_dir / "catalogue-template.db"
        await _seed_into(template)
        _templates[template_dir] = template
    await asyncio.to_thread(shutil.copyfile, template, path)


@dataclass
class CatalogueServer:
    sessions: async_sessionmaker[AsyncSession]
    server: GrpcServer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@asynccontextmanager
async def serve_catalogue(
    settings: CommonSettings, template_dir: Path, path: Path
) -> AsyncIterator[CatalogueServer]:
    """Signing's CatalogueService on a seeded copy at `path`, as signing serves it (its
    audience, the settings' internal-token key)."""
    await seeded_copy(template_dir, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    ensure_dev_secrets(settings)

    def add(server: grpc.aio.Server) -> None:
        catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(
            CatalogueServicer(sessions), server
        )

    server = GrpcServer(
        "127.0.0.1:0", InternalAuth.from_settings(settings, SIGNING), [SERVICE_NAME], add
    )
    await server.start()
    try:
        yield CatalogueServer(sessions=sessions, server=server)
    finally:
        await server.stop(0)
        await engine.dispose()
