"""Fixtures: verification running in-process (its lifespan, real SQLite, real NATS, real
Temporal dev server, its gRPC server on a free port) beside a real gRPC intake peer."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from smartdesa.v1 import intake_pb2_grpc
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, GrpcServer
from common.secrets import ensure_dev_secrets
from services.verification.config import Settings
from services.verification.main import create_app
from services.verification.runtime import Runtime
from tests.support.catalogue import CatalogueServer
from tests.verification.intake_peer import IntakePeer

PASSWORD = "sandi-uji-coba"


@pytest.fixture
def base_settings(data_dir: Path, nats_url: str, temporal_env: WorkflowEnvironment) -> Settings:
    settings = Settings(
        profile="dev",
        data_dir=data_dir,
        nats_url=nats_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        verification_grpc_port=0,
        demo_password=PASSWORD,
        decision_timeout_seconds=10,
    )
    ensure_dev_secrets(settings)  # the intake peer needs the internal-token secret
    return settings


@pytest.fixture
async def intake_peer(
    base_settings: Settings, js: JetStreamContext
) -> AsyncIterator[tuple[IntakePeer, int]]:
    peer = IntakePeer(js)
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(base_settings, INTAKE),
        ["smartdesa.v1.IntakeService"],
        lambda s: intake_pb2_grpc.add_IntakeServiceServicer_to_server(peer, s),
    )
    await server.start()
    try:
        yield peer, server.port
    finally:
        await server.stop(0)


@pytest.fixture
def settings(
    base_settings: Settings, intake_peer: tuple[IntakePeer, int], catalogue: CatalogueServer
) -> Settings:
    # Signing answers as the letter catalogue (its CatalogueService) on a port of its own.
    return base_settings.model_copy(
        update={
            "intake_grpc_target": f"127.0.0.1:{intake_peer[1]}",
            "catalogue_grpc_target": catalogue.target,
        }
    )


@dataclass
class Service:
    app: FastAPI
    http: httpx.AsyncClient
    intake: IntakePeer

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = await self.http.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def service(
    settings: Settings, intake_peer: tuple[IntakePeer, int]
) -> AsyncIterator[Service]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Service(app=app, http=http, intake=intake_peer[0])
