"""Activities of the approval workflow: every call it makes to a service. Each is idempotent
on the service's side (route lookup is a read; intake records each sequence once; signing issues
one letter per application), so Temporal may retry them freely."""

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

from workflows.approval.models import (
    ACTIVITY_ISSUE_LETTER,
    ACTIVITY_RECORD_PROGRESS,
    ACTIVITY_RESOLVE_ROUTE,
    ApprovalInput,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    Route,
    RouteStep,
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


def _raise_for(exc: grpc.aio.AioRpcError, what: str) -> None:
    if exc.code() in _PERMANENT_CODES:
        raise ApplicationError(
            f"{what}: {exc.code().name} {exc.details()}", type=exc.code().name, non_retryable=True
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
                    desa_code=input.desa_code, letter_type=input.letter_type
                ),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            _raise_for(exc, "route lookup")
            raise
        if not route.steps:
            raise ApplicationError("route has no steps", type="EmptyRoute", non_retryable=True)
        return Route(
            steps=[RouteStep(role=s.role) for s in route.steps], signer_role=route.signer_role
        )

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
        )
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
            _raise_for(exc, "record progress")

    @activity.defn(name=ACTIVITY_ISSUE_LETTER)
    async def issue_letter(self, input: IssueLetterInput) -> LetterInfo:
        # The application's content goes from intake straight to signing inside this activity;
        # only the letter's reference comes back into workflow history.
        try:
            application = await self._intake.GetApplication(
                intake_pb2.GetApplicationRequest(application_id=input.application_id),
                timeout=_CALL_TIMEOUT_S,
            )
            letter = await self._signing.IssueLetter(
                signing_pb2.IssueLetterRequest(
                    application_id=application.id,
                    desa_code=application.desa_code,
                    letter_type=application.letter_type,
                    purpose=application.purpose,
                    fields=dict(application.fields),
                    nik=application.nik,
                    signer_role=input.signer_role,
                ),
                timeout=_ISSUE_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            _raise_for(exc, "issue letter")
            raise
        return LetterInfo(
            letter_id=letter.letter_id,
            number=letter.number,
            verification_url=letter.verification_url,
        )
