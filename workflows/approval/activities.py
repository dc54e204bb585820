"""Activities of the approval workflow: every call it makes to a service. Each is idempotent
on the service's side (route lookup is a read; intake records each sequence once; signing issues
one letter per application), so Temporal may retry them freely."""

from datetime import UTC, date, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import (
    directory_pb2,
    directory_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    signing_pb2,
    signing_pb2_grpc,
)
from temporalio import activity
from temporalio.exceptions import ApplicationError

from common.domain import Role, SignerKind, is_kecamatan_role
from common.domain.purposes import purpose_matches
from workflows.approval.days_off import national_days_off
from workflows.approval.issuing import issue_letter_request
from workflows.approval.models import (
    ACTIVITY_ISSUE_LETTER,
    ACTIVITY_RECORD_PROGRESS,
    ACTIVITY_RESOLVE_ROUTE,
    DEFAULT_DEADLINE_WORKING_HOURS,
    DEFAULT_MAX_REVISION_ROUNDS,
    DEFAULT_RESUBMIT_DAYS,
    ApprovalInput,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    Route,
    RouteStep,
    WorkingCalendar,
    WorkingDay,
)

# Answers that no retry can change: fail the activity for good.
_PERMANENT_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
}
_CALL_TIMEOUT_S = 20.0
_ISSUE_TIMEOUT_S = 90.0


def calendar_from_proto(given: directory_pb2.WorkingCalendar | None) -> WorkingCalendar:
    """A calendar with proto3's zero values replaced by the defaults (Monday to Friday
    08:00-16:00 WIB); ApplicationError (for good) when it cannot be a calendar."""
    calendar = WorkingCalendar()
    if given is not None:
        if given.start_hour or given.end_hour:
            calendar.start_hour, calendar.end_hour = given.start_hour, given.end_hour
        if given.workdays:
            calendar.workdays = sorted(set(given.workdays))
        calendar.local_days_off = sorted(set(given.local_days_off))
        if given.days:
            # Each weekday's own hours: they are the schedule (the summary fields follow them).
            calendar.days = sorted(
                (WorkingDay(d.weekday, d.start_minute, d.end_minute) for d in given.days),
                key=lambda d: d.weekday,
            )
            calendar.workdays = [d.weekday for d in calendar.days]
            calendar.start_hour = min(d.start_minute for d in calendar.days) // 60
            calendar.end_hour = -(-max(d.end_minute for d in calendar.days) // 60)
    for hours in calendar.days:
        if not 0 <= hours.start_minute < hours.end_minute <= 24 * 60:
            raise ApplicationError(
                f"invalid working hours on weekday {hours.weekday}",
                type="InvalidRoute",
                non_retryable=True,
            )
    if len({d.weekday for d in calendar.days}) != len(calendar.days):
        raise ApplicationError(
            "a weekday's working hours given twice", type="InvalidRoute", non_retryable=True
        )
    if not (0 <= calendar.start_hour < calendar.end_hour <= 24):
        raise ApplicationError(
            f"invalid working hours {calendar.start_hour}-{calendar.end_hour}",
            type="InvalidRoute",
            non_retryable=True,
        )
    if not set(calendar.workdays) <= set(range(1, 8)):
        raise ApplicationError(
            f"invalid workdays {calendar.workdays}", type="InvalidRoute", non_retryable=True
        )
    for day in calendar.local_days_off:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ApplicationError(
                f"invalid local day off {day!r}", type="InvalidRoute", non_retryable=True
            ) from None
    return calendar


def route_from_proto(route: directory_pb2.Route, days_off: list[str]) -> Route:
    """The directory's route with proto3's zero values replaced by the defaults: a step of 8
    working hours, Monday to Friday 08:00-16:00 WIB, 3 revision rounds, 14 days to resubmit."""
    calendar = calendar_from_proto(route.calendar if route.HasField("calendar") else None)
    kecamatan_calendar = (
        calendar_from_proto(route.kecamatan_calendar)
        if route.HasField("kecamatan_calendar")
        else None
    )
    return Route(
        steps=[
            RouteStep(
                role=s.role,
                deadline_working_hours=s.deadline_working_hours
                if s.deadline_working_hours > 0
                else DEFAULT_DEADLINE_WORKING_HOURS,
                skippable=s.skippable,
            )
            for s in route.steps
        ],
        signer_role=route.signer_role,
        on_behalf_of_role=route.on_behalf_of_role,
        calendar=calendar,
        max_revision_rounds=route.max_revision_rounds
        if route.max_revision_rounds > 0
        else DEFAULT_MAX_REVISION_ROUNDS,
        resubmit_days=route.resubmit_days if route.resubmit_days > 0 else DEFAULT_RESUBMIT_DAYS,
        days_off=days_off,
        kecamatan_calendar=kecamatan_calendar,
    )


def _raise_for(exc: grpc.aio.AioRpcError, what: str) -> None:
    if exc.code() in _PERMANENT_CODES:
        # The peer's own words (signing's reasons are Indonesian, for staff) travel as the
        # error's details, so the workflow can show them without parsing the message.
        raise ApplicationError(
            f"{what}: {exc.code().name} {exc.details()}",
            exc.details() or "",
            type=exc.code().name,
            non_retryable=True,
        ) from exc
    raise exc


class ApprovalActivities:
    def __init__(
        self,
        intake: grpc.aio.Channel,
        verification: grpc.aio.Channel,
        signing: grpc.aio.Channel,
    ) -> None:
        self._intake = intake_pb2_grpc.IntakeServiceStub(intake)
        self._directory = directory_pb2_grpc.DirectoryServiceStub(verification)
        self._signing = signing_pb2_grpc.SigningServiceStub(signing)

    @activity.defn(name=ACTIVITY_RESOLVE_ROUTE)
    async def resolve_route(self, input: ApprovalInput) -> Route:
        try:
            route = await self._directory.GetRoute(
                directory_pb2.GetRouteRequest(
                    desa_code=input.desa_code,
                    letter_type=input.letter_type,
                    letter_type_version=input.letter_type_version,
                ),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            _raise_for(exc, "route lookup")
            raise
        resolved = route_from_proto(route, national_days_off(datetime.now(UTC).year))
        if route.kecamatan_purposes and not await self._purpose_matches(input, route):
            # Not one of the purposes the kabupaten sends through the kecamatan: the desa's
            # steps only (decided now, from the application; the purpose stays out of history).
            resolved.steps = [s for s in resolved.steps if not is_kecamatan_role(s.role)]
            resolved.kecamatan_calendar = None
        resolved.remote_signature = await self._signs_remotely(input.desa_code)
        if any(s.role == Role.CAMAT for s in resolved.steps):
            # The camat's signer is set like a desa's, keyed by the kecamatan's code.
            kecamatan_code = input.desa_code.rsplit(".", 1)[0]
            resolved.camat_remote_signature = await self._signs_remotely(kecamatan_code)
        resolved.steps = [s for s in resolved.steps if not await self._skip(input, s)]
        if not resolved.steps:
            raise ApplicationError("route has no steps", type="EmptyRoute", non_retryable=True)
        return resolved

    async def _purpose_matches(self, input: ApprovalInput, route: directory_pb2.Route) -> bool:
        try:
            application = await self._intake.GetApplication(
                intake_pb2.GetApplicationRequest(application_id=input.application_id),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            _raise_for(exc, "application lookup")
            raise
        return purpose_matches(route.kecamatan_purposes, application.purpose)

    async def _signs_remotely(self, desa_code: str) -> bool:
        """Signing knows how each desa (and each kecamatan's camat) signs (its
        `signing_signers` setting): a remote signer (BSrE) makes the letter wait for the
        signer after the last approval."""
        try:
            signer = await self._signing.GetSigner(
                signing_pb2.GetSignerRequest(desa_code=desa_code), timeout=_CALL_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                # A signing service older than remote signatures (a rolling deploy): its
                # letters are issued the way it knows, by the workflow's own call.
                return False
            _raise_for(exc, "signer lookup")
            raise
        return signer.kind in tuple(SignerKind) and SignerKind(signer.kind).remote

    async def _skip(self, input: ApprovalInput, step: RouteStep) -> bool:
        """A skippable step is left out when nobody in the desa holds its role (e.g. a desa
        without an operator); a required step always stays."""
        if not step.skippable:
            return False
        try:
            holders = await self._directory.ListRoleHolders(
                directory_pb2.ListRoleHoldersRequest(desa_code=input.desa_code, role=step.role),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            _raise_for(exc, "role holders lookup")
            raise
        return not holders.holders

    @activity.defn(name=ACTIVITY_RECORD_PROGRESS)
    async def record_progress(self, record: ProgressRecord) -> None:
        occurred_at = Timestamp()
        occurred_at.GetCurrentTime()
        request = intake_pb2.RecordProgressRequest(
            application_id=record.application_id,
            sequence=record.sequence,
            event=record.event,
            status=record.status,
            actor_role=record.actor_role,
            decision=record.decision,
            reason=record.reason,
            occurred_at=occurred_at,
            escalated_to_role=record.escalated_to_role,
            escalation_level=record.escalation_level,
            decided_as=record.decided_as,
        )
        if record.deadline is not None:
            request.deadline.FromDatetime(record.deadline)
        if record.step_index is not None and record.step_role is not None:
            request.current_step.CopyFrom(
                intake_pb2.StepRef(index=record.step_index, role=record.step_role)
            )
        if record.letter is not None:
            request.letter.CopyFrom(
                intake_pb2.LetterRef(
                    letter_id=record.letter.letter_id,
                    number=record.letter.number,
                    verification_url=record.letter.verification_url,
                )
            )
        try:
            await self._intake.RecordProgress(request, timeout=_CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            # Intake refusing a record is no business outcome but a mismatch between worker
            # and intake versions (e.g. a new event or status during a rolling deploy). Failing
            # for good would end the letter; retried with backoff, it resumes once both agree,
            # and meanwhile the Temporal UI shows the retrying activity and intake's answer.
            raise ApplicationError(
                f"record progress: {exc.code().name} {exc.details()}", type=exc.code().name
            ) from exc

    async def _camat_name(self, desa_code: str) -> str:
        """The active camat's printed name (verification's account), for the stamp of a camat
        whose signer carries no installed name; "" when verification has none to give."""
        try:
            holders = await self._directory.ListRoleHolders(
                directory_pb2.ListRoleHoldersRequest(desa_code=desa_code, role=Role.CAMAT),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return ""  # a stand-in without the directory: the installed name only
            raise
        return next((h.full_name for h in holders.holders if not h.acting and h.full_name), "")

    @activity.defn(name=ACTIVITY_ISSUE_LETTER)
    async def issue_letter(self, input: IssueLetterInput) -> LetterInfo:
        # The application's content goes from intake straight to signing inside this activity;
        # only the letter's reference comes back into workflow history.
        try:
            application = await self._intake.GetApplication(
                intake_pb2.GetApplicationRequest(application_id=input.application_id),
                timeout=_CALL_TIMEOUT_S,
            )
            camat_name = (
                await self._camat_name(application.desa_code) if input.kecamatan_code else ""
            )
            letter = await self._signing.IssueLetter(
                issue_letter_request(application, input, camat_name), timeout=_ISSUE_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            _raise_for(exc, "issue letter")
            raise
        return LetterInfo(
            letter_id=letter.letter_id,
            number=letter.number,
            verification_url=letter.verification_url,
        )
