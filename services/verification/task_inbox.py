"""The staff task inbox: a projection of the public application events.

`application.step_assigned` opens a task for the step's role in the application's desa, with
the step's deadline; `application.reminded` and `application.escalated` update it (an escalated
task shows in the supervisor's inbox too, and past its deadline it is overdue); a decision, a
return for revision, a rejection or the issued letter closes it; a cancelled or expired
application's tasks leave every inbox. `application.signing_blocked` (every step approved, but
signing refuses the letter) opens a task of its own kind for the signer role, on the step after
the route's last; the issued letter closes it. Such a task also shows in the kabupaten's list of
stuck letters. A step assigned with the status `awaiting_signature` (a remote signer, BSrE, signs
after the last approval) opens the signer's signature task on that step; it is reminded,
escalated and closed like a decision task, and is no stuck letter. The projection is idempotent (each event id is applied
once) and refuses to let an older event overwrite what a newer one of the same application
already said.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf import json_format
from smartdesa.v1 import events_pb2
from sqlalchemy import ColumnElement, Table, and_, case, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain import ApplicationStatus, Role
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REJECTED,
    APPLICATION_REMINDED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
)
from common.events import AreaCodes, CloudEvent
from common.messaging import PermanentEventError
from services.verification.calendars import step_working_seconds
from services.verification.kecamatan import calendar_key, step_rules
from services.verification.models import (
    TASK_CANCELLED,
    TASK_DONE,
    TASK_EXPIRED,
    TASK_KIND_DECISION,
    TASK_KIND_SIGNATURE,
    TASK_KIND_SIGNING_BLOCKED,
    TASK_OPEN,
    TASK_REVISION_REQUESTED,
    ApplicationRecord,
    ProcessedEvent,
    Task,
)
from services.verification.routes import DesaRules
from services.verification.step_rollup import DECIDED, counted, move

log = logging.getLogger(__name__)

# Public subjects of every application and letter event, in any desa.
TASK_EVENT_SUBJECTS = (
    "smartdesa.events.*.*.*.application.>",
    "smartdesa.events.*.*.*.letter.>",
)
TASKS_DURABLE = "verification-tasks"


def application_lane(event: CloudEvent) -> str | None:
    """The consumer's lane of an event (common/messaging.py): its application's. Events of one
    application are applied in stream order, those of different applications side by side."""
    application_id = event.data.get("application_id") if isinstance(event.data, dict) else None
    return str(application_id) if application_id else event.subject


# Events after which no task of the application stays open, and the status they leave behind.
_CLOSING_EVENTS = {
    APPLICATION_DECIDED: TASK_DONE,
    APPLICATION_REVISION_REQUESTED: TASK_REVISION_REQUESTED,
    APPLICATION_REJECTED: TASK_DONE,
    LETTER_ISSUED: TASK_DONE,
}
# Events that end the application while it may wait on the resident as well as on staff.
_ENDING_EVENTS = {APPLICATION_CANCELLED: TASK_CANCELLED, APPLICATION_EXPIRED: TASK_EXPIRED}
# Events that change the open task's deadline or escalation.
_UPDATING_EVENTS = (APPLICATION_REMINDED, APPLICATION_ESCALATED)
# Events that open a task, and its kind.
_OPENING_EVENTS = {
    APPLICATION_STEP_ASSIGNED: TASK_KIND_DECISION,
    APPLICATION_SIGNING_BLOCKED: TASK_KIND_SIGNING_BLOCKED,
}
_HANDLED = {*_OPENING_EVENTS, *_CLOSING_EVENTS, *_ENDING_EVENTS, *_UPDATING_EVENTS}
# Every event that says where an application stands, for the kabupaten's counts (the
# application record); the state each leaves when the event itself carries none.
_APPLICATION_STATES = {
    APPLICATION_SUBMITTED: ApplicationStatus.IN_REVIEW,
    APPLICATION_RESUBMITTED: ApplicationStatus.IN_REVIEW,
    APPLICATION_STEP_ASSIGNED: ApplicationStatus.IN_REVIEW,
    APPLICATION_DECIDED: ApplicationStatus.IN_REVIEW,
    APPLICATION_REMINDED: ApplicationStatus.IN_REVIEW,
    APPLICATION_ESCALATED: ApplicationStatus.IN_REVIEW,
    APPLICATION_REVISION_REQUESTED: ApplicationStatus.REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED: ApplicationStatus.SIGNING_BLOCKED,
    APPLICATION_REJECTED: ApplicationStatus.REJECTED,
    APPLICATION_CANCELLED: ApplicationStatus.CANCELLED,
    APPLICATION_EXPIRED: ApplicationStatus.EXPIRED,
    LETTER_ISSUED: ApplicationStatus.ISSUED,
}
FINAL_STATES = (
    ApplicationStatus.ISSUED,
    ApplicationStatus.REJECTED,
    ApplicationStatus.CANCELLED,
    ApplicationStatus.EXPIRED,
)


_application_table = ApplicationRecord.__table__  # type: ignore[attr-defined]


def _insert_into(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _task_kind(name: str, payload: events_pb2.ApplicationEvent) -> str:
    """The kind of task an opening event opens: a step assigned while the letter awaits its
    remote signer (status awaiting_signature) is the signer's signature task."""
    if payload.status == ApplicationStatus.AWAITING_SIGNATURE:
        return TASK_KIND_SIGNATURE
    return _OPENING_EVENTS[name]


def _parse(event: CloudEvent) -> events_pb2.ApplicationEvent:
    try:
        payload = json_format.ParseDict(
            event.data, events_pb2.ApplicationEvent(), ignore_unknown_fields=True
        )
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise PermanentEventError(f"event {event.id}: data is not an ApplicationEvent") from exc
    if not payload.application_id:
        raise PermanentEventError(f"event {event.id}: no application_id")
    if event.name in _OPENING_EVENTS and not (
        payload.desa_code and payload.step_role and payload.letter_type
    ):
        raise PermanentEventError(f"event {event.id}: {event.name} without desa, role or type")
    if payload.deadline:
        try:
            _deadline(payload)
        except ValueError as exc:
            raise PermanentEventError(f"event {event.id}: deadline is not RFC 3339") from exc
    return payload


def _deadline(payload: events_pb2.ApplicationEvent) -> datetime | None:
    if not payload.deadline:
        return None
    parsed = datetime.fromisoformat(payload.deadline.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("deadline without a zone")
    return as_utc(parsed)


def _areas(payload: events_pb2.ApplicationEvent) -> tuple[str, str]:
    """(kecamatan, kabupaten) codes: from the event, else from the desa code."""
    if payload.kecamatan_code and payload.kabupaten_code:
        return payload.kecamatan_code, payload.kabupaten_code
    try:
        area = AreaCodes.from_desa(payload.desa_code)
    except ValueError:
        return "", ""
    return area.kecamatan, area.kabupaten


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    if task.status != TASK_OPEN:
        return False
    if task.escalation_level > 0:
        return True
    return task.deadline is not None and as_utc(task.deadline) <= (now or utcnow())


def inbox_order(tasks: list[Task]) -> list[Task]:
    """Overdue first; then the nearest deadline; then the oldest."""
    now = utcnow()
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(
        tasks,
        key=lambda t: (
            not is_overdue(t, now),
            as_utc(t.deadline) if t.deadline else far,
            as_utc(t.assigned_at),
            t.id or 0,
        ),
    )


@dataclass
class _Ready:
    """An event waiting for SQLite's writer (TaskProjection._in_turn), and what applying it
    gave: the desa whose inbox changed and the roles the change concerns."""

    event: CloudEvent
    payload: events_pb2.ApplicationEvent
    occurred_at: datetime
    result: "asyncio.Future[tuple[str | None, set[str]] | None]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class TaskProjection:
    """The NATS consumer's handler: applies one public event to the task table. Events of
    different applications may be applied at once (the consumer's lanes, runtime.py)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        on_change: Callable[[str, frozenset[str]], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        # SQLite has one writer: the consumer's lanes (runtime.py) would each wait for its lock
        # in SQLite's busy handler, which sleeps and retries without a queue (measured: the
        # slowest applies took seconds). They take turns here instead, in order, and whoever
        # has the turn applies every event the lanes have ready in one transaction (one commit,
        # `_apply_ready`); PostgreSQL applies them side by side, one transaction each (the step
        # rollup's rows are locked, step_rollup.move).
        bind = sessions.kw.get("bind")
        sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._one_writer: asyncio.Lock | None = asyncio.Lock() if sqlite else None
        self._ready: list[_Ready] = []  # waiting for the writer's turn (SQLite)
        # Called with the desa code and the roles the changed tasks concern (their step's and
        # those they were escalated to, before and after) after the change is committed: the
        # open inbox pages of those roles refresh themselves.
        self._on_change = on_change

    async def handle(self, event: CloudEvent) -> None:
        """The JetStream consumer's handler. Most events were handed over by intake before
        their JetStream copy comes: that copy is known applied by a read alone, which does not
        wait for SQLite's writer."""
        async with self._sessions() as session:
            seen = await session.get(ProcessedEvent, event.id)
        if seen is None:
            await self.apply(event)

    async def apply(self, event: CloudEvent) -> bool:
        """Applies `event` once: False when its id was applied already (JetStream's copy of an
        event handed over by intake, task_hand_over.py, or the other way round) or when its
        type changes nothing here."""
        return (await self.apply_all([event]))[0]

    async def apply_all(self, events: Sequence[CloudEvent]) -> list[bool]:
        """Applies `events` (one application's, in order: intake's hand-over of a decision
        with the next step) in one transaction; for each, whether it was applied now. All are
        checked first: one that can never be applied refuses them all (PermanentEventError)."""
        ready = [
            _Ready(event, _parse(event), as_utc(event.time))
            for event in events
            if event.name in _HANDLED or event.name in _APPLICATION_STATES
        ]  # others (e.g. letter.revoked) change neither a task nor the application's state
        if not ready:
            results: list[tuple[str | None, set[str]] | None] = []
        elif self._one_writer is not None:
            results = await self._in_turn(ready)
        else:
            results = await self._apply_together(ready)
        applied = {r.event.id: result for r, result in zip(ready, results, strict=True)}
        told: dict[str, set[str]] = {}
        for result in results:
            if result is not None and result[0]:
                told.setdefault(result[0], set()).update(result[1])
        if self._on_change is not None:
            for desa_code, roles in told.items():
                await self._on_change(desa_code, frozenset(roles))
        return [applied.get(event.id) is not None for event in events]

    async def _apply_together(
        self, ready: list["_Ready"]
    ) -> list[tuple[str | None, set[str]] | None]:
        """Applies `ready` in one transaction of their own; None for each applied already."""
        async with self._sessions() as session:
            results = [await self._applied(session, r) for r in ready]
            if any(result is not None for result in results):
                await session.commit()
        return results

    async def _applied(
        self, session: AsyncSession, ready: "_Ready"
    ) -> tuple[str | None, set[str]] | None:
        """Applies the event in `session` (the caller commits); None: it was applied already."""
        event, payload = ready.event, ready.payload
        if self._one_writer is None:
            # PostgreSQL: the JetStream copy of an event and intake's hand-over of it (or of
            # the application's next event) may arrive together, on two replicas. One at a time
            # per application, until this transaction ends: the second then sees what the first
            # applied. (SQLite's writer takes one transaction at a time anyway.)
            await session.exec(
                select(func.pg_advisory_xact_lock(func.hashtextextended(payload.application_id, 0)))
            )
        # One query for both: was this event applied already (a redelivery; its row has the
        # event's application), and the newest event applied of its application. Each
        # statement is a round trip through the database driver's thread, and the next step's
        # task waits on them. Neither changes until this event is applied: the consumer gives
        # this application's events one at a time, in order (its lane); a hand-over of one
        # waits for the lock above (PostgreSQL) or for the writer's turn (SQLite).
        seen, latest = (
            await session.exec(
                select(
                    func.count(case((col(ProcessedEvent.event_id) == event.id, 1))),
                    func.max(ProcessedEvent.occurred_at),
                ).where(ProcessedEvent.application_id == payload.application_id)
            )
        ).one()
        if seen:
            return None
        return await self._apply(session, event, payload, latest, ready.occurred_at)

    async def _in_turn(self, ready: list["_Ready"]) -> list[tuple[str | None, set[str]] | None]:
        """SQLite: waits for the writer's turn; whoever gets it applies what is ready then
        (`ready` all in the same turn: they join the queue together)."""
        assert self._one_writer is not None
        self._ready.extend(ready)
        async with self._one_writer:
            if not all(r.result.done() for r in ready):
                batch, self._ready = self._ready, []
                await self._apply_ready(batch)
        return [r.result.result() for r in ready]

    async def _apply_ready(self, batch: list["_Ready"]) -> None:
        """Applies `batch` in one transaction, in the order the events arrived. The lanes give
        an application's next event only once this one is acked; a hand-over may add a copy of
        an event or the application's next one, which the session's autoflush lets the later
        event see (`_applied`). If one of them fails, none is kept and each is applied again
        alone, so that the failing event fails by itself and the others are applied."""
        try:
            if len(batch) > 1:
                try:
                    results = await self._apply_together(batch)
                except Exception:
                    log.info("a batch of %d events failed; applying them one by one", len(batch))
                else:
                    for ready, result in zip(batch, results, strict=True):
                        ready.result.set_result(result)
                    return
            for ready in batch:
                try:
                    [result] = await self._apply_together([ready])
                except Exception as exc:
                    ready.result.set_exception(exc)
                else:
                    ready.result.set_result(result)
        finally:
            # Cancelled meanwhile (the consumer stops): unacked, these events are redelivered.
            for ready in batch:
                if not ready.result.done():
                    ready.result.set_exception(RuntimeError("the projection was stopped"))

    async def _apply(
        self,
        session: AsyncSession,
        event: CloudEvent,
        payload: events_pb2.ApplicationEvent,
        latest: datetime | None,
        occurred_at: datetime,
    ) -> tuple[str | None, set[str]]:
        """Applies the event in `session`; the desa whose inbox changed (None: no task changed)
        and the roles the change concerns."""
        name = event.name
        changed: str | None = None
        roles: set[str] = set()
        older = latest is not None and occurred_at < as_utc(latest)
        await self._record_application(session, name, payload, occurred_at)
        # Open inbox pages are told only when a task changed, and only those of the roles it
        # concerns: each notice makes a page fetch its list (about a third of the notices
        # of a letter were events that change no task: submitted, issued after the last
        # approval; and a desa's three pages each fetched on every change of the others).
        touched = True
        if name not in _HANDLED:
            touched = False  # application.submitted / resubmitted: nothing new waits on staff
        elif older:
            touched = False
            log.info("event %s is older than the known state of its application", event.id)
        elif name in _OPENING_EVENTS:
            roles = await self._open_step(session, payload, occurred_at, _task_kind(name, payload))
        elif name in _UPDATING_EVENTS:
            roles = await self._update_open(session, name, payload)
        elif name in _ENDING_EVENTS:
            roles = await self._end(
                session, payload.application_id, _ENDING_EVENTS[name], occurred_at
            )
            touched = bool(roles)
        else:
            roles = await self._close_open(
                session, payload.application_id, _CLOSING_EVENTS[name], occurred_at
            )
            touched = bool(roles)
        if touched:
            changed = payload.desa_code or await _desa_of(session, payload.application_id)
        session.add(
            ProcessedEvent(
                event_id=event.id,
                application_id=payload.application_id,
                occurred_at=occurred_at,
            )
        )
        return changed, roles

    async def _record_application(
        self,
        session: AsyncSession,
        name: str,
        payload: events_pb2.ApplicationEvent,
        occurred_at: datetime,
    ) -> None:
        """Keeps the application's record: submitted at its earliest event (application.submitted
        may arrive after the first step's), its state as the newest event says. One upsert
        instead of a read and a write (the projection's statements are what its lanes wait on
        when SQLite has one writer)."""
        if not payload.desa_code:
            return
        status = payload.status or _APPLICATION_STATES[name]
        kecamatan, kabupaten = _areas(payload)
        record = _application_table
        insert = _insert_into(session, record).values(
            application_id=payload.application_id,
            desa_code=payload.desa_code,
            kecamatan_code=kecamatan,
            kabupaten_code=kabupaten,
            letter_type=payload.letter_type,
            status=status,
            submitted_at=occurred_at,
            status_at=occurred_at,
            closed_at=occurred_at if status in FINAL_STATES else None,
        )
        new, old = insert.excluded, record.c
        newer = new.status_at >= old.status_at
        status_now = case((newer, new.status), else_=old.status)
        status_at_now = case((newer, new.status_at), else_=old.status_at)
        await session.exec(
            insert.on_conflict_do_update(
                index_elements=[old.application_id],
                set_={
                    "submitted_at": case(
                        (new.submitted_at < old.submitted_at, new.submitted_at),
                        else_=old.submitted_at,
                    ),
                    "letter_type": case(
                        (old.letter_type == "", new.letter_type), else_=old.letter_type
                    ),
                    "status": status_now,
                    "status_at": status_at_now,
                    "closed_at": case(
                        (status_now.in_([str(s) for s in FINAL_STATES]), status_at_now), else_=None
                    ),
                },
            )
        )

    async def _open_step(
        self,
        session: AsyncSession,
        payload: events_pb2.ApplicationEvent,
        assigned_at: datetime,
        kind: str,
    ) -> set[str]:
        """The roles the change concerns: the new step's, and those of a step it closed."""
        tasks = (
            await session.exec(select(Task).where(Task.application_id == payload.application_id))
        ).all()
        # The workflow waits on one step at a time: whatever else was open is over.
        roles = await _close_tasks(
            session,
            TASK_DONE,
            assigned_at,
            [t for t in tasks if t.step_index != payload.step_index and t.status == TASK_OPEN],
        )
        task = next((t for t in tasks if t.step_index == payload.step_index), None)
        before = None if task is None else counted(task)
        if task is None:
            task = Task(
                application_id=payload.application_id,
                step_index=payload.step_index,
                role=payload.step_role,
                desa_code=payload.desa_code,
                letter_type=payload.letter_type,
                assigned_at=assigned_at,
            )
        else:  # back at a step after a revision: the same row opens again, with a fresh deadline
            task.role = payload.step_role
            task.desa_code = payload.desa_code
            task.letter_type = payload.letter_type
            task.status = TASK_OPEN
            task.assigned_at = assigned_at
            task.closed_at = None
            task.working_seconds = None
        task.kecamatan_code, task.kabupaten_code = _areas(payload)
        task.application_number = payload.application_number or task.application_number
        task.kind = kind
        task.deadline = _deadline(payload)
        task.escalated_to_role = ""
        task.supervisor_role = ""
        task.escalation_level = 0
        task.reminders = 0
        session.add(task)
        # A decided step opened again leaves the kabupaten view's step times until decided again.
        await move(session, before, counted(task))
        return roles | _roles_of(task)

    async def _update_open(
        self, session: AsyncSession, name: str, payload: events_pb2.ApplicationEvent
    ) -> set[str]:
        """The roles the open task concerned before and concerns after (escalated: the
        supervisor's, or the kabupaten's, beside the step's)."""
        roles: set[str] = set()
        rows = await session.exec(
            select(Task).where(
                Task.application_id == payload.application_id, Task.status == TASK_OPEN
            )
        )
        for task in rows.all():
            roles |= _roles_of(task)
            if payload.deadline:
                task.deadline = _deadline(payload)
            if name == APPLICATION_REMINDED:
                task.reminders += 1
            # A later escalation never lowers an earlier one (level 2 stays level 2).
            elif payload.escalation_level >= task.escalation_level:
                task.escalation_level = max(payload.escalation_level, 1)
                task.escalated_to_role = payload.escalated_to_role
                if task.escalation_level == 1:
                    task.supervisor_role = payload.escalated_to_role
            session.add(task)
            roles |= _roles_of(task)
        return roles

    async def _end(
        self, session: AsyncSession, application_id: str, status: str, closed_at: datetime
    ) -> set[str]:
        return await _close(
            session,
            status,
            closed_at,
            col(Task.application_id) == application_id,
            col(Task.status).in_((TASK_OPEN, TASK_REVISION_REQUESTED)),
        )

    async def _close_open(
        self, session: AsyncSession, application_id: str, status: str, closed_at: datetime
    ) -> set[str]:
        """The roles of the task that was open (and is now closed); none when none was."""
        return await _close(
            session,
            status,
            closed_at,
            col(Task.application_id) == application_id,
            col(Task.status) == TASK_OPEN,
        )


async def _close(
    session: AsyncSession, status: str, closed_at: datetime, *where: ColumnElement[bool]
) -> set[str]:
    """Closes the tasks `where` selects (one, or none, as the workflow waits on one step at a
    time); the roles whose inbox listed them (none: there was none)."""
    tasks = (await session.exec(select(Task).where(*where))).all()
    return await _close_tasks(session, status, closed_at, tasks)


async def _close_tasks(
    session: AsyncSession, status: str, closed_at: datetime, tasks: Sequence[Task]
) -> set[str]:
    """Closes `tasks`; the roles whose inbox listed them. A decided step keeps its working
    seconds in its desa's calendar (a kecamatan step: its kecamatan's) as set now, at the
    decision (docs/performance.md), instead of the kabupaten view working each one out again
    in a calendar that may have changed since; the view's rollup (step_rollup.py) follows
    every change of a step in the same transaction."""
    rules: dict[str, DesaRules] = {}
    closed: set[str] = set()
    for task in tasks:
        closed |= _roles_of(task)
        before = counted(task)  # a step returned for revision, then cancelled, had its part
        working_seconds = None
        if status in DECIDED:
            # A kecamatan step counts in its kecamatan's calendar, as its deadline did. Read
            # before the task changes: the read's autoflush would write the task twice.
            key = calendar_key(task.desa_code, task.role)
            if key not in rules:
                rules[key] = await step_rules(session, task.desa_code, task.role)
            working_seconds = step_working_seconds(rules[key], as_utc(task.assigned_at), closed_at)
        task.status = status
        task.closed_at = closed_at
        task.working_seconds = working_seconds
        session.add(task)
        # The kabupaten view's step times, in the same transaction (step_rollup.py).
        await move(session, before, counted(task))
    return closed


def _roles_of(task: Task) -> set[str]:
    """Whose inbox lists an open task: its step's role, and those it was escalated to."""
    return {r for r in (task.role, task.escalated_to_role, task.supervisor_role) if r}


async def _desa_of(session: AsyncSession, application_id: str) -> str | None:
    rows = await session.exec(select(Task.desa_code).where(Task.application_id == application_id))
    return rows.first()


def _held_by(roles: list[str]) -> ColumnElement[bool]:
    """A task `roles` may see: one of them holds its step, or it was escalated to one of them
    (a supervisor keeps an escalated task when it escalates further, to the kabupaten)."""
    return or_(
        col(Task.role).in_(roles),
        col(Task.escalated_to_role).in_(roles),
        col(Task.supervisor_role).in_(roles),
    )


async def open_tasks_for(session: AsyncSession, desa_code: str, roles: list[str]) -> list[Task]:
    """What waits on `roles` in `desa_code` (theirs, or escalated to them): overdue first."""
    rows = await session.exec(
        select(Task).where(Task.desa_code == desa_code, Task.status == TASK_OPEN, _held_by(roles))
    )
    return inbox_order(list(rows.all()))


async def task_seen_by(
    session: AsyncSession, application_id: str, desa_code: str, roles: list[str]
) -> Task | None:
    """The task of this application that `roles` in `desa_code` hold or held (open first, then
    the latest); None means the application is none of this staff member's business."""
    rows = await session.exec(
        select(Task)
        .where(
            Task.application_id == application_id,
            Task.desa_code == desa_code,
            _held_by(roles),
        )
        .order_by(col(Task.status) != TASK_OPEN, col(Task.assigned_at).desc())
    )
    return rows.first()


async def application_seen_by(
    session: AsyncSession, number: str, desa_code: str, roles: list[str]
) -> str | None:
    """The id of the application numbered `number` (e.g. SKU-2026-000123), if `roles` in
    `desa_code` hold or held a task of it; None otherwise, as `task_seen_by`."""
    rows = await session.exec(
        select(Task.application_id).where(
            Task.application_number == number.strip().upper(),
            Task.desa_code == desa_code,
            _held_by(roles),
        )
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


def overdue_clause(kabupaten_code: str) -> ColumnElement[bool]:
    """The kabupaten view's overdue list: open steps past their deadline or escalated, and
    letters signing refuses."""
    return and_(
        col(Task.kabupaten_code) == kabupaten_code,
        col(Task.status) == TASK_OPEN,
        or_(
            col(Task.escalation_level) > 0,
            col(Task.deadline) <= utcnow(),
            col(Task.kind) == TASK_KIND_SIGNING_BLOCKED,
        ),
    )


async def overdue_by_number(session: AsyncSession, number: str, kabupaten_code: str) -> Task | None:
    """The open step of the application numbered `number`, if the kabupaten view's overdue list
    of `kabupaten_code` shows it (`overdue_in_kabupaten`); None otherwise."""
    rows = await session.exec(
        select(Task).where(Task.application_number == number, overdue_clause(kabupaten_code))
    )
    return rows.first()


async def overdue_in_kabupaten(
    session: AsyncSession,
    kabupaten_code: str,
    kecamatan_code: str | None = None,
    desa_code: str | None = None,
    limit: int | None = None,
) -> list[Task]:
    """Open tasks past their deadline (or escalated), and letters signing refuses, in the
    kabupaten's desa, most urgent first (`inbox_order`); the first `limit` of them when given,
    ordered and cut by the database."""
    where = _overdue_where(kabupaten_code, kecamatan_code, desa_code)
    if limit is None:
        return inbox_order(list((await session.exec(select(Task).where(where))).all()))
    # inbox_order's keys in SQL: overdue first, then the nearest deadline (none last), then
    # the oldest assignment.
    urgent = case((or_(col(Task.escalation_level) > 0, col(Task.deadline) <= utcnow()), 0), else_=1)
    query = (
        select(Task)
        .where(where)
        .order_by(
            urgent,
            col(Task.deadline).is_(None),
            col(Task.deadline),
            col(Task.assigned_at),
            col(Task.id),
        )
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def overdue_count(
    session: AsyncSession,
    kabupaten_code: str,
    kecamatan_code: str | None = None,
    desa_code: str | None = None,
) -> int:
    """How many tasks `overdue_in_kabupaten` lists without a limit."""
    where = _overdue_where(kabupaten_code, kecamatan_code, desa_code)
    count = (await session.exec(select(func.count()).select_from(Task).where(where))).one()
    return int(count)


def _overdue_where(
    kabupaten_code: str, kecamatan_code: str | None, desa_code: str | None
) -> ColumnElement[bool]:
    where = overdue_clause(kabupaten_code)
    if kecamatan_code:
        where = and_(where, col(Task.kecamatan_code) == kecamatan_code)
    if desa_code:
        where = and_(where, col(Task.desa_code) == desa_code)
    return where


def _escalated_to_kabupaten(kabupaten_code: str) -> ColumnElement[bool]:
    return and_(
        col(Task.kabupaten_code) == kabupaten_code,
        col(Task.status) == TASK_OPEN,
        col(Task.kind) == TASK_KIND_DECISION,
        col(Task.escalation_level) > 0,
        col(Task.escalated_to_role) == Role.KABUPATEN_OPERATOR,
    )


async def escalated_to_kabupaten(session: AsyncSession, kabupaten_code: str) -> list[Task]:
    """Open steps escalated to the kabupaten operator in the kabupaten's desa (a Kades step past
    its deadline, or any step past its second one): the operator's inbox, overdue first."""
    rows = await session.exec(select(Task).where(_escalated_to_kabupaten(kabupaten_code)))
    return inbox_order(list(rows.all()))


async def escalated_task_in_kabupaten(
    session: AsyncSession, application_id: str, kabupaten_code: str
) -> Task | None:
    """The open step of this application, if it is escalated to the kabupaten operator of
    `kabupaten_code`; None otherwise (for them it does not exist)."""
    rows = await session.exec(
        select(Task).where(
            Task.application_id == application_id, _escalated_to_kabupaten(kabupaten_code)
        )
    )
    return rows.first()


async def escalated_by_number(
    session: AsyncSession, number: str, kabupaten_code: str
) -> Task | None:
    """As `escalated_task_in_kabupaten`, the application named by its number."""
    rows = await session.exec(
        select(Task).where(
            Task.application_number == number, _escalated_to_kabupaten(kabupaten_code)
        )
    )
    return rows.first()
