"""The staff task inbox: what waits on me, the application behind a task, and my decision."""

import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field, SecretStr
from smartdesa.v1 import intake_pb2

from common.db import as_utc
from common.domain import ApplicationStatus, Decision
from common.http import Problem
from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.decisions import actor_role_for, send_decision, send_retry_issue
from services.verification.intake_reader import read_application, read_attachment
from services.verification.models import (
    TASK_CANCELLED,
    TASK_DONE,
    TASK_EXPIRED,
    TASK_KIND_SIGNING_BLOCKED,
    TASK_REVISION_REQUESTED,
    Staff,
    Task,
)
from services.verification.signer_passphrase import (
    check_may_sign,
    issue_request_of,
    let_workflow_pick_up,
    sign_with_passphrase,
)
from services.verification.task_inbox import (
    application_seen_by,
    is_overdue,
    open_task_in_desa,
    open_tasks_for,
    task_seen_by,
)
from workflows.approval.models import DecisionInput, RetryIssueInput

router = APIRouter(prefix="/tasks", tags=["tasks"])

ApplicationId = Annotated[str, Path(min_length=1, max_length=64)]

_NOT_YOURS = "Tugas untuk permohonan ini tidak ditemukan."
# Why a task the staff member held waits on nobody now.
_ENDED = {
    TASK_CANCELLED: "Permohonan ini sudah dibatalkan oleh pemohon.",
    TASK_EXPIRED: "Permohonan ini sudah kedaluwarsa.",
    TASK_REVISION_REQUESTED: "Permohonan ini sedang menunggu perbaikan dari pemohon.",
    TASK_DONE: "Tahap ini sudah diputuskan.",
}


class StepOut(BaseModel):
    index: int
    role: str


class TaskSummary(BaseModel):
    application_id: str
    # e.g. SKU-2026-000123: what the resident and Diskominfo call it ("" if from before).
    application_number: str
    letter_type: str
    step: StepOut
    assigned_at: datetime
    deadline: datetime | None
    overdue: bool
    escalated_to_role: str | None
    escalation_level: int
    # The role in which the signed-in staff member sees this task: the step's own role (maybe
    # held as Plt) or, for an escalated task, the supervisor's.
    acting_as: str
    # "decision" (a route step), or "signing_blocked": every step approved, but signing refuses
    # the letter; fix the cause (see the task's reason), then POST .../retry-issue.
    kind: str

    @classmethod
    def of(cls, task: Task, roles: list[str]) -> "TaskSummary":
        return cls(
            application_id=task.application_id,
            application_number=task.application_number,
            letter_type=task.letter_type,
            step=_step(task),
            assigned_at=as_utc(task.assigned_at),
            deadline=as_utc(task.deadline) if task.deadline else None,
            overdue=is_overdue(task),
            escalated_to_role=task.escalated_to_role or None,
            escalation_level=task.escalation_level,
            acting_as=task.role
            if task.role in roles
            else task.supervisor_role
            if task.supervisor_role in roles
            else task.escalated_to_role,
            kind=task.kind,
        )


class AttachmentOut(BaseModel):
    id: str
    kind: str
    content_type: str
    size_bytes: int
    url: str


class ApplicationOut(BaseModel):
    id: str
    number: str  # e.g. SKU-2026-000123; "" for one submitted before numbers existed
    desa_code: str
    letter_type: str
    purpose: str
    fields: dict[str, str]
    nik: str
    status: str
    submitted_at: datetime | None


class TaskState(BaseModel):
    step: StepOut
    kind: str
    # signing_blocked: signing's reason (e.g. the signer has no certificate), while it holds.
    reason: str | None
    status: str
    deadline: datetime | None
    overdue: bool
    escalated_to_role: str | None
    escalation_level: int


class TaskDetail(BaseModel):
    application: ApplicationOut
    attachments: list[AttachmentOut]
    task: TaskState


class DecisionIn(BaseModel):
    decision: Decision
    reason: str | None = Field(default=None, max_length=2000)
    # The step the staff member saw; without it, the step open now in their desa.
    step: int | None = Field(default=None, ge=0)
    # Lets a client retry the same decision safely.
    request_id: str | None = Field(default=None, min_length=1, max_length=100)
    # The role the staff member decides in, when they hold more than one (their own and a Plt
    # role); without it, the open step's role if they hold it, else the role it was escalated
    # to if they hold that, else their own role.
    act_as: str | None = Field(default=None, min_length=1, max_length=40)
    # The signer's BSrE passphrase, with the last approval: verification has the letter signed
    # with it; it never goes into the decision (workflow history), a database or a log.
    passphrase: SecretStr | None = Field(default=None, min_length=1, max_length=200)


def _step(task: Task) -> StepOut:
    return StepOut(index=task.step_index, role=task.role)


async def _task_of(
    session: SessionDep, staff: Staff, roles: list[str], application_id: str
) -> Task:
    task = await task_seen_by(session, application_id, staff.desa_code, roles)
    if task is None:
        raise Problem(404, _NOT_YOURS, code="not-found")
    return task


@router.get("")
async def list_tasks(staff: DesaStaff, roles: HeldRoles, session: SessionDep) -> list[TaskSummary]:
    """What waits on me (in my own role, a Plt role, or escalated to me): overdue first."""
    return [TaskSummary.of(t, roles) for t in await open_tasks_for(session, staff.desa_code, roles)]


@router.get("/by-number/{number}")
async def get_task_by_number(
    number: Annotated[str, Path(min_length=1, max_length=32)],
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TaskDetail:
    """The task of the application a resident names by its number (SKU-2026-000123)."""
    application_id = await application_seen_by(session, number, staff.desa_code, roles)
    if application_id is None:
        raise Problem(404, _NOT_YOURS, code="not-found")
    detail, _ = await task_detail(application_id, staff, roles, session, runtime)
    return detail


@router.get("/{application_id}")
async def get_task(
    application_id: ApplicationId,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TaskDetail:
    detail, _ = await task_detail(application_id, staff, roles, session, runtime)
    return detail


async def task_detail(
    application_id: str,
    staff: Staff,
    roles: list[str],
    session: SessionDep,
    runtime: RuntimeDep,
) -> tuple[TaskDetail, intake_pb2.Application]:
    """The task as `GET /tasks/{id}` shows it, and intake's application behind it (the staff
    page shows its timeline too)."""
    task = await _task_of(session, staff, roles, application_id)
    app = await read_application(
        runtime.intake, application_id, runtime.settings.intake_timeout_seconds
    )
    if app.desa_code != staff.desa_code:  # our projection and intake must agree on the desa
        raise Problem(404, _NOT_YOURS, code="not-found")
    detail = TaskDetail(
        application=ApplicationOut(
            id=app.id,
            number=app.number,
            desa_code=app.desa_code,
            letter_type=app.letter_type,
            purpose=app.purpose,
            fields=dict(app.fields),
            nik=app.nik,
            status=app.status,
            submitted_at=app.submitted_at.ToDatetime(UTC) if app.HasField("submitted_at") else None,
        ),
        attachments=[_attachment(application_id, a) for a in app.attachments],
        task=TaskState(
            step=_step(task),
            kind=task.kind,
            reason=app.status_reason or None
            if task.kind == TASK_KIND_SIGNING_BLOCKED
            and app.status == ApplicationStatus.SIGNING_BLOCKED
            else None,
            status=task.status,
            deadline=as_utc(task.deadline) if task.deadline else None,
            overdue=is_overdue(task),
            escalated_to_role=task.escalated_to_role or None,
            escalation_level=task.escalation_level,
        ),
    )
    return detail, app


def _attachment(application_id: str, info: intake_pb2.AttachmentInfo) -> AttachmentOut:
    return AttachmentOut(
        id=info.id,
        kind=info.kind,
        content_type=info.content_type,
        size_bytes=info.size_bytes,
        url=f"/api/v1/tasks/{application_id}/attachments/{info.id}",
    )


@router.get("/{application_id}/attachments/{attachment_id}")
async def get_attachment(
    application_id: ApplicationId,
    attachment_id: Annotated[str, Path(min_length=1, max_length=64)],
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    await _task_of(session, staff, roles, application_id)
    content = await read_attachment(
        runtime.intake, application_id, attachment_id, runtime.settings.intake_timeout_seconds
    )
    return Response(
        content=content.content,
        media_type=content.info.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            # Identity documents: never kept by shared caches.
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/{application_id}/decision")
async def decide(
    application_id: ApplicationId,
    body: DecisionIn,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    # No check of the step's role or desa here on purpose: the workflow's validator refuses
    # those, so a refused decision never enters the workflow's history and one place holds the
    # rule. We only vouch for which role this person holds now (own or Plt).
    open_task = await open_task_in_desa(session, application_id, staff.desa_code)
    held = (
        await task_seen_by(session, application_id, staff.desa_code, roles)
        if open_task is None
        else None
    )
    if open_task is None and held is None:
        # Nothing of this application in their desa, ever: not theirs, even naming a step (an
        # application of another desa must read as missing, as on every other staff route).
        raise Problem(
            404,
            "Tidak ada tahap yang menunggu keputusan untuk permohonan ini.",
            code="no-open-step",
        )
    step_index = body.step
    if step_index is None:
        if open_task is None:
            # A letter this person worked on that waits on nobody now (decided on, withdrawn by
            # the resident, expired) is a conflict with its state.
            assert held is not None
            raise Problem(
                409,
                "Tidak ada tahap yang menunggu keputusan untuk permohonan ini."
                + f" {_ENDED.get(held.status, '')}".rstrip(),
                code="no-open-step",
            )
        step_index = open_task.step_index
    actor_role = actor_role_for(staff.role, roles, open_task, body.act_as)
    request_id = body.request_id or str(uuid.uuid4())
    wait = timedelta(seconds=runtime.settings.decision_timeout_seconds)
    state = await send_decision(
        runtime.temporal,
        application_id,
        DecisionInput(
            request_id=request_id,
            decision=body.decision,
            step_index=step_index,
            actor_username=staff.username,
            actor_role=actor_role,
            actor_desa_code=staff.desa_code,
            reason=body.reason or "",
            actor_is_plt=actor_role != staff.role,
        ),
        wait,
    )
    if body.passphrase is None or body.decision != Decision.APPROVE:
        return asdict(state)
    # The last approval (the workflow now knows who signs): sign with the passphrase here.
    issue = await issue_request_of(runtime.temporal, application_id)
    if issue is None:  # not the last step: there is nothing to sign yet
        return asdict(state)
    await sign_with_passphrase(runtime, application_id, issue, body.passphrase, approved=True)
    retry = RetryIssueInput(
        request_id=f"{request_id}-signed",
        actor_username=staff.username,
        actor_role=actor_role,
        actor_desa_code=staff.desa_code,
    )
    return asdict(await let_workflow_pick_up(runtime.temporal, application_id, retry, wait))


class RetryIssueIn(BaseModel):
    # Lets a client retry the same request safely.
    request_id: str | None = Field(default=None, min_length=1, max_length=100)
    # The signer's BSrE passphrase: verification has the letter signed with it first; it never
    # goes into the Update (workflow history), a database or a log.
    passphrase: SecretStr | None = Field(default=None, min_length=1, max_length=200)


@router.post("/{application_id}/retry-issue")
async def retry_issue(
    application_id: ApplicationId,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    body: RetryIssueIn | None = None,
) -> dict[str, Any]:
    """After fixing why signing refused an approved letter (a certificate installed, a Plt's
    printed name filled in, ...), try issuing it now instead of waiting for the next automatic
    attempt. Answers with the state after that attempt. The workflow decides who may (the
    signer role, the Sekdes, the Kades of the desa). With `passphrase` (a BSrE desa), the letter
    is signed with it first; a wrong one is refused and the letter stays blocked."""
    open_task = await open_task_in_desa(session, application_id, staff.desa_code)
    if open_task is None or open_task.kind != TASK_KIND_SIGNING_BLOCKED:
        held = await task_seen_by(session, application_id, staff.desa_code, roles)
        if held is None and open_task is None:
            raise Problem(404, _NOT_YOURS, code="not-found")
        raise Problem(
            409,
            "Surat ini tidak sedang tertahan di tanda tangan elektronik.",
            code="not-blocked",
        )
    retry = RetryIssueInput(
        request_id=(body.request_id if body else None) or str(uuid.uuid4()),
        actor_username=staff.username,
        actor_role=actor_role_for(staff.role, roles, open_task, None),
        actor_desa_code=staff.desa_code,
    )
    wait = timedelta(seconds=runtime.settings.decision_timeout_seconds)
    if body is not None and body.passphrase is not None:
        issue = await issue_request_of(runtime.temporal, application_id)
        if issue is None:
            raise Problem(
                409,
                "Surat ini tidak sedang tertahan di tanda tangan elektronik.",
                code="not-blocked",
            )
        check_may_sign(issue, retry.actor_role)
        await sign_with_passphrase(runtime, application_id, issue, body.passphrase)
        return asdict(await let_workflow_pick_up(runtime.temporal, application_id, retry, wait))
    return asdict(await send_retry_issue(runtime.temporal, application_id, retry, wait))
