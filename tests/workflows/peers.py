"""Real gRPC peers for the approval activities: a DirectoryService serving one route, an
IntakeService that records every RecordProgress attempt (and applies each sequence once, as
intake does) and a SigningService that counts IssueLetter calls (one letter per application,
as signing does). They listen on loopback with the same internal-token authentication as the
services, so the real activities (in this process or in a worker process) talk to them."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
from smartdesa.v1 import (
    directory_pb2,
    directory_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    signing_pb2,
    signing_pb2_grpc,
)

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, VERIFICATION, GrpcServer
from tests.support.stand_ins import DirectoryStandIn, IntakeStandIn, SigningStandIn

PAMANUKAN = "32.13.11.2004"


class DirectoryPeer(DirectoryStandIn):
    def __init__(self, route: directory_pb2.Route) -> None:
        self.route = route
        self.holders: dict[str, list[str]] = {}

    async def GetRoute(
        self, request: directory_pb2.GetRouteRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.Route:
        return self.route

    async def ListRoleHolders(
        self, request: directory_pb2.ListRoleHoldersRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListRoleHoldersResponse:
        return directory_pb2.ListRoleHoldersResponse(
            holders=[
                directory_pb2.StaffMember(username=u, role=request.role)
                for u in self.holders.get(request.role, [])
            ]
        )


class IntakeRecorder(IntakeStandIn):
    def __init__(self) -> None:
        self.attempts: list[intake_pb2.RecordProgressRequest] = []
        self.applied: list[intake_pb2.RecordProgressRequest] = []
        # A sequence whose first attempt is received but never answered (until released):
        # how a test catches the worker in the middle of an activity.
        self.hold_sequence: int | None = None
        self.release = asyncio.Event()
        # Statuses this intake does not know yet (an older version), refused as invalid.
        self.unknown_statuses: set[str] = set()

    async def GetApplication(
        self, request: intake_pb2.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Application:
        return intake_pb2.Application(
            id=request.application_id,
            desa_code=PAMANUKAN,
            letter_type="SKD",
            purpose="Persyaratan melamar pekerjaan",
            fields={"alamat": "Dusun Krajan RT 001 RW 002"},
            status="in_review",
            nik="3213114509870001",
            letter_type_version="SKD-v1",  # the catalogue version it started with
        )

    async def RecordProgress(
        self, request: intake_pb2.RecordProgressRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.RecordProgressResponse:
        self.attempts.append(request)
        if request.status in self.unknown_statuses:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown status {request.status!r}"
            )
        if request.sequence == self.hold_sequence and not self.release.is_set():
            await self.release.wait()
            await context.abort(grpc.StatusCode.UNAVAILABLE, "held by the test")
        key = (request.application_id, request.sequence)
        if any((r.application_id, r.sequence) == key for r in self.applied):
            return intake_pb2.RecordProgressResponse(applied=False)
        self.applied.append(request)
        return intake_pb2.RecordProgressResponse(applied=True)

    def events(self, application_id: str) -> list[str]:
        return [r.event for r in self.applied if r.application_id == application_id]


class SigningPeer(SigningStandIn):
    def __init__(self) -> None:
        self.calls: list[signing_pb2.IssueLetterRequest] = []
        self.letters: dict[str, signing_pb2.IssuedLetter] = {}
        self.signer_kind = "local"  # how every desa signs

    async def GetSigner(
        self, request: signing_pb2.GetSignerRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.SignerInfo:
        return signing_pb2.SignerInfo(kind=self.signer_kind)

    async def IssueLetter(
        self, request: signing_pb2.IssueLetterRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.IssuedLetter:
        self.calls.append(request)
        if request.application_id not in self.letters:
            number = len(self.letters) + 1
            self.letters[request.application_id] = signing_pb2.IssuedLetter(
                letter_id=f"letter-{number}",
                number=f"470/{number:03d}/{request.desa_code}/XI/2026",
                verification_url=f"http://127.0.0.1:8002/verifikasi/code-{number}",
            )
        return self.letters[request.application_id]


@dataclass
class Peers:
    directory: DirectoryPeer
    intake: IntakeRecorder
    signing: SigningPeer
    intake_target: str
    verification_target: str
    signing_target: str


def default_route() -> directory_pb2.Route:
    """What a directory sends when the desa set nothing but the roles: zero values."""
    return directory_pb2.Route(
        steps=[directory_pb2.RouteStep(role=r) for r in ("kasi_pemerintahan", "sekdes", "kades")],
        signer_role="kades",
    )


@asynccontextmanager
async def running_peers(
    secret: bytes, route: directory_pb2.Route | None = None
) -> AsyncIterator[Peers]:
    directory = DirectoryPeer(route or default_route())
    intake = IntakeRecorder()
    signing = SigningPeer()
    servers = [
        GrpcServer(
            "127.0.0.1:0",
            InternalAuth(secret, INTAKE),
            ["smartdesa.v1.IntakeService"],
            lambda s: intake_pb2_grpc.add_IntakeServiceServicer_to_server(intake, s),
        ),
        GrpcServer(
            "127.0.0.1:0",
            InternalAuth(secret, VERIFICATION),
            ["smartdesa.v1.DirectoryService"],
            lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, s),
        ),
        GrpcServer(
            "127.0.0.1:0",
            InternalAuth(secret, SIGNING),
            ["smartdesa.v1.SigningService"],
            lambda s: signing_pb2_grpc.add_SigningServiceServicer_to_server(signing, s),
        ),
    ]
    for server in servers:
        await server.start()
    try:
        yield Peers(
            directory,
            intake,
            signing,
            *(f"127.0.0.1:{server.port}" for server in servers),
        )
    finally:
        intake.release.set()
        for server in servers:
            await server.stop(0)
