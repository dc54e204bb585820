"""The complaint workflow's one activity: tell intake the deadline passed. Intake escalates an
unanswered complaint once (idempotent), so Temporal may retry it freely."""

import grpc
from smartdesa.v1 import public_duties_pb2, public_duties_pb2_grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.complaint import ACTIVITY_ESCALATE

_CALL_TIMEOUT_S = 20.0


class ComplaintActivities:
    def __init__(self, intake_channel: grpc.aio.Channel) -> None:
        self._duties = public_duties_pb2_grpc.PublicDutiesServiceStub(intake_channel)

    @activity.defn(name=ACTIVITY_ESCALATE)
    async def escalate(self, complaint_id: str) -> bool:
        try:
            answer: public_duties_pb2.EscalateComplaintResponse = (
                await self._duties.EscalateComplaint(
                    public_duties_pb2.EscalateComplaintRequest(complaint_id=complaint_id),
                    timeout=_CALL_TIMEOUT_S,
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                # The complaint was never stored (its filing failed after the start).
                raise ApplicationError(
                    "complaint not found", type="NOT_FOUND", non_retryable=True
                ) from exc
            raise
        return answer.escalated
