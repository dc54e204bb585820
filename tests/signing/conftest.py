"""Fixtures for the signing service: the app running in-process on a fresh data folder (real
SQLite, real dev PKI, real gRPC server on a loopback port), a sample request, and the staff
accounts signing checks staff tokens against (verification's real DirectoryService)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from smartdesa.v1 import catalogue_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth, staff_token_issuer
from common.db import create_engine, session_factory
from common.migrations import upgrade
from common.rpc import SIGNING, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.signing.config import Settings
from services.signing.issuing import IssueRequest
from services.signing.main import create_app
from services.signing.runtime import Runtime
from services.verification import servicer as directory_servicer
from services.verification.accounts import principal_of
from services.verification.catalogue import Catalogue
from services.verification.models import Staff
from tests.support.processes import free_port

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"
# Typst markup, a closing bracket, a quote and a backslash: must come out printed as is.
INJECTION = '#set page(fill: red) ] " \\ *bold*'
PUBLIC_URL = "https://verifikasi.example.test"


def make_settings(data_dir: Path, nats_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "profile": "dev",
        "data_dir": data_dir,
        "nats_url": nats_url,
        "signing_workers": 0,  # sign in a thread; the process pool has its own test
        "signing_grpc_host": "127.0.0.1",
        "signing_grpc_port": 0,
        "signing_database_url": None,
        "signing_pki_dir": None,
        "public_verification_url": PUBLIC_URL,
        **overrides,
    }
    return Settings.model_validate(values)


def skd_request(
    application_id: str, desa_code: str = PAMANUKAN, **changes: str | bool
) -> IssueRequest:
    values: dict[str, Any] = {
        "application_id": application_id,
        "desa_code": desa_code,
        "letter_type": "SKD",
        "purpose": "Persyaratan melamar pekerjaan",
        "nik": "3213115705900001",
        "signer_role": "kades",
        **changes,
    }
    return IssueRequest(
        fields={
            "nama": "Siti Aminah",
            "tempat_lahir": "Subang",
            "tanggal_lahir": "1990-05-17",
            "jenis_kelamin": "P",
            "agama": "Islam",
            "pekerjaan": "Pedagang",
            "alamat": "Dusun Krajan RT 001/RW 002",
        },
        **values,
    )


@dataclass
class RunningSigning:
    runtime: Runtime
    http: httpx.AsyncClient

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


@pytest.fixture
def settings(data_dir: Path, nats_url: str) -> Settings:
    return make_settings(data_dir, nats_url)


@pytest.fixture
async def signing(settings: Settings) -> AsyncIterator[RunningSigning]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningSigning(app.state.runtime, client)


@dataclass
class StaffDirectory:
    """Verification's DirectoryService (the real servicer, on its own migrated database) holding
    the staff accounts whose tokens a test sends to signing."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def account(self, username: str, role: str, desa_code: str) -> Staff:
        async with self.sessions() as session:
            staff = (await session.exec(select(Staff).where(Staff.username == username))).first()
            if staff is None:
                # Never signed in with: the tokens are issued here.
                staff = Staff(username=username, password_hash="!", role=role, desa_code=desa_code)
                session.add(staff)
                await session.commit()
            return staff

    async def headers(self, username: str, role: str, desa_code: str) -> dict[str, str]:
        """A bearer token of this (active) account, as verification issues it."""
        staff = await self.account(username, role, desa_code)
        token = staff_token_issuer(self.settings, 600).issue(principal_of(staff))
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def staff_directory(data_dir: Path, nats_url: str) -> AsyncIterator[StaffDirectory]:
    settings = make_settings(data_dir, nats_url)
    ensure_dev_secrets(settings)
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'verification-directory.db'}")
    await upgrade(engine, "verification")
    sessions = session_factory(engine)
    auth = InternalAuth.from_settings(settings, VERIFICATION)
    # Routes are not asked here (only staff sessions): its catalogue is never read.
    unread = client_channel(f"127.0.0.1:{free_port()}", auth, SIGNING)
    server = GrpcServer(
        "127.0.0.1:0",
        auth,
        [directory_servicer.SERVICE_NAME],
        directory_servicer.register(
            sessions, Catalogue(catalogue_pb2_grpc.CatalogueServiceStub(unread))
        ),
    )
    await server.start()
    try:
        yield StaffDirectory(settings, sessions, server.port)
    finally:
        await server.stop(0)
        await unread.close()
        await engine.dispose()


@pytest.fixture
def settings_with_directory(
    data_dir: Path, nats_url: str, staff_directory: StaffDirectory
) -> Settings:
    """Signing's settings pointing at `staff_directory` (for tests that send staff tokens)."""
    return make_settings(data_dir, nats_url, verification_grpc_target=staff_directory.target)
