"""Database engine and sessions (async SQLAlchemy under SQLModel). SQLite in dev, PostgreSQL in
production; each service has its own database."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from common.sqlite_driver import one_call_dbapi


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: a database error's text (logged with its traceback) leaves out the row's
    # values, which may be a resident's NIK, name or phone number.
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        hide_parameters=True,
        # aiosqlite with one thread hand-over per statement instead of three or four.
        module=one_call_dbapi() if parsed.drivername == "sqlite+aiosqlite" else None,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


async def create_tables(engine: AsyncEngine, tables: Sequence[type[SQLModel]]) -> None:
    """Create these tables as the models stand (only these: every service's models share one
    metadata). For tests; the services' databases get their schema from their Alembic
    migrations (common/migrations.py)."""
    table_objs: list[Table] = [t.__table__ for t in tables]  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=table_objs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
