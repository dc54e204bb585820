"""The staff task inbox: a projection of the public application events.

`application.step_assigned` opens a task for the step's role in the application's desa; a
decision, a return for revision, a rejection or the issued letter closes it. The projection
is idempotent (each event id is applied once) and refuses to let an older event overwrite what
a newer one of the same application already said.
"""

import logging
from datetime import datetime

from google.protobuf import json_format
from smartdesa.v1 import events_pb2
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.event_names import (
    APPLICATION_DECIDED,
    APPLICATION_REJECTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
)
from common.events import CloudEvent
from common.messaging import PermanentEventError
from services.verification.models import (
    TASK_DONE,
    TASK_OPEN,
    TASK_REVISION_REQUESTED,
    ProcessedEvent,
    Task,
    as_utc,
)

log = logging.getLogger(__name__)

# Public subjects of every application and letter event, in any desa.
TASK_EVENT_SUBJECTS = (
    "smartdesa.events.*.*.*.application.>",
    "smartdesa.events.*.*.*.letter.>",
)
TASKS_DURABLE = "verification-tasks"

# Events after which no task of the application stays open, and the status they leave behind.
_CLOSING_EVENTS = {
    APPLICATION_DECIDED: TASK_DONE,
    APPLICATION_REVISION_REQUESTED: TASK_REVISION_REQUESTED,
    APPLICATION_REJECTED: TASK_DONE,
    LETTER_ISSUED: TASK_DONE,
}


def _parse(event: CloudEvent) -> events_pb2.ApplicationEvent:
    try:
        payload = json_format.ParseDict(
            event.data, events_pb2.ApplicationEvent(), ignore_unknown_fields=True
        )
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise PermanentEventError(f"event {event.id}: data is not an ApplicationEvent") from exc
    if not payload.application_id:
        raise PermanentEventError(f"event {event.id}: no application_id")
    if event.name == APPLICATION_STEP_ASSIGNED and not (
        payload.desa_code and payload.step_role and payload.letter_type
    ):
        raise PermanentEventError(f"event {event.id}: step_assigned without desa, role or type")
    return payload


class TaskProjection:
    """The NATS consumer's handler: applies one public event to the task table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def handle(self, event: CloudEvent) -> None:
        name = event.name
        if name != APPLICATION_STEP_ASSIGNED and name not in _CLOSING_EVENTS:
            return  # e.g. application.submitted: nothing waits on staff yet
        payload = _parse(event)
        occurred_at = as_utc(event.time)
        async with self._sessions() as session:
            if await session.get(ProcessedEvent, event.id) is not None:
                return
            latest = (
                await session.exec(
                    select(func.max(ProcessedEvent.occurred_at)).where(
                        ProcessedEvent.application_id == payload.application_id
                    )
                )
            ).one()
            if latest is not None and occurred_at < as_utc(latest):
                log.info("event %s is older than the known state of its application", event.id)
            elif name == APPLICATION_STEP_ASSIGNED:
                await self._open_step(session, payload, occurred_at)
            else:
                await self._close_open(
                    session, payload.application_id, _CLOSING_EVENTS[name], occurred_at
                )
            session.add(
                ProcessedEvent(
                    event_id=event.id,
                    application_id=payload.application_id,
                    occurred_at=occurred_at,
                )
            )
            await session.commit()

    async def _open_step(
        self, session: AsyncSession, payload: events_pb2.ApplicationEvent, assigned_at: datetime
    ) -> None:
        # The workflow waits on one step at a time: whatever else was open is over.
        await session.exec(
            update(Task)
            .where(
                col(Task.application_id) == payload.application_id,
                col(Task.step_index) != payload.step_index,
                col(Task.status) == TASK_OPEN,
            )
            .values(status=TASK_DONE, closed_at=assigned_at)
        )
        task = (
            await session.exec(
                select(Task).where(
                    Task.application_id == payload.application_id,
                    Task.step_index == payload.step_index,
                )
            )
        ).first()
        if task is None:
            task = Task(
                application_id=payload.application_id,
                step_index=payload.step_index,
                role=payload.step_role,
                desa_code=payload.desa_code,
                letter_type=payload.letter_type,
                assigned_at=assigned_at,
            )
        else:  # back at a step after a revision: the same row opens again
            task.role = payload.step_role
            task.desa_code = payload.desa_code
            task.letter_type = payload.letter_type
            task.status = TASK_OPEN
            task.assigned_at = assigned_at
            task.closed_at = None
        session.add(task)

    async def _close_open(
        self, session: AsyncSession, application_id: str, status: str, closed_at: datetime
    ) -> None:
        await session.exec(
            update(Task)
            .where(col(Task.application_id) == application_id, col(Task.status) == TASK_OPEN)
            .values(status=status, closed_at=closed_at)
        )


async def open_tasks_for(session: AsyncSession, desa_code: str, role: str) -> list[Task]:
    """What waits on `role` in `desa_code`, oldest first."""
    rows = await session.exec(
        select(Task)
        .where(Task.desa_code == desa_code, Task.role == role, Task.status == TASK_OPEN)
        .order_by(col(Task.assigned_at), col(Task.id))
    )
    return list(rows.all())


async def task_seen_by(
    session: AsyncSession, application_id: str, desa_code: str, role: str
) -> Task | None:
    """The task of this application that `role` in `desa_code` holds or held (open first, then
    the latest); None means the application is none of this staff member's business."""
    rows = await session.exec(
        select(Task)
        .where(
            Task.application_id == application_id,
            Task.desa_code == desa_code,
            Task.role == role,
        )
        .order_by(col(Task.status) != TASK_OPEN, col(Task.assigned_at).desc())
    )
    return rows.first()


async def open_task_in_desa(
    session: AsyncSession, application_id: str, desa_code: str
) -> Task | None:
    """The step currently open for this application in this desa, whoever must act on it."""
    rows = await session.exec(
        select(Task).where(
            Task.application_id == application_id,
            Task.desa_code == desa_code,
            Task.status == TASK_OPEN,
        )
    )
    return rows.first()
