"""A database of our own on the machine's PostgreSQL server (127.0.0.1:5432, trust auth), made
for one test and dropped after it: other test sessions use the same server."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.support.postgres import ADMIN_DSN as SERVER
from tests.support.postgres import skip_or_fail_unreachable


@asynccontextmanager
async def fresh_database(label: str) -> AsyncIterator[str]:
    """Yields the SQLAlchemy (asyncpg) URL of a new, empty database."""
    try:
        admin = await asyncpg.connect(SERVER, timeout=10)
    except (OSError, asyncpg.PostgresError):
        skip_or_fail_unreachable()  # in CI a missing server fails instead of skipping
    name = f"smartdesa_{label}_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
