"""Schema migrations (Alembic), one migration folder per service: `services/<svc>/migrations/`.

Every service upgrades its own database to the newest revision when it starts, in every
profile (SQLite in dev, PostgreSQL in production). A database made before migrations existed
(tables present, no `alembic_version`) is stamped at the first revision and then upgraded.

New revision after changing a service's models:  make migration SERVICE=intake MSG="..."
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from common.db import create_engine

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "verification", "signing", "notification")
VERSION_TABLE = "alembic_version"


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def service_metadata(tables: Sequence[type[SQLModel]]) -> MetaData:
    """Only this service's tables (all SQLModel tables share one metadata)."""
    metadata = MetaData()
    for model in tables:
        model.__table__.to_metadata(metadata)  # type: ignore[attr-defined]
    return metadata


def alembic_config(
    service: str, url: str | None = None, script_location: Path | None = None
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location or migrations_dir(service)))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a password may hold '%'.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        # Replicas starting together: one upgrades, the others wait and then find it done.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(config)})
    names = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in names and names:
        # Made by create_all before migrations existed: it equals the first revision.
        base = ScriptDirectory.from_config(config).get_base()
        assert base is not None
        log.info("stamping an unversioned database at revision %s", base)
        command.stamp(config, base)
    command.upgrade(config, revision)


def _lock_key(config: Config) -> int:
    service = str(config.attributes["service"])
    return int.from_bytes(hashlib.sha256(f"smartdesa-migrate-{service}".encode()).digest()[:7])


async def upgrade(
    engine: AsyncEngine,
    service: str,
    revision: str = "head",
    script_location: Path | None = None,
) -> None:
    """Bring the service's database to `revision` (the newest by default)."""
    config = alembic_config(service, script_location=script_location)
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table by copying it (batch mode) and dropping the old one, which
            # tables pointing at it would refuse. The pragma only works outside a transaction;
            # the references are checked again once the copies are in place.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        try:
            await conn.run_sync(_upgrade, config, revision)
            if sqlite:
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration broke references: {broken[:5]}")
            await conn.commit()
        finally:
            if sqlite:
                await conn.rollback()
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def revisions(service: str) -> list[str]:
    """The service's revisions, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(service))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def pending_model_changes(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    """What autogenerate would put in a new revision: empty when models and migrations agree."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True},
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


def run_env(tables: Sequence[type[SQLModel]], default_url: Callable[[], str]) -> None:
    """The body of every service's `migrations/env.py`. At start the service hands over its
    own connection; from the command line (`alembic -c ...`, `make migration`) the URL is the
    config's or, failing that, the service's settings."""
    from alembic import context

    metadata = service_metadata(tables)
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_migrations(connection, metadata)
        return
    url = config.get_main_option("sqlalchemy.url") or default_url()
    if context.is_offline_mode():  # `--sql`: print the SQL for a DBA instead of running it
        context.configure(
            url=url,
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    async def online() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_run_migrations, metadata)
        finally:
            await engine.dispose()

    asyncio.run(online())


def _run_migrations(connection: Connection, metadata: MetaData) -> None:
    from alembic import context

    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; the same scripts run unchanged on PostgreSQL.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
