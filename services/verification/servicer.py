"""gRPC DirectoryService: the route a letter type takes in a desa, and who holds a role there."""

from collections.abc import Callable

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.verification.models import Staff
from services.verification.routes import route_for

SERVICE_NAME = "smartdesa.v1.DirectoryService"


class DirectoryServicer(directory_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def GetRoute(
        self, request: directory_pb2.GetRouteRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.Route:
        if not request.desa_code or not request.letter_type:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "desa_code and letter_type are required"
            )
        route = route_for(request.desa_code, request.letter_type)
        if route is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"no route for letter type {request.letter_type!r}"
            )
        assert route is not None  # abort raises
        return directory_pb2.Route(
            steps=[directory_pb2.RouteStep(role=role) for role in route.steps],
            signer_role=route.signer_role,
        )

    async def ListRoleHolders(
        self, request: directory_pb2.ListRoleHoldersRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListRoleHoldersResponse:
        if not request.desa_code or not request.role:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desa_code and role are required")
        async with self._sessions() as session:
            holders = (
                await session.exec(
                    select(Staff)
                    .where(
                        Staff.desa_code == request.desa_code,
                        Staff.role == request.role,
                        col(Staff.active).is_(True),
                    )
                    .order_by(col(Staff.username))
                )
            ).all()
        return directory_pb2.ListRoleHoldersResponse(
            holders=[directory_pb2.StaffMember(username=s.username, role=s.role) for s in holders]
        )


def register(sessions: async_sessionmaker[AsyncSession]) -> Callable[[grpc.aio.Server], None]:
    """The `register` callback for common.rpc.GrpcServer."""

    def add(server: grpc.aio.Server) -> None:
        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(
            DirectoryServicer(sessions), server
        )

    return add
