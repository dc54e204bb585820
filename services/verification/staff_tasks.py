"""A staff member's tasks, as the inbox page, the application page and the API (/tasks) all
see and act on them: what waits on me, the application behind a task, my decision, and issuing
again a letter signing refused. Who is asking (a desa staff member, and the roles they hold now,
own or Plt) comes from the callers' dependencies; which task they may see is decided here, and
the refusals are domain errors (`common.domain.errors`).

The workflow is the authority on role, desa and step for a decision: its client
(`decisions.py`) and the passphrase signing (`signer_passphrase.py`) are called here, one line
each, and their refusals pass through as they come."""

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from pydantic import BaseModel, SecretStr
from smartdesa.v1 import intake_pb2, signing_pb2
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain import KABUPATEN_ROLES, ApplicationStatus, Decision, Role, who_may_sign
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from common.wilayah import find_desa
from services.verification import access_log
from services.verification.decisions import (
    actor_role_for,
    issuing_outcome,
    send_decision,
    send_retry_issue,
)
from services.verification.intake_reader import read_application
from services.verification.kecamatan import (
    is_kecamatan_staff,
    kecamatan_task,
    open_kecamatan_tasks,
)
from services.verification.models import (
    TASK_CANCELLED,
    TASK_DONE,
    TASK_EXPIRED,
    TASK_KIND_SIGNATURE,
    TASK_KIND_SIGNING_BLOCKED,
    TASK_REVISION_REQUESTED,
    Staff,
    Task,
)
from services.verification.plt import roles_held
from services.verification.routes import route_for
from services.verification.runtime import Runtime
from services.verification.signer_passphrase import Signer, sign
from services.verification.task_inbox import (
    application_seen_by,
    escalated_by_number,
    escalated_task_in_kabupaten,
    escalated_to_kabupaten,
    inbox_order,
    is_overdue,
    open_task_in_desa,
    open_tasks_for,
    overdue_by_number,
    task_seen_by,
)
from workflows.approval.models import DecisionInput, RetryIssueInput

log = logging.getLogger(__name__)

NOT_YOURS = "Tugas untuk permohonan ini tidak ditemukan."
# A number nobody has and one the asker may not see get the same answer.
NUMBER_NOT_FOUND = "Nomor permohonan tidak ditemukan."
NO_OPEN_STEP = "Tidak ada tahap yang menunggu keputusan untuk permohonan ini."
NOT_BLOCKED = "Surat ini tidak sedang tertahan di tanda tangan elektronik."
# Why a task the staff member held waits on nobody now.
ENDED = {
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
    # "decision" (a route step); "signature": every step approved, the signer signs remotely
    # (BSrE): POST .../retry-issue with the passphrase; or "signing_blocked": every step
    # approved, but signing refuses the letter; fix the cause (see the task's reason), then
    # POST .../retry-issue.
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
    # Where it was filed: portal, walk_in (at the desa office) or whatsapp (by chat).
    channel: str = "portal"


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


@dataclass(frozen=True)
class DecisionRequest:
    decision: Decision
    reason: str | None = None
    # The step the staff member saw; without it, the step open now in their desa.
    step: int | None = None
    # Lets a client retry the same decision safely.
    request_id: str | None = None
    # The role the staff member decides in, when they hold more than one (their own and a Plt
    # role); without it, see decisions.actor_role_for.
    act_as: str | None = None
    # The signer's BSrE passphrase, with the last approval: the letter is signed with it here;
    # it never goes into the decision (workflow history), a database or a log.
    passphrase: SecretStr | None = None


class EscalatedTask(TaskSummary):
    """A task with where it waits, by code and by name: a row of the kabupaten operator's inbox
    (steps escalated to them) and of a kecamatan's (its desa's letters at its steps)."""

    desa_code: str
    desa_name: str
    kecamatan_code: str
    kecamatan_name: str

    @classmethod
    def of_task(cls, task: Task, roles: list[str] | None = None) -> "EscalatedTask":
        desa = find_desa(task.desa_code)
        return cls(
            **TaskSummary.of(task, roles or [Role.KABUPATEN_OPERATOR]).model_dump(),
            desa_code=task.desa_code,
            desa_name=desa.name if desa else task.desa_code,
            kecamatan_code=task.kecamatan_code,
            kecamatan_name=desa.kecamatan if desa else task.kecamatan_code,
        )


@dataclass(frozen=True)
class Desk:
    """Who acts on an application's task, and in which roles: a desa staff member in the roles
    they hold now, or the kabupaten operator, for a step escalated to them, as if at the desk of
    that step's desa (the workflow still checks role, desa and step)."""

    staff: Staff
    roles: list[str]
    kabupaten: bool = False
    # A kecamatan staff member at their kecamatan's step of one of its desa's letters.
    kecamatan: bool = False


KABUPATEN_OPERATOR_ONLY = "Fitur ini hanya untuk operator kabupaten."
DESA_OR_KABUPATEN_ONLY = "Fitur ini hanya untuk staf desa dan operator kabupaten."


def is_kabupaten_operator(staff: Staff) -> bool:
    return staff.role == Role.KABUPATEN_OPERATOR and bool(staff.kabupaten_code)


def _at_desa(staff: Staff, desa_code: str) -> Staff:
    """The kabupaten operator as the use cases below see them for one desa's task: a copy,
    never added to the session."""
    return Staff(
        id=staff.id,
        username=staff.username,
        password_hash="",
        role=staff.role,
        desa_code=desa_code,
        kabupaten_code=staff.kabupaten_code,
        active=staff.active,
        session_version=staff.session_version,
    )


async def desk_for(session: AsyncSession, staff: Staff, application_id: str) -> Desk:
    """The desk an application's task is seen and decided from. The kabupaten operator sees
    only steps escalated to them in their kabupaten (NotFound for any other); the kabupaten's
    read-only viewer none."""
    if is_kabupaten_operator(staff):
        task = await escalated_task_in_kabupaten(session, application_id, staff.kabupaten_code)
        if task is None:
            raise NotFound("not-found", NOT_YOURS)
        return Desk(_at_desa(staff, task.desa_code), [Role.KABUPATEN_OPERATOR], kabupaten=True)
    if is_kecamatan_staff(staff):
        # Only an open task of their kecamatan's desa at their role's step (or escalated to
        # it), acted on as if at that desa's desk: the workflow checks desa, role and step.
        task = await kecamatan_task(session, staff, application_id)
        return Desk(_at_desa(staff, task.desa_code), [staff.role], kecamatan=True)
    if staff.role in KABUPATEN_ROLES or not staff.desa_code:
        raise Forbidden("desa-staff-only", DESA_OR_KABUPATEN_ONLY)
    return Desk(staff, await roles_held(session, staff))


async def kecamatan_tasks(session: AsyncSession, staff: Staff) -> list[EscalatedTask]:
    """The kecamatan staff member's inbox: open tasks of their kecamatan's desa at their role
    (or escalated to it), each with its desa, overdue first as a desa's; Forbidden for anyone
    else."""
    tasks = inbox_order(await open_kecamatan_tasks(session, staff))
    return [EscalatedTask.of_task(t, [staff.role]) for t in tasks]


async def escalated_tasks(session: AsyncSession, staff: Staff) -> list[EscalatedTask]:
    """The kabupaten operator's inbox: the steps escalated to them in their kabupaten."""
    if not is_kabupaten_operator(staff):
        raise Forbidden("kabupaten-operator-only", KABUPATEN_OPERATOR_ONLY)
    return [
        EscalatedTask.of_task(t)
        for t in await escalated_to_kabupaten(session, staff.kabupaten_code)
    ]


def _step(task: Task) -> StepOut:
    return StepOut(index=task.step_index, role=task.role)


async def task_of(
    session: AsyncSession, staff: Staff, roles: list[str], application_id: str
) -> Task:
    """The task of this application the staff member sees (open or held before); NotFound for
    one of another desa or role."""
    task = await task_seen_by(session, application_id, staff.desa_code, roles)
    if task is None:
        raise NotFound("not-found", NOT_YOURS)
    return task


def normalized_number(number: str) -> str:
    """The number as intake gives it (SKU-2026-000123), however it was typed or read out:
    any case, spaces around or inside."""
    return "".join(number.split()).upper()


async def application_by_number(
    session: AsyncSession, staff: Staff, roles: list[str], number: str
) -> str:
    """The id of the application a resident names by its number (SKU-2026-000123, any case);
    NotFound unless the staff member's roles have or had a step on it, as `task_of`."""
    application_id = await application_seen_by(
        session, normalized_number(number), staff.desa_code, roles
    )
    if application_id is None:
        raise NotFound("not-found", NUMBER_NOT_FOUND)
    return application_id


async def desk_by_number(session: AsyncSession, staff: Staff, number: str) -> tuple[Desk, str]:
    """The desk and id of the application named by its number, under the same rule as
    `desk_for`: desa staff whose roles have or had a step on it, the kabupaten operator while
    its step is escalated to them; NotFound otherwise, the same as for a number nobody has."""
    if is_kabupaten_operator(staff):
        task = await escalated_by_number(session, normalized_number(number), staff.kabupaten_code)
        if task is None:
            raise NotFound("not-found", NUMBER_NOT_FOUND)
        desk = Desk(_at_desa(staff, task.desa_code), [Role.KABUPATEN_OPERATOR], kabupaten=True)
        return desk, task.application_id
    if is_kecamatan_staff(staff):
        # Only an open task of their kecamatan at their role, as `desk_for`.
        wanted = normalized_number(number)
        for task in await open_kecamatan_tasks(session, staff):
            if task.application_number and task.application_number == wanted:
                desk = Desk(_at_desa(staff, task.desa_code), [staff.role], kecamatan=True)
                return desk, task.application_id
        raise NotFound("not-found", NUMBER_NOT_FOUND)
    if staff.role in KABUPATEN_ROLES or not staff.desa_code:
        raise Forbidden("desa-staff-only", DESA_OR_KABUPATEN_ONLY)
    roles = await roles_held(session, staff)
    return Desk(staff, roles), await application_by_number(session, staff, roles, number)


@dataclass(frozen=True)
class FoundByNumber:
    """Where the asker may see the application a number names: its page (`desk` set), or, for a
    kabupaten account that may not open it, the kabupaten view's overdue list, which already
    shows its step (`overdue` set, with its desa)."""

    application_id: str
    desk: Desk | None = None
    overdue: Task | None = None


async def find_by_number(session: AsyncSession, staff: Staff, number: str) -> FoundByNumber:
    """The staff pages' "Cari nomor permohonan": the application page where `desk_by_number`
    allows it; for a kabupaten account (DPMD's viewer, or the operator for a step not escalated
    to them) the overdue row the kabupaten view shows them anyway. Never more than those two
    already show; NotFound (one message) for anything else."""
    if staff.role in KABUPATEN_ROLES and staff.kabupaten_code:
        if is_kabupaten_operator(staff):
            try:
                desk, application_id = await desk_by_number(session, staff, number)
                return FoundByNumber(application_id, desk=desk)
            except NotFound:
                pass
        task = await overdue_by_number(session, normalized_number(number), staff.kabupaten_code)
        if task is None:
            raise NotFound("not-found", NUMBER_NOT_FOUND)
        return FoundByNumber(task.application_id, overdue=task)
    desk, application_id = await desk_by_number(session, staff, number)
    return FoundByNumber(application_id, desk=desk)


async def tasks_for(session: AsyncSession, staff: Staff, roles: list[str]) -> list[TaskSummary]:
    """What waits on me (in my own role, a Plt role, or escalated to me): overdue first."""
    return [TaskSummary.of(t, roles) for t in await open_tasks_for(session, staff.desa_code, roles)]


async def task_detail(
    runtime: Runtime, session: AsyncSession, staff: Staff, roles: list[str], application_id: str
) -> tuple[TaskDetail, intake_pb2.Application]:
    """The task and the application behind it, and intake's application itself (the staff
    page shows its timeline too)."""
    task = await task_of(session, staff, roles, application_id)
    app = await read_application(
        runtime.intake, application_id, runtime.settings.intake_timeout_seconds
    )
    if app.desa_code != staff.desa_code:  # our projection and intake must agree on the desa
        raise NotFound("not-found", NOT_YOURS)
    await access_log.record_now(
        session, staff, access_log.KIND_APPLICATION, application_id=app.id, purpose=app.number
    )
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
            channel=app.channel or "portal",
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


async def decide(
    runtime: Runtime,
    session: AsyncSession,
    staff: Staff,
    roles: list[str],
    application_id: str,
    request: DecisionRequest,
) -> dict[str, Any]:
    """Delivers the decision; the workflow's state after it. With a passphrase on the last
    approval, the letter is signed with it and the state is the one after issuing."""
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
        raise NotFound("no-open-step", NO_OPEN_STEP)
    step_index = request.step
    step_task = open_task
    if step_index is None:
        if open_task is None:
            assert held is not None
            if not (request.request_id and held.status == TASK_DONE):
                # A letter this person worked on that waits on nobody now (decided on, withdrawn
                # by the resident, expired) is a conflict with its state.
                message = f"{NO_OPEN_STEP} {ENDED.get(held.status, '')}".rstrip()
                raise Conflict("no-open-step", message)
            # A retry of a decision they sent, before the inbox shows the next step: the
            # workflow answers it from its record (and refuses anything that is not a retry).
            step_task = held
        step_index = step_task.step_index if step_task is not None else 0
    actor_role = actor_role_for(staff.role, roles, step_task, request.act_as)
    request_id = request.request_id or str(uuid.uuid4())
    wait = timedelta(seconds=runtime.settings.decision_timeout_seconds)
    decision = DecisionInput(
        request_id=request_id,
        decision=request.decision,
        step_index=step_index,
        actor_username=staff.username,
        actor_role=actor_role,
        actor_desa_code=staff.desa_code,
        reason=request.reason or "",
        actor_is_plt=actor_role != staff.role,
    )
    state = await send_decision(await runtime.temporal.client(), application_id, decision, wait)
    if (
        request.decision == Decision.APPROVE
        and state.status == ApplicationStatus.IN_REVIEW
        and state.step_index is None
    ):
        # The last approval of a letter signed at once: answer once it is signed (issue 15:
        # the signer is told so), or once signing refuses it.
        issuing = timedelta(seconds=runtime.settings.issue_wait_seconds)
        state = await issuing_outcome(
            await runtime.temporal.client(), application_id, state, issuing
        )
    if (
        request.passphrase is None
        or request.decision != Decision.APPROVE
        or state.status != ApplicationStatus.AWAITING_SIGNATURE
        # Another's signature comes first: the camat's approval of a BSrE desa's letter waits
        # for the desa signer's; the camat signs later, on their own signature task.
        or actor_role not in who_may_sign(state.step_role or "")
    ):
        return asdict(state)
    # The last approval of a letter whose signer signs remotely: sign with the passphrase now.
    signer = Signer(staff.username, actor_role, staff.desa_code)
    signed = await sign(
        runtime, application_id, signer, f"{request_id}-signed", request.passphrase, approved=True
    )
    return asdict(signed)


async def retry_issue(
    runtime: Runtime,
    session: AsyncSession,
    staff: Staff,
    roles: list[str],
    application_id: str,
    *,
    request_id: str | None = None,
    passphrase: SecretStr | None = None,
) -> dict[str, Any]:
    """Issuing again a letter signing refused; the state after that attempt. The workflow
    decides who may (the signer role, the Sekdes, the Kades of the desa). With `passphrase` (a
    BSrE desa) the letter is signed with it first; a wrong one is refused and the letter keeps
    waiting. A letter waiting for its remote signer is signed this way (the passphrase is
    required)."""
    open_task = await open_task_in_desa(session, application_id, staff.desa_code)
    if open_task is None or open_task.kind not in (TASK_KIND_SIGNING_BLOCKED, TASK_KIND_SIGNATURE):
        held = await task_seen_by(session, application_id, staff.desa_code, roles)
        if held is None and open_task is None:
            raise NotFound("not-found", NOT_YOURS)
        raise Conflict("not-blocked", NOT_BLOCKED)
    retry = RetryIssueInput(
        request_id=request_id or str(uuid.uuid4()),
        actor_username=staff.username,
        actor_role=actor_role_for(staff.role, roles, open_task, None),
        actor_desa_code=staff.desa_code,
    )
    if passphrase is not None:
        signer = Signer(retry.actor_username, retry.actor_role, retry.actor_desa_code)
        return asdict(await sign(runtime, application_id, signer, retry.request_id, passphrase))
    if open_task.kind == TASK_KIND_SIGNATURE:
        raise Invalid(
            "passphrase-required",
            "Surat ini menunggu tanda tangan elektronik: masukkan passphrase penandatangan.",
            field="passphrase",
        )
    wait = timedelta(seconds=runtime.settings.decision_timeout_seconds)
    return asdict(
        await send_retry_issue(await runtime.temporal.client(), application_id, retry, wait)
    )


async def letter_preview(
    runtime: Runtime, session: AsyncSession, staff: Staff, roles: list[str], application_id: str
) -> bytes:
    """The letter exactly as it will be issued, unsigned, without its number and watermarked
    "PRATINJAU — BUKAN SURAT SAH" (signing takes no number and stores nothing). It prints the
    resident's NIK and particulars: only for those the application reached (a step of their
    role, own or Plt, or escalated to them), as the task; never a draft."""
    not_found = NotFound("not-found", "Permohonan tidak ditemukan.")
    if await task_seen_by(session, application_id, staff.desa_code, roles) is None:
        raise not_found
    app = await read_application(
        runtime.intake, application_id, runtime.settings.intake_timeout_seconds
    )
    if app.desa_code != staff.desa_code:  # another desa's application does not exist for them
        raise not_found
    await access_log.record_now(
        session, staff, access_log.KIND_LETTER_PREVIEW, application_id=app.id, purpose=app.number
    )
    found = await route_for(
        session, app.desa_code, app.letter_type, runtime.catalogue, app.letter_type_version
    )
    if found is None:
        raise Conflict("no-route", "Jenis surat ini belum memiliki alur persetujuan di desa ini.")
    route, _own = found
    request = signing_pb2.IssueLetterRequest(
        application_id=app.id,
        desa_code=app.desa_code,
        letter_type=app.letter_type,
        purpose=app.purpose,
        fields=dict(app.fields),
        nik=app.nik,
        # The signer is known only at the last approval; the route says who it will be.
        signer_role=route.signer_role,
        on_behalf_of_role=route.on_behalf_of_role,
        letter_type_version=app.letter_type_version,  # the version it will be issued from
    )
    try:
        pdf: signing_pb2.LetterPdf = await runtime.signing.PreviewLetter(
            request, timeout=runtime.settings.signing_timeout_seconds
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            # Signing's reason is written for staff (Indonesian): what is missing to make it.
            raise Conflict("preview-refused", exc.details() or "Surat belum dapat dibuat.") from exc
        log.warning("preview for application %s failed: %s", application_id, exc.code())
        raise Unavailable(
            "signing-unavailable", "Pratinjau surat sedang tidak dapat dibuat. Silakan coba lagi."
        ) from exc
    return pdf.content
