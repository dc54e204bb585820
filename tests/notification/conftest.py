"""Fixtures for the notification service: real gRPC peers standing in for intake and
verification (real grpc.aio servers behind common.rpc.GrpcServer), real SQLite, real NATS."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn, TypeVar

import grpc
import httpx
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from smartdesa.v1 import (
    directory_pb2,
    directory_pb2_grpc,
    events_pb2,
    intake_pb2,
    intake_pb2_grpc,
    population_pb2,
    population_pb2_grpc,
)
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth, Principal, resident_token_issuer, staff_token_issuer
from common.db import create_engine, create_tables, session_factory
from common.domain.events import OTP_REQUESTED
from common.events import (
    INTERNAL_STREAM,
    PUBLIC_STREAM,
    CloudEvent,
    event_type,
    internal_subject,
    proto_data,
    public_subject,
)
from common.messaging import ensure_streams
from common.rpc import INTAKE, NOTIFICATION, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.intake.applications import EVENT_SOURCE
from services.notification.config import Settings
from services.notification.event_handler import EVENTS_DURABLE, INTERNAL_DURABLE, EventHandler
from services.notification.main import create_app
from services.notification.models import TABLES
from services.notification.recipients import RecipientLookup
from services.notification.rules import LetterLinks
from services.notification.runtime import Runtime
from tests.support.stand_ins import DirectoryStandIn, IntakeStandIn, PopulationStandIn

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"
RESIDENT_ID = "res-0001"
RESIDENT_PHONE = "6281234567890"
RESIDENT_PHONE_LOCAL = "081234567890"
APPLICATION_ID = "app-0001"

T = TypeVar("T")

LINK_KEY = b"test-link-key"
LINKS = LetterLinks(key=LINK_KEY, base_url="https://warga.example", lifetime=timedelta(hours=72))


async def _unimplemented(context: grpc.aio.ServicerContext) -> NoReturn:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not part of this test")
    raise AssertionError("abort raises")


def application_number(application_id: str) -> str:
    """The number FakeIntake gives each application: SKD-2026-000001 for app-0001."""
    return f"SKD-2026-{int(application_id.rsplit('-', 1)[-1], 16) % 1_000_000:06d}"


class FakeIntake(IntakeStandIn):
    """Intake's GetContact and GetResidentSession over real gRPC; other methods answer
    UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.signed_out: set[str] = set()  # session ids (jti) of resident tokens signed out
        self.contacts: dict[str, intake_pb2.Contact] = {}  # by resident id
        self.applicants: dict[str, str] = {}  # application id -> resident id
        # application id -> (status, reason) as intake holds it now
        self.states: dict[str, tuple[str, str]] = {}
        self.sign_ins: dict[str, intake_pb2.Contact] = {}  # pending codes anyone may receive
        self.calls: list[intake_pb2.GetContactRequest] = []
        self.complainants: dict[str, str] = {}  # complaint id -> resident id (signed in)
        self.unavailable_next = 0  # answer UNAVAILABLE this many times first
        # Application ids whose contact is answered only once their event is set: a slow call.
        self.held: dict[str, asyncio.Event] = {}
        # WhatsApp chat: the catalogue ListLetterTypes answers, what FileWalkIn filed, and
        # each NIK's applications.
        self.catalogue: intake_pb2.LetterTypeCatalogue | None = None
        self.filed: list[intake_pb2.FileWalkInRequest] = []
        self.resident_applications: dict[str, list[intake_pb2.ResidentApplication]] = {}
        self.kept: dict[str, list[str]] = {}  # NIK -> kinds of document kept on file
        self.cancelled: list[str] = []  # application ids the chat withdrew
        self.revised: list[intake_pb2.ReviseApplicationOfResidentRequest] = []
        self.corrections: list[intake_pb2.RequestRegisterCorrectionOfResidentRequest] = []

    async def ListLetterTypes(
        self, request: intake_pb2.ListLetterTypesRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.LetterTypeCatalogue:
        if self.catalogue is None:
            return await _unimplemented(context)
        return self.catalogue

    async def FileWalkIn(
        self, request: intake_pb2.FileWalkInRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.FileWalkInResponse:
        """Files what the WhatsApp chat sends: one application per request id."""
        for index, filed in enumerate(self.filed):
            if filed.request_id == request.request_id:
                return intake_pb2.FileWalkInResponse(
                    application_id=f"wa-app-{index + 1}", status="in_review", created=False
                )
        self.filed.append(request)
        return intake_pb2.FileWalkInResponse(
            application_id=f"wa-app-{len(self.filed)}", status="in_review", created=True
        )

    async def CheckLetterField(
        self, request: intake_pb2.CheckLetterFieldRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CheckLetterFieldResponse:
        """Intake's checks in small: a digits field takes digits only."""
        if request.name.endswith("_digits") and not request.value.isdigit():
            return intake_pb2.CheckLetterFieldResponse(error="Isian harus berupa angka.")
        return intake_pb2.CheckLetterFieldResponse(value=request.value.strip())

    async def CancelApplicationOfResident(
        self,
        request: intake_pb2.CancelApplicationOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.CancelApplicationOfResidentResponse:
        for app in self.resident_applications.get(request.nik, []):
            if app.id == request.application_id:
                if app.status not in ("in_review", "revision_requested"):
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        "Permohonan ini tidak dapat dibatalkan.",
                    )
                app.status = "cancelled"
                self.cancelled.append(app.id)
                return intake_pb2.CancelApplicationOfResidentResponse(status="cancelled")
        await context.abort(grpc.StatusCode.NOT_FOUND, "Permohonan tidak ditemukan.")
        raise AssertionError("abort raises")

    async def ReviseApplicationOfResident(
        self,
        request: intake_pb2.ReviseApplicationOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.ReviseApplicationOfResidentResponse:
        """Intake's revise in small: the resident's own application awaiting revision takes
        the file and is back in review; a kind outside the letter's syarat is refused."""
        for app in self.resident_applications.get(request.nik, []):
            if app.id == request.application_id:
                if app.status != "revision_requested":
                    await context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        "Permohonan ini tidak sedang menunggu perbaikan.",
                    )
                if request.kind not in ("KTP", "KK"):
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, "Jenis berkas tidak dikenal."
                    )
                app.status = "in_review"
                self.revised.append(request)
                return intake_pb2.ReviseApplicationOfResidentResponse(status="in_review")
        await context.abort(grpc.StatusCode.NOT_FOUND, "Permohonan tidak ditemukan.")
        raise AssertionError("abort raises")

    async def RequestRegisterCorrectionOfResident(
        self,
        request: intake_pb2.RequestRegisterCorrectionOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.RequestRegisterCorrectionOfResidentResponse:
        self.corrections.append(request)
        return intake_pb2.RequestRegisterCorrectionOfResidentResponse(
            id=f"c-{len(self.corrections)}", status="menunggu"
        )

    async def ListKeptDocuments(
        self, request: intake_pb2.ListKeptDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ListKeptDocumentsResponse:
        return intake_pb2.ListKeptDocumentsResponse(kinds=self.kept.get(request.nik, []))

    async def ListApplicationsOfResident(
        self,
        request: intake_pb2.ListApplicationsOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.ListApplicationsOfResidentResponse:
        return intake_pb2.ListApplicationsOfResidentResponse(
            applications=self.resident_applications.get(request.nik, [])
        )

    async def GetResidentSession(
        self, request: intake_pb2.GetResidentSessionRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ResidentSessionState:
        return intake_pb2.ResidentSessionState(ended=request.session_id in self.signed_out)

    def add_resident(self, resident_id: str, phone: str, *applications: str) -> None:
        self.contacts[resident_id] = intake_pb2.Contact(resident_id=resident_id, phone=phone)
        for application_id in applications:
            self.applicants[application_id] = resident_id

    async def GetContact(
        self, request: intake_pb2.GetContactRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Contact:
        self.calls.append(request)
        if request.application_id in self.held:
            await self.held[request.application_id].wait()
        if self.unavailable_next > 0:
            self.unavailable_next -= 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "sedang sibuk")
        if request.WhichOneof("who") in ("sign_in_id", "sign_in_notice_id"):
            found = self.sign_ins.get(request.sign_in_id or request.sign_in_notice_id)
            if found is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "tidak ada penerima")
                raise AssertionError("abort raises")
            return found
        if request.WhichOneof("who") == "resident_id":
            resident_id: str | None = request.resident_id
        elif request.WhichOneof("who") == "complaint_id":
            found_id = self.complainants.get(request.complaint_id)
            resident = self.contacts.get(found_id or "")
            if resident is None:  # filed through the public form: no contact kept
                await context.abort(grpc.StatusCode.NOT_FOUND, "tidak ada kontak")
                raise AssertionError("abort raises")
            return resident
        else:
            resident_id = self.applicants.get(request.application_id)
        contact = self.contacts.get(resident_id or "")
        if contact is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "tidak ditemukan")
            raise AssertionError("abort raises")
        if request.WhichOneof("who") == "resident_id":
            return contact
        status, reason = self.states.get(request.application_id, ("", ""))
        return intake_pb2.Contact(
            resident_id=contact.resident_id,
            phone=contact.phone,
            application_number=application_number(request.application_id),
            status=status,
            status_reason=reason,
        )


class FakeDirectory(DirectoryStandIn):
    """Verification's ListRoleHolders and GetStaffSession over real gRPC. ListServingDesa is
    unanswered: the portal shows every desa (intake's fallback)."""

    def __init__(self) -> None:
        # Staff accounts as GetStaffSession answers for them (Service.staff_headers adds them).
        self.accounts: dict[str, directory_pb2.StaffSessionState] = {}
        self.holders: dict[tuple[str, str], list[str]] = {}
        self.acting: set[str] = set()  # usernames holding their role as Plt
        self.calls: list[directory_pb2.ListRoleHoldersRequest] = []
        self.offered: dict[str, list[str]] = {}  # desa code -> letter type codes

    async def ListRoleHolders(
        self, request: directory_pb2.ListRoleHoldersRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListRoleHoldersResponse:
        self.calls.append(request)
        usernames = self.holders.get((request.desa_code, request.role), [])
        return directory_pb2.ListRoleHoldersResponse(
            holders=[
                directory_pb2.StaffMember(username=u, role=request.role, acting=u in self.acting)
                for u in usernames
            ]
        )

    async def ListOfferedLetterTypes(
        self,
        request: directory_pb2.ListOfferedLetterTypesRequest,
        context: grpc.aio.ServicerContext,
    ) -> directory_pb2.ListOfferedLetterTypesResponse:
        if request.desa_code not in self.offered:
            return await _unimplemented(context)
        return directory_pb2.ListOfferedLetterTypesResponse(
            letter_types=self.offered[request.desa_code]
        )

    async def GetStaffSession(
        self, request: directory_pb2.GetStaffSessionRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.StaffSessionState:
        account = self.accounts.get(request.username)
        if account is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such staff account")
            raise AssertionError("abort raises")
        return account


class FakePopulation(PopulationStandIn):
    """Verification's register as the WhatsApp chat reads it: who holds a phone, and one
    resident's data. Other methods answer UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.residents: dict[str, population_pb2.Resident] = {}  # by opaque id
        self.reads: list[str] = []  # purposes of the reads

    def add(
        self,
        resident_id: str,
        nik: str,
        name: str,
        phone: str,
        desa: str,
        kk_number: str = "3213110101150007",
        mother_name: str = "ENOK KURNIASIH",
    ) -> None:
        self.residents[resident_id] = population_pb2.Resident(
            kk_number=kk_number,
            mother_name=mother_name,
            id=resident_id,
            nik=nik,
            name=name,
            desa_code=desa,
            birth_place="SUBANG",
            birth_date="1980-03-12",
            address="JL. MERDEKA 1",
            rt="005",
            rw="002",
            dusun="KRAJAN",
            phones=[phone] if phone else [],
        )

    def _by_nik(self, nik: str) -> population_pb2.Resident | None:
        return next((r for r in self.residents.values() if r.nik == nik), None)

    async def CheckSignIn(
        self, request: population_pb2.CheckSignInRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.CheckSignInResponse:
        on_record = population_pb2.CheckSignInResponse.PhoneOnRecord
        found = self._by_nik(request.nik)
        if found is None:
            return population_pb2.CheckSignInResponse(phone_on_record=on_record.NONE)
        answer = (
            on_record.NONE
            if not found.phones
            else on_record.MATCHES
            if request.phone in found.phones
            else on_record.OTHER
        )
        return population_pb2.CheckSignInResponse(
            registered=True, desa_code=found.desa_code, phone_on_record=answer
        )

    async def VerifyFamilyKnowledge(
        self,
        request: population_pb2.VerifyFamilyKnowledgeRequest,
        context: grpc.aio.ServicerContext,
    ) -> population_pb2.VerifyFamilyKnowledgeResponse:
        found = self._by_nik(request.nik)
        match = (
            found is not None
            and request.kk_number == found.kk_number
            and " ".join(request.mother_name.split()).upper() == found.mother_name
        )
        return population_pb2.VerifyFamilyKnowledgeResponse(match=match)

    async def FindByPhone(
        self, request: population_pb2.FindByPhoneRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.FindByPhoneResponse:
        self.reads.append(request.purpose)
        holders = sorted(
            (r for r in self.residents.values() if request.phone in r.phones),
            key=lambda r: r.name,
        )
        return population_pb2.FindByPhoneResponse(
            holders=[
                population_pb2.PhoneHolder(resident_id=r.id, name=r.name, desa_code=r.desa_code)
                for r in holders
            ]
        )

    async def GetResident(
        self, request: population_pb2.GetResidentRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.Resident:
        self.reads.append(request.purpose)
        found = (
            self._by_nik(request.nik)
            if request.WhichOneof("who") == "nik"
            else self.residents.get(request.resident_id)
        )
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "not in the population register")
            raise AssertionError("abort raises")
        return found


@dataclass
class Peers:
    intake: FakeIntake
    directory: FakeDirectory
    population: FakePopulation
    intake_target: str
    verification_target: str


def make_settings(data_dir: Path, nats_url: str, peers: Peers, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "nats_url": nats_url,
        "intake_grpc_target": peers.intake_target,
        "verification_grpc_target": peers.verification_target,
        "notification_grpc_port": 0,  # any free port: tests run side by side
        "notification_retry_base_seconds": 0.2,
        "notification_dispatch_poll_seconds": 0.2,
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture
async def peers(data_dir: Path) -> AsyncIterator[Peers]:
    ensure_dev_secrets(Settings(data_dir=data_dir))  # the internal-token secret both sides share
    settings = Settings(data_dir=data_dir)
    intake, directory, population = FakeIntake(), FakeDirectory(), FakePopulation()
    intake.add_resident(RESIDENT_ID, RESIDENT_PHONE, APPLICATION_ID)
    directory.holders[(PAMANUKAN, "kasi_pemerintahan")] = ["pemerintahan.pamanukan"]
    directory.holders[(PAMANUKAN, "sekdes")] = ["sekdes.pamanukan", "sekdes2.pamanukan"]
    directory.holders[(RANCASARI, "kasi_pemerintahan")] = ["pemerintahan.rancasari"]
    intake_server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, INTAKE),
        ["smartdesa.v1.IntakeService"],
        lambda s: intake_pb2_grpc.add_IntakeServiceServicer_to_server(intake, s),
    )

    def add_verification(server: grpc.aio.Server) -> None:
        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, server)
        population_pb2_grpc.add_PopulationServiceServicer_to_server(population, server)

    directory_server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, VERIFICATION),
        ["smartdesa.v1.DirectoryService", "smartdesa.v1.PopulationService"],
        add_verification,
    )
    await intake_server.start()
    await directory_server.start()
    try:
        yield Peers(
            intake=intake,
            directory=directory,
            population=population,
            intake_target=f"127.0.0.1:{intake_server.port}",
            verification_target=f"127.0.0.1:{directory_server.port}",
        )
    finally:
        await intake_server.stop(0)
        await directory_server.stop(0)


@dataclass
class HandlerEnv:
    """The event handler on its own (no consumers, no dispatcher), for direct calls."""

    handler: EventHandler
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    wakes: list[None]


@pytest.fixture
async def handler_env(data_dir: Path, nats_url: str, peers: Peers) -> AsyncIterator[HandlerEnv]:
    settings = make_settings(data_dir, nats_url, peers)
    engine = create_engine(settings.database_url)
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    auth = InternalAuth.from_settings(settings, NOTIFICATION)
    intake_channel = client_channel(settings.intake_grpc_target, auth, INTAKE)
    verification_channel = client_channel(settings.verification_grpc_target, auth, VERIFICATION)
    wakes: list[None] = []
    handler = EventHandler(
        sessions,
        RecipientLookup(
            intake_channel, verification_channel, sessions=sessions, letter_links=LINKS
        ),
        on_deliveries=lambda: wakes.append(None),
    )
    try:
        yield HandlerEnv(handler=handler, sessions=sessions, settings=settings, wakes=wakes)
    finally:
        await intake_channel.close()
        await verification_channel.close()
        await engine.dispose()


@dataclass
class Service:
    """The whole notification service in-process, with an HTTP client."""

    client: httpx.AsyncClient
    runtime: Runtime
    settings: Settings
    peers: Peers
    js: JetStreamContext

    def staff_headers(self, username: str, role: str = "kasi_pemerintahan") -> dict[str, str]:
        """A token of an active account in verification's (fake) directory."""
        self.peers.directory.accounts[username] = directory_pb2.StaffSessionState(
            active=True, role=role, desa_code=PAMANUKAN, session_version=1
        )
        token = staff_token_issuer(self.settings, 600).issue(
            Principal(
                kind="staff",
                subject=username,
                role=role,
                desa_code=PAMANUKAN,
                session_version=1,
            )
        )
        return {"Authorization": f"Bearer {token}"}

    def resident_headers(self, resident_id: str) -> dict[str, str]:
        token = resident_token_issuer(self.settings, 600).issue(
            Principal(kind="resident", subject=resident_id)
        )
        return {"Authorization": f"Bearer {token}"}


async def reset_nats(url: str) -> None:
    """Fresh durables and empty streams, so one test's events never reach another's service."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        for stream, durable in (
            (PUBLIC_STREAM, EVENTS_DURABLE),
            (INTERNAL_STREAM, INTERNAL_DURABLE),
        ):
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream, durable)
            await js.purge_stream(stream)
    finally:
        await nc.close()


@pytest.fixture
def service_overrides() -> dict[str, object]:
    """Settings the `service` fixture starts with beyond make_settings' (a module may say)."""
    return {}


@pytest.fixture
async def service(
    data_dir: Path, nats_url: str, peers: Peers, service_overrides: dict[str, object]
) -> AsyncIterator[Service]:
    await reset_nats(nats_url)
    settings = make_settings(data_dir, nats_url, peers, **service_overrides)
    async with running_service(settings, peers) as service:
        yield service


@asynccontextmanager
async def running_service(settings: Settings, peers: Peers) -> AsyncIterator[Service]:
    """The service started on `settings` and, on leaving, stopped (a test may start it again
    on the same data)."""
    app = create_app(settings)
    nc = await nats.connect(settings.nats_url)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Service(
                    client=client,
                    runtime=app.state.runtime,
                    settings=settings,
                    peers=peers,
                    js=nc.jetstream(),
                )
    finally:
        await nc.close()


def application_event(
    name: str,
    application_id: str = APPLICATION_ID,
    desa_code: str = PAMANUKAN,
    event_id: str | None = None,
    **fields: object,
) -> tuple[str, CloudEvent]:
    """(subject, event) as intake publishes it: ApplicationEvent JSON, no personal data."""
    payload = events_pb2.ApplicationEvent(
        application_id=application_id,
        desa_code=desa_code,
        kecamatan_code=".".join(desa_code.split(".")[:3]),
        kabupaten_code=".".join(desa_code.split(".")[:2]),
        **{"letter_type": "SKD", "letter_type_name": "Surat Keterangan Domisili", **fields},  # type: ignore[arg-type]
    )
    event = CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(name),
        subject=application_id,
        data=proto_data(payload),
    )
    return public_subject(desa_code, name), event


def otp_event(
    code: str = "123456",
    resident_id: str = RESIDENT_ID,
    valid_for: timedelta = timedelta(minutes=5),
    sign_in_id: str = "",
) -> tuple[str, CloudEvent]:
    """A code event as intake stages it (`sign_in_id`) or as it did before (`resident_id`)."""
    now = datetime.now(UTC)
    payload = events_pb2.OtpRequested(
        resident_id="" if sign_in_id else resident_id,
        sign_in_id=sign_in_id,
        code=code,
        expires_at=(now + valid_for).isoformat(),
    )
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(OTP_REQUESTED),
        time=now,
        data=proto_data(payload),
    )
    return internal_subject(OTP_REQUESTED), event
