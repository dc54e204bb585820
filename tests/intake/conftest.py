"""Intake in-process against real SQLite, NATS JetStream and a Temporal dev server."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from smartdesa.v1 import intake_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.db import create_engine, session_factory
from common.domain.events import OTP_REQUESTED
from common.events import PUBLIC_STREAM, CloudEvent, internal_subject
from common.rpc import INTAKE, VERIFICATION, WORKER, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.models import Resident, SignInCode
from services.intake.runtime import Runtime
from services.verification.models import PersonalDataAccess
from services.verification.population import models as population_models
from services.verification.population import servicer as population_servicer
from services.verification.population.register import ResidentData, add_resident
from tests.support.catalogue import CatalogueServer
from tests.support.processes import free_port
from tests.support.waiting import eventually

T = TypeVar("T")

PAMANUKAN = "32.13.11.2004"
# Structurally valid NIKs (Subang 3213 11, men and women) and Indonesian mobile numbers.
NIK_ANI = "3213115708900001"  # woman, born 17-08-1990
NIK_BUDI = "3213110101850002"  # man, born 01-01-1985
PHONE_ANI = "081234567890"
PHONE_BUDI = "+6285712345678"

SKD_FIELDS = {
    "nama": "Ani Suryani",
    "tempat_lahir": "Subang",
    "tanggal_lahir": "1990-08-17",
    "jenis_kelamin": "P",
    "agama": "Islam",
    "pekerjaan": "Wiraswasta",
    "alamat": "Jl. Raya Pamanukan No. 5",
    "rt": "002",
    "rw": "004",
}


@dataclass
class Register:
    """Verification's population register, served over real gRPC by its own PopulationService
    on a SQLite database of its own: empty until a test adds residents through `sessions`."""

    sessions: async_sessionmaker[AsyncSession]
    server: GrpcServer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture
async def register(base_settings: Settings) -> AsyncIterator[Register]:
    engine = create_engine(base_settings.sqlite_url("register.db"))
    async with engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            # The register's tables and the staff access log its ListDataAccess reads.
            tables=[
                m.__table__  # type: ignore[attr-defined]
                for m in [*population_models.TABLES, PersonalDataAccess]
            ],
        )
    ensure_dev_secrets(base_settings)
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(base_settings, VERIFICATION),
        [population_servicer.SERVICE_NAME],
        population_servicer.register(session_factory(engine)),
    )
    await server.start()
    try:
        yield Register(sessions=session_factory(engine), server=server)
    finally:
        await server.stop(0)
        await engine.dispose()


@pytest.fixture
def settings(base_settings: Settings, register: Register, catalogue: CatalogueServer) -> Settings:
    # Verification as intake sees it: the register answers; DirectoryService does not, so
    # every letter type counts as offered (tests/intake/test_offered.py serves one). Signing
    # answers only as the catalogue (CatalogueService), on a port of its own.
    return base_settings.model_copy(
        update={
            "verification_grpc_target": register.target,
            "catalogue_grpc_target": catalogue.target,
        }
    )


@pytest.fixture
def base_settings(data_dir: Path, nats_url: str, temporal_env: WorkflowEnvironment) -> Settings:
    return Settings(
        data_dir=data_dir,
        nats_url=nats_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_namespace=temporal_env.client.namespace,
        # Our own queue: no worker polls it, so a started workflow just waits.
        temporal_task_queue=f"intake-test-{uuid.uuid4().hex[:8]}",
        # Nothing listens there: letter.pdf sees signing as unreachable.
        signing_grpc_target=f"127.0.0.1:{free_port()}",
        # Nor here: `settings` points intake at the register (`register`) instead.
        verification_grpc_target=f"127.0.0.1:{free_port()}",
        # Nor here: notification's preferences are unreachable unless a test serves them.
        notification_grpc_target=f"127.0.0.1:{free_port()}",
        intake_grpc_port=0,
    )


@dataclass
class Intake:
    app: FastAPI
    runtime: Runtime
    http: httpx.AsyncClient

    def client_at(self, address: str) -> httpx.AsyncClient:
        """Another client of the same app, asking from `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async def sign_in(self, nik: str = NIK_ANI, phone: str = PHONE_ANI) -> dict[str, str]:
        """The resident's journey: ask for a code, read it from the internal stream the way
        the notification service does, exchange it for a token. Returns auth headers."""
        event = await self.request_code(nik, phone)
        r = await self.http.post(
            "/api/v1/auth/token", json={"nik": nik, "phone": phone, "otp": event.data["code"]}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def request_code(self, nik: str, phone: str) -> CloudEvent:
        sub = await self.runtime.js.subscribe(
            internal_subject(OTP_REQUESTED),
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )
        try:
            r = await self.http.post("/api/v1/auth/otp", json={"nik": nik, "phone": phone})
            assert r.status_code == 202, r.text
            sign_in_id = await self.pending_code_id(nik)
            while True:
                msg = await sub.next_msg(timeout=10)
                event = CloudEvent.from_message(msg.headers, msg.data)
                if event.data["sign_in_id"] == sign_in_id:
                    return event
        finally:
            await sub.unsubscribe()

    async def pending_code_id(self, nik: str) -> str:
        """The newest code asked for with this NIK (pending codes know it only by its HMAC)."""
        async with self.runtime.sessions() as session:
            pending = (
                await session.exec(
                    select(SignInCode)
                    .where(SignInCode.nik_hmac == self.runtime.otp_key.tag("nik", nik))
                    .order_by(col(SignInCode.created_at).desc())
                )
            ).first()
            assert pending is not None
            return pending.id

    async def resident_id(self, nik: str) -> str:
        async with self.runtime.sessions() as session:
            resident = (await session.exec(select(Resident).where(Resident.nik == nik))).one()
            return resident.id

    async def create_application(self, headers: dict[str, str], **overrides: Any) -> str:
        body: dict[str, Any] = {
            "desa_code": PAMANUKAN,
            "letter_type": "SKD",
            "purpose": "Persyaratan melamar pekerjaan",
            "fields": SKD_FIELDS,
            **overrides,
        }
        r = await self.http.post("/api/v1/applications", json=body, headers=headers)
        assert r.status_code == 201, r.text
        application_id: str = r.json()["id"]
        return application_id

    async def upload(
        self,
        headers: dict[str, str],
        application_id: str,
        kind: str,
        content: bytes,
        filename: str = "berkas.bin",
        content_type: str = "application/octet-stream",
    ) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/applications/{application_id}/attachments",
            data={"kind": kind},
            files={"file": (filename, content, content_type)},
            headers=headers,
        )

    async def published(self, subject: str, event_id: str) -> tuple[dict[str, str], bytes]:
        """The headers and body of event `event_id` once the outbox relay has put it on the
        public stream as the subject's latest message."""

        async def check() -> tuple[dict[str, str], bytes] | None:
            try:
                msg = await self.runtime.js.get_last_msg(PUBLIC_STREAM, subject)
            except NotFoundError:
                return None
            headers = dict(msg.headers or {})
            return (headers, msg.data or b"") if headers.get("ce-id") == event_id else None

        return await eventually(check, f"event {event_id} on {subject}")


@pytest.fixture
async def intake(settings: Settings) -> AsyncIterator[Intake]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


@pytest.fixture
async def stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    """IntakeService as the approval worker calls it (test_servicer asks as verification)."""
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = json.loads(response.content)
    return body


async def register_ani(register: Register, desa_code: str = PAMANUKAN) -> str:
    """Ani, with her phone, in a desa's register: what a resident asking for any letter type
    but the non-residents' ones must be (sign-in by the register, issue 13)."""
    async with register.sessions() as session:
        resident = await add_resident(
            session,
            desa_code,
            ResidentData(
                nik=NIK_ANI,
                name="ANI SURYANI",
                sex=2,
                birth_place="SUBANG",
                birth_date=date(1990, 8, 17),
                religion=1,  # Islam
                occupation=88,  # Wiraswasta
                address="KP. KRAJAN",
                dusun="KRAJAN",
                rw="002",
                rt="005",
                phones="6281234567890",  # PHONE_ANI: her codes go to it (sign-in by the register)
            ),
            actor="operator.pamanukan",
        )
        return resident.id
