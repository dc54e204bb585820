"""Schema migrations (Alembic), one migration folder per service: `services/<svc>/migrations/`.

Every service upgrades its own database to the newest revision when it starts, in every
profile (SQLite in dev, PostgreSQL in production). A database made before migrations existed
(tables present, no `alembic_version`) is stamped at the first revision and then upgraded.

New revision after changing a service's models:  make migration SERVICE=intake MSG="..."

Alembic (with Mako and Pygments, about 11 MB) is imported only when there is something to do:
a database already at the newest revision is recognised from the revision files alone. Each
service's `__main__` runs the upgrade in a short-lived child process (`python -m
common.migrations <service>`) before it starts, so the long-running service never loads Alembic.

Tests start services on new SQLite databases hundreds of times, and the whole chain costs about
0.3 s of CPU (more with Alembic's import) each time. With `SMARTDESA_MIGRATION_TEMPLATES` set
to a folder (tests/conftest.py sets it for the run), a new, empty SQLite database is instead
filled with a copy of one the real chain migrated once, per service and per content of its
migration files. Nothing else sets it.
"""

import asyncio
import fcntl
import hashlib
import importlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from common.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "verification", "signing", "notification")
VERSION_TABLE = "alembic_version"
TEMPLATES_ENV = "SMARTDESA_MIGRATION_TEMPLATES"


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
) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location or migrations_dir(service)))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a password may hold '%'.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def _upgrade(connection: Connection, config: "Config", revision: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

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


def _lock_key(config: "Config") -> int:
    service = str(config.attributes["service"])
    return int.from_bytes(hashlib.sha256(f"smartdesa-migrate-{service}".encode()).digest()[:7])


async def upgrade(
    engine: AsyncEngine,
    service: str,
    revision: str = "head",
    script_location: Path | None = None,
) -> None:
    """Bring the service's database to `revision` (the newest by default)."""
    if revision == "head":
        heads = _script_heads(script_location or migrations_dir(service))
        async with engine.connect() as conn:
            stored = await conn.run_sync(_stored_revisions)
        if heads is not None and stored == heads:
            return  # nothing to do, and Alembic stays unloaded
        templates = os.environ.get(TEMPLATES_ENV)
        if templates and script_location is None and heads is not None and not stored:
            if await _copy_template(engine, service, Path(templates), heads):
                return
    await _run_chain(engine, service, revision, script_location)


async def _run_chain(
    engine: AsyncEngine, service: str, revision: str, script_location: Path | None
) -> None:
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


def template_key(script_location: Path) -> str:
    """Names a migrated template by what made it: every .py file of the migration folder."""
    digest = hashlib.sha256()
    for path in sorted(script_location.rglob("*.py")):
        digest.update(path.relative_to(script_location).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


async def _copy_template(engine: AsyncEngine, service: str, folder: Path, heads: set[str]) -> bool:
    """Fill a new, empty SQLite database with a copy of the migrated template (made first if
    missing). False, and the database untouched, when this one is not such a database."""
    import aiosqlite

    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return False
    async with engine.connect() as conn:
        if await conn.run_sync(lambda c: inspect(c).get_table_names()):
            return False  # not new: the chain decides (an unversioned one is stamped first)
    template = await _template(service, folder)
    async with engine.connect() as conn:
        # SQLite's backup API writes the pages into the open connection, as a restore would.
        target = (await conn.get_raw_connection()).driver_connection
        assert isinstance(target, aiosqlite.Connection)
        async with aiosqlite.connect(template) as source:
            await source.backup(target)
        copied = await conn.run_sync(_stored_revisions)
    if copied != heads:
        raise RuntimeError(f"{service}: template {template} is at {copied}, not {heads}")
    return True


async def _template(service: str, folder: Path) -> Path:
    """The service's database migrated to head by the real chain, made once per state of its
    migration files; concurrent test processes wait for the one making it (a file lock)."""
    template, lock = await asyncio.to_thread(_claim_template, service, folder)
    if lock is None:
        return template
    try:
        building = template.with_suffix(f".{os.getpid()}.building")
        engine = create_engine(f"sqlite+aiosqlite:///{building}")
        try:
            await _run_chain(engine, service, "head", None)
        finally:
            await engine.dispose()  # the last connection checkpoints and removes the WAL
        await asyncio.to_thread(building.replace, template)
    finally:
        lock.close()  # releases the lock
    return template


def _claim_template(service: str, folder: Path) -> tuple[Path, TextIO | None]:
    """The template's path, and a held lock when this process is to make it."""
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / f"{service}-{template_key(migrations_dir(service))}.db"
    if template.exists():
        return template, None
    lock = template.with_suffix(".lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if template.exists():  # made while this process waited
        lock.close()
        return template, None
    for left in template.parent.glob(f"{template.stem}.*.building*"):
        left.unlink()  # from a process that died while making it
    return template, lock


# `revision: str = "0003"` and `down_revision: str | None = "0002"` in every revision file.
_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?\s*=\s*(.+)$", re.MULTILINE)


def _script_heads(script_location: Path) -> set[str] | None:
    """The newest revisions of a migration folder, read from its files without Alembic;
    None when a file is not in the simple form (then Alembic decides, as always)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (script_location / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(text)
        down = _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down[0]))
    heads = revisions - parents
    return heads or None


def _stored_revisions(connection: Connection) -> set[str]:
    if VERSION_TABLE not in inspect(connection).get_table_names():
        return set()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return {str(row[0]) for row in rows}


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def revisions(service: str) -> list[str]:
    """The service's revisions, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(service))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def pending_model_changes(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    """What autogenerate would put in a new revision: empty when models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

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


def database_url(service: str) -> str:
    """The service's database, from its own settings (as its runtime opens it)."""
    settings = importlib.import_module(f"services.{service}.config").get_settings()
    url = settings.intake_db_url if service == "intake" else settings.database_url
    return str(url)


async def _upgrade_service(service: str) -> None:
    engine = create_engine(database_url(service))
    try:
        await upgrade(engine, service)
    finally:
        await engine.dispose()


def upgrade_in_child(service: str) -> None:
    """For a service's `__main__`: the upgrade in a child process that exits afterwards, so
    the service finds its database at the newest revision and never imports Alembic."""
    done = subprocess.run([sys.executable, "-m", "common.migrations", service], check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{service}: schema migration failed (exit code {done.returncode})")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SERVICES:
        raise SystemExit(f"usage: python -m common.migrations {{{','.join(SERVICES)}}}")
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_upgrade_service(sys.argv[1]))
