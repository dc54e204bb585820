"""The same letter end to end with every service on PostgreSQL (the production profile's
database): each service on its own freshly created database on the machine's server, its schema
made by the service's migrations at start. The databases are dropped afterwards."""

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine.url import make_url

from common.migrations import SERVICES, revisions
from scripts.journey import Journey
from tests.e2e.test_journey import Stack, StackRunner, one_letter_end_to_end
from tests.support.postgres import PostgresDatabases, run_in_thread

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def database_urls(postgres: PostgresDatabases) -> dict[str, str]:
    return {service: run_in_thread(postgres.create(f"e2e_{service}")) for service in SERVICES}


@pytest.fixture(scope="module")
def pg_stack(
    tmp_path_factory: pytest.TempPathFactory, database_urls: dict[str, str]
) -> Iterator[tuple[StackRunner, Stack]]:
    env = {
        f"SMARTDESA_{service.upper()}_DATABASE_URL": url for service, url in database_urls.items()
    }
    runner = StackRunner(tmp_path_factory.mktemp("e2e-pg") / "data", extra_env=env)
    stack = runner.start(1)
    try:
        yield runner, stack
    finally:
        StackRunner.ensure_stopped(stack)


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query)
        return rows
    finally:
        await conn.close()


def test_one_letter_end_to_end_on_postgresql(
    pg_stack: tuple[StackRunner, Stack], database_urls: dict[str, str]
) -> None:
    runner, stack = pg_stack
    journey = Journey(stack.endpoints)
    try:
        stored = one_letter_end_to_end(stack, journey)
    finally:
        journey.close()

    # It was PostgreSQL that held it all: no SQLite database was made, and each service's
    # database is at its newest revision with the letter's rows in it.
    assert not list(Path(runner.data_dir).glob("*.db"))
    for service, url in database_urls.items():
        version = run_in_thread(_fetch(url, "SELECT version_num FROM alembic_version"))
        assert [r["version_num"] for r in version] == [revisions(service)[-1]], service
    application = run_in_thread(
        _fetch(
            database_urls["intake"],
            f"SELECT status, letter_number FROM letter_application WHERE id = '{stored['app_id']}'",
        )
    )
    assert [tuple(r) for r in application] == [("issued", stored["letter"]["number"])]
    letters = run_in_thread(_fetch(database_urls["signing"], "SELECT number, status FROM letter"))
    assert [tuple(r) for r in letters] == [(stored["letter"]["number"], "valid")]
