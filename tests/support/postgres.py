"""Uniquely named databases on the machine's PostgreSQL (127.0.0.1:5432, trust auth), made for
a test session and dropped after it: other people's tests use the same server."""

import asyncio
import os
import uuid
import warnings
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine.url import make_url

T = TypeVar("T")

# A DROP DATABASE (which ends the database's sessions first) that takes longer is given up.
DROP_SECONDS = 60.0

ADMIN_DSN = os.environ.get(
    "SMARTDESA_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


class PostgresDatabases:
    def __init__(self, admin_dsn: str = ADMIN_DSN) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"smartdesa_t{uuid.uuid4().hex[:10]}"
        self.created: list[str] = []

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.admin_dsn, timeout=5)

    async def create(self, name: str) -> str:
        """A fresh, empty database; returns its SQLAlchemy async URL."""
        database = f"{self.prefix}_{name}"
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        self.created.append(database)
        url = make_url(self.admin_dsn).set(drivername="postgresql+asyncpg", database=database)
        return url.render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        conn = await self._admin()
        try:
            for database in self.created:
                try:
                    await conn.execute(
                        f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', timeout=DROP_SECONDS
                    )
                except TimeoutError:
                    warnings.warn(
                        f"dropping {database} did not finish within {DROP_SECONDS}s (a lock "
                        "held by another session?); it is left behind",
                        stacklevel=1,
                    )
        finally:
            await conn.close()
        self.created.clear()


async def engine_url(request: pytest.FixtureRequest, folder: Path, name: str) -> str:
    """A fresh database's URL for a fixture parametrised over "sqlite" and "postgresql": a file
    in `folder`, or a new database on the machine's PostgreSQL (the `postgres` fixture)."""
    if request.param == "postgresql":
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        return await postgres.create(f"{name}_{uuid.uuid4().hex[:8]}")
    return f"sqlite+aiosqlite:///{folder / f'{name}.db'}"


async def reachable(admin_dsn: str = ADMIN_DSN) -> bool:
    try:
        conn = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def skip_or_fail_unreachable() -> None:
    """Where the machine has no PostgreSQL: skip locally; in CI a missing server is a failure."""
    message = f"PostgreSQL not reachable at {ADMIN_DSN}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a loop of its own, outside the tests' event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
