"""Database engine and sessions (async SQLAlchemy under SQLModel). SQLite in dev, PostgreSQL in
production; each service has its own database."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, event, inspect, literal, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


async def create_tables(engine: AsyncEngine, tables: Sequence[type[SQLModel]]) -> None:
    """Create this service's tables (only these: every service's models share one metadata)."""
    table_objs: list[Table] = [t.__table__ for t in tables]  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=table_objs)
        await conn.run_sync(_add_missing_columns, table_objs)


def _add_missing_columns(conn: Connection, tables: list[Table]) -> None:
    """Columns a model gained since its table was created are added, with their default, so a
    database from an earlier version keeps working. Anything beyond adding a column (renames,
    type changes) needs a real migration."""
    inspector = inspect(conn)
    preparer = conn.dialect.identifier_preparer
    for table in tables:
        existing = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in existing:
                continue
            ddl = (
                f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN "
                f"{preparer.format_column(column)} {column.type.compile(dialect=conn.dialect)}"
            )
            default = column.default
            if isinstance(default, ScalarElementColumnDefault):
                value = literal(default.arg, type_=column.type).compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                ddl += f" DEFAULT {value}" + ("" if column.nullable else " NOT NULL")
            elif not column.nullable:
                raise RuntimeError(
                    f"column {table.name}.{column.name} is new and has no default: "
                    "migrate the database (or, in dev, remove it with `make clean-data`)"
                )
            conn.execute(text(ddl))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
