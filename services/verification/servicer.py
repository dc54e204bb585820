"""gRPC DirectoryService: the route a letter type takes in a desa (the desa's own or the
default, with its working calendar), who holds a role there now (Plt holders included), and
whether a staff token's session is still current (for the other services that accept them)."""

from collections.abc import Callable

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role, is_kecamatan_role
from common.events import AreaCodes
from services.verification.accounts import session_of
from services.verification.catalogue import Catalogue, CatalogueUnavailable
from services.verification.desa_service import closed_reason, serving_codes
from services.verification.kecamatan import kecamatan_part
from services.verification.letter_figures import letter_figures, month_bounds
from services.verification.models import Staff
from services.verification.plt import current_plt
from services.verification.routes import DesaRules, offered_letter_types, route_for, rules_for

SERVICE_NAME = "smartdesa.v1.DirectoryService"


def calendar_proto(rules: DesaRules) -> directory_pb2.WorkingCalendar:
    return directory_pb2.WorkingCalendar(
        start_hour=rules.start_hour,
        end_hour=rules.end_hour,
        workdays=list(rules.workdays),
        local_days_off=list(rules.local_days_off),
        days=[
            directory_pb2.WorkingDay(
                weekday=d.weekday, start_minute=d.start_minute, end_minute=d.end_minute
            )
            for d in rules.schedule
        ],
    )


class DirectoryServicer(directory_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalogue: Catalogue) -> None:
        self._sessions = sessions
        self._catalogue = catalogue  # the letter types and their default routes

    async def GetRoute(
        self, request: directory_pb2.GetRouteRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.Route:
        if not request.desa_code or not request.letter_type:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "desa_code and letter_type are required"
            )
        async with self._sessions() as session:
            try:
                found = await route_for(
                    session,
                    request.desa_code,
                    request.letter_type,
                    self._catalogue,
                    request.letter_type_version,
                )
            except CatalogueUnavailable:
                # The workflow's route activity retries; no route is guessed meanwhile.
                await context.abort(grpc.StatusCode.UNAVAILABLE, "catalogue-unavailable")
                raise
            rules = await rules_for(session, request.desa_code)
            # The kecamatan's steps after the desa's, for the types that go through it.
            part = await kecamatan_part(session, request.desa_code, request.letter_type)
        if found is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"no route for letter type {request.letter_type!r}"
            )
        assert found is not None  # abort raises
        route, _ = found
        steps = route.steps + (part.steps if part is not None else ())
        answer = directory_pb2.Route(
            steps=[
                directory_pb2.RouteStep(
                    role=s.role,
                    deadline_working_hours=s.deadline_working_hours,
                    skippable=s.skippable,
                )
                for s in steps
            ],
            signer_role=route.signer_role,
            on_behalf_of_role=route.on_behalf_of_role,
            calendar=calendar_proto(rules),
            max_revision_rounds=rules.max_revision_rounds,
            resubmit_days=rules.resubmit_days,
        )
        if part is not None:
            answer.kecamatan_purposes.extend(part.purposes)
            answer.kecamatan_calendar.CopyFrom(calendar_proto(part.calendar))
        return answer

    async def ListRoleHolders(
        self, request: directory_pb2.ListRoleHoldersRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListRoleHoldersResponse:
        if not request.desa_code or not request.role:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desa_code and role are required")
        if request.role == Role.KABUPATEN_OPERATOR:
            # Serves every desa of its kabupaten (the second escalation goes there).
            try:
                kabupaten = AreaCodes.from_desa(request.desa_code).kabupaten
            except ValueError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a desa code")
            where = Staff.kabupaten_code == kabupaten
        elif is_kecamatan_role(request.role):
            # A kecamatan step's assignee (reminders, escalation): the kecamatan's staff.
            try:
                kecamatan = AreaCodes.from_desa(request.desa_code).kecamatan
            except ValueError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a desa code")
            where = (Staff.kecamatan_code == kecamatan) & (Staff.desa_code == "")
        else:
            where = Staff.desa_code == request.desa_code
        async with self._sessions() as session:
            holders = (
                await session.exec(
                    select(Staff)
                    .where(where, Staff.role == request.role, col(Staff.active).is_(True))
                    .order_by(col(Staff.username))
                )
            ).all()
            # Kecamatan holders come with their printed name (the camat's stamp needs it).
            holding = [
                directory_pb2.StaffMember(
                    username=s.username,
                    role=s.role,
                    full_name=s.full_name if is_kecamatan_role(request.role) else "",
                )
                for s in holders
            ]
            # Then whoever holds the role as Plt now (if their account is still active).
            acting = await current_plt(session, request.desa_code, role=request.role)
            active = set(
                (
                    await session.exec(
                        select(Staff.username).where(
                            col(Staff.username).in_([p.username for p in acting]),
                            Staff.desa_code == request.desa_code,
                            col(Staff.active).is_(True),
                        )
                    )
                ).all()
            )
        listed = {h.username for h in holding}
        for plt in acting:
            if plt.username in active and plt.username not in listed:
                listed.add(plt.username)
                holding.append(
                    directory_pb2.StaffMember(username=plt.username, role=plt.role, acting=True)
                )
        return directory_pb2.ListRoleHoldersResponse(holders=holding)

    async def GetStaffSession(
        self, request: directory_pb2.GetStaffSessionRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.StaffSessionState:
        if not request.username or not request.session_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "username and session_id are required"
            )
        async with self._sessions() as session:
            found = await session_of(session, request.username, request.session_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such staff account")
        assert found is not None  # abort raises
        state = found[1]
        return directory_pb2.StaffSessionState(
            active=state.active,
            role=state.role,
            desa_code=state.desa_code,
            session_version=state.session_version,
            ended=state.ended,
        )

    async def ListServingDesa(
        self,
        request: directory_pb2.ListServingDesaRequest,
        context: grpc.aio.ServicerContext,
    ) -> directory_pb2.ListServingDesaResponse:
        async with self._sessions() as session:
            codes = await serving_codes(session, request.kabupaten_code)
        return directory_pb2.ListServingDesaResponse(desa_codes=sorted(codes))

    async def ListOfferedLetterTypes(
        self,
        request: directory_pb2.ListOfferedLetterTypesRequest,
        context: grpc.aio.ServicerContext,
    ) -> directory_pb2.ListOfferedLetterTypesResponse:
        if not request.desa_code:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desa_code is required")
        async with self._sessions() as session:
            closed = await closed_reason(session, request.desa_code)
            if closed:  # switched off, or never switched on: no new applications at all
                return directory_pb2.ListOfferedLetterTypesResponse(
                    desa_closed=True, closed_reason=closed
                )
            try:
                offered = await offered_letter_types(session, request.desa_code, self._catalogue)
            except CatalogueUnavailable:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "catalogue-unavailable")
                raise
        return directory_pb2.ListOfferedLetterTypesResponse(letter_types=offered)

    async def GetLetterFigures(
        self, request: directory_pb2.GetLetterFiguresRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.LetterFigures:
        try:
            month_bounds(request.month)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "month must be YYYY-MM")
        async with self._sessions() as session:
            try:
                cells = await letter_figures(
                    session, request.kabupaten_code, request.month, self._catalogue
                )
            except CatalogueUnavailable:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "catalogue-unavailable")
                raise
        return directory_pb2.LetterFigures(
            desa=[
                directory_pb2.DesaLetterFigures(
                    desa_code=c.desa_code,
                    kecamatan_code=c.kecamatan_code,
                    requested=c.requested,
                    issued=c.issued,
                    working_hours_to_issue=c.working_hours_to_issue,
                    issued_within_standard=c.issued_within_standard,
                )
                for c in cells
            ]
        )


def register(
    sessions: async_sessionmaker[AsyncSession], catalogue: Catalogue
) -> Callable[[grpc.aio.Server], None]:
    """The `register` callback for common.rpc.GrpcServer."""

    def add(server: grpc.aio.Server) -> None:
        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(
            DirectoryServicer(sessions, catalogue), server
        )

    return add
