"""gRPC TaskInboxService: intake hands over an application's events as soon as it has committed
them (services/intake/task_hand_over.py), and the task projection applies them then, in one
transaction, instead of after the outbox relay, JetStream and the consumer's queue. The
JetStream copies still come and change nothing (the projection applies each event id once), so
a hand-over that fails or never comes costs only time; the projection's order and idempotence
do not depend on it."""

from collections.abc import Callable

import grpc
from smartdesa.v1 import tasks_pb2, tasks_pb2_grpc

from common.events import CloudEvent
from common.messaging import PermanentEventError
from services.verification.task_inbox import TASK_EVENT_SUBJECTS, TaskProjection

SERVICE_NAME = "smartdesa.v1.TaskInboxService"
# The kinds of event the projection's consumer takes from JetStream (application, letter:
# TASK_EVENT_SUBJECTS); a hand-over of any other event is refused.
_KINDS = frozenset(subject.split(".")[5] for subject in TASK_EVENT_SUBJECTS)


class TaskInboxServicer(tasks_pb2_grpc.TaskInboxServiceServicer):
    def __init__(self, projection: TaskProjection) -> None:
        self._projection = projection

    async def HandOverEvents(
        self, request: tasks_pb2.HandOverEventsRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb2.HandOverEventsResponse:
        events = []
        for handed in request.events:
            try:
                event = CloudEvent.from_message(dict(handed.headers), handed.data)
            except ValueError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not a CloudEvent: {exc}")
                raise
            if event.name.partition(".")[0] not in _KINDS or not isinstance(event.data, dict):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not an application event")
            events.append(event)
        if len({event.data.get("application_id") for event in events}) > 1:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "events of one application only")
        try:
            applied = await self._projection.apply_all(events)
        except PermanentEventError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise
        return tasks_pb2.HandOverEventsResponse(applied=applied)


def register(projection: TaskProjection) -> Callable[[grpc.aio.Server], None]:
    """The `register` callback for common.rpc.GrpcServer."""

    def add(server: grpc.aio.Server) -> None:
        tasks_pb2_grpc.add_TaskInboxServiceServicer_to_server(TaskInboxServicer(projection), server)

    return add
