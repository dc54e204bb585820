"""The staff task inbox: what waits on me, the application behind a task, and my decision.
The use cases are `staff_tasks`, which the staff pages call too."""

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field, SecretStr

from common.domain import Decision
from services.verification import access_log, staff_tasks
from services.verification.api.deps import (
    CurrentStaff,
    DesaStaff,
    HeldRoles,
    RuntimeDep,
    SessionDep,
    SignerDesk,
    TaskDesk,
)
from services.verification.api.params import ApplicationId
from services.verification.intake_reader import read_attachment
from services.verification.staff_tasks import DecisionRequest, TaskDetail, TaskSummary

router = APIRouter(prefix="/tasks", tags=["tasks"])


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


@router.get("")
async def list_tasks(staff: DesaStaff, roles: HeldRoles, session: SessionDep) -> list[TaskSummary]:
    """What waits on me (in my own role, a Plt role, or escalated to me): overdue first."""
    return await staff_tasks.tasks_for(session, staff, roles)


@router.get("/by-number/{number}")
async def get_task_by_number(
    number: Annotated[str, Path(min_length=1, max_length=32)],
    staff: CurrentStaff,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TaskDetail:
    """The task of the application a resident names by its number (SKU-2026-000123, any
    case): for whom `GET /tasks/{application_id}` shows it (staff_tasks.desk_by_number)."""
    desk, application_id = await staff_tasks.desk_by_number(session, staff, number)
    detail, _ = await staff_tasks.task_detail(
        runtime, session, desk.staff, desk.roles, application_id
    )
    return detail


@router.get("/{application_id}")
async def get_task(
    application_id: ApplicationId,
    desk: TaskDesk,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TaskDetail:
    """The task and the application behind it: for the staff of its desa whose role has (or
    had) a step on it, and for the kabupaten operator while the step is escalated to them."""
    detail, _ = await staff_tasks.task_detail(
        runtime, session, desk.staff, desk.roles, application_id
    )
    return detail


@router.get("/{application_id}/attachments/{attachment_id}")
async def get_attachment(
    application_id: ApplicationId,
    attachment_id: Annotated[str, Path(min_length=1, max_length=64)],
    desk: TaskDesk,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    task = await staff_tasks.task_of(session, desk.staff, desk.roles, application_id)
    content = await read_attachment(
        runtime.intake, application_id, attachment_id, runtime.settings.intake_timeout_seconds
    )
    await access_log.record_now(
        session,
        desk.staff,
        access_log.KIND_ATTACHMENT,
        application_id=application_id,
        purpose=task.application_number,
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
    desk: TaskDesk,
    session: SessionDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Approve, return for revision or reject the step open now: the step's role (own or Plt),
    after escalation whoever it was escalated to, the kabupaten operator included (who may not
    give the last approval: it signs the letter). The workflow checks role, desa and step."""
    request = DecisionRequest(
        decision=body.decision,
        reason=body.reason,
        step=body.step,
        request_id=body.request_id,
        act_as=body.act_as,
        passphrase=body.passphrase,
    )
    return await staff_tasks.decide(
        runtime, session, desk.staff, desk.roles, application_id, request
    )


class RetryIssueIn(BaseModel):
    # Lets a client retry the same request safely.
    request_id: str | None = Field(default=None, min_length=1, max_length=100)
    # The signer's BSrE passphrase: verification has the letter signed with it first; it never
    # goes into the Update (workflow history), a database or a log.
    passphrase: SecretStr | None = Field(default=None, min_length=1, max_length=200)


@router.post("/{application_id}/retry-issue")
async def retry_issue(
    application_id: ApplicationId,
    desk: SignerDesk,
    session: SessionDep,
    runtime: RuntimeDep,
    body: RetryIssueIn | None = None,
) -> dict[str, Any]:
    """After fixing why signing refused an approved letter (a certificate installed, a Plt's
    printed name filled in, ...), try issuing it now instead of waiting for the next automatic
    attempt. Answers with the state after that attempt. The workflow decides who may (the
    signer role, the Sekdes, the Kades of the desa). With `passphrase` (a BSrE desa), the letter
    is signed with it first; a wrong one is refused and the letter stays blocked. A camat whose
    kecamatan signs through BSrE signs the letter awaiting their "mengetahui" here too."""
    return await staff_tasks.retry_issue(
        runtime,
        session,
        desk.staff,
        desk.roles,
        application_id,
        request_id=body.request_id if body else None,
        passphrase=body.passphrase if body else None,
    )
