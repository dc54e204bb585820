"""An application as the staff review it: the request's fields beside its attachments, the letter
preview, the timeline, and the decision (approve, return for revision, reject; issuing again a
letter signing refused). Every read and write is the staff API's own use case (`staff_tasks`:
`GET /api/v1/tasks/{id}`, `POST .../decision`, `POST .../retry-issue`), so the page checks
role, desa and step exactly as the API does, and the workflow's refusals come back as its own
Indonesian messages."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr
from smartdesa.v1 import intake_pb2

from common.db import utcnow
from common.domain import ROLE_LABELS, ApplicationStatus, Decision, Role, SignerKind
from common.domain.errors import DomainError
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
    LETTER_REVOKED,
)
from common.web.refusals import Refusal, refusal_of
from common.wilayah import find_desa
from services.verification import request_view, staff_tasks
from services.verification.api.deps import RuntimeDep, SessionDep, TaskDesk
from services.verification.api.params import ApplicationId
from services.verification.kecamatan import kecamatan_of_desa, step_calendar
from services.verification.models import (
    TASK_KIND_DECISION,
    TASK_KIND_SIGNATURE,
    TASK_KIND_SIGNING_BLOCKED,
    TASK_OPEN,
)
from services.verification.routes import route_for
from services.verification.staff_tasks import ENDED, DecisionRequest, Desk
from services.verification.web.deadlines import remaining_text
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.inbox import INBOX_PATH

router = APIRouter(include_in_schema=False)

REASON_MAX = 2000
# The form's buttons -> the API's decisions.
DECISIONS = {"setujui": Decision.APPROVE, "perbaikan": Decision.REVISE, "tolak": Decision.REJECT}
_REASON_NEEDED = {
    "perbaikan": "Tuliskan apa yang harus diperbaiki pemohon.",
    "tolak": "Tuliskan alasan penolakan.",
}

# What happened, as the staff read it.
EVENT_LABELS = {
    APPLICATION_SUBMITTED: "Permohonan diajukan",
    APPLICATION_STEP_ASSIGNED: "Menunggu keputusan",
    APPLICATION_DECIDED: "Disetujui",
    APPLICATION_REVISION_REQUESTED: "Dikembalikan untuk perbaikan",
    APPLICATION_RESUBMITTED: "Diajukan kembali setelah perbaikan",
    APPLICATION_REJECTED: "Ditolak",
    APPLICATION_REMINDED: "Pengingat dikirim",
    APPLICATION_ESCALATED: "Dieskalasi ke atasan",
    APPLICATION_CANCELLED: "Dibatalkan oleh pemohon",
    APPLICATION_EXPIRED: "Kedaluwarsa",
    APPLICATION_SIGNING_BLOCKED: "Tertahan di tanda tangan elektronik",
    LETTER_ISSUED: "Surat terbit",
    LETTER_REVOKED: "Surat dicabut",
    # Intake's retention job (services/intake/retention.py); its reason says why.
    "attachments.deleted": "Berkas syarat dihapus",
}
DECISION_LABELS = {
    Decision.APPROVE: "disetujui",
    Decision.REVISE: "dikembalikan",
    Decision.REJECT: "ditolak",
}
STATUS_LABELS: dict[str, str] = {
    ApplicationStatus.DRAFT: "Draf",
    ApplicationStatus.IN_REVIEW: "Dalam pemeriksaan",
    ApplicationStatus.REVISION_REQUESTED: "Menunggu perbaikan pemohon",
    ApplicationStatus.SIGNING_BLOCKED: "Tertahan di tanda tangan elektronik",
    ApplicationStatus.AWAITING_SIGNATURE: "Menunggu tanda tangan elektronik",
    ApplicationStatus.REJECTED: "Ditolak",
    ApplicationStatus.CANCELLED: "Dibatalkan",
    ApplicationStatus.EXPIRED: "Kedaluwarsa",
    ApplicationStatus.ISSUED: "Surat terbit",
}


@dataclass(frozen=True)
class TimelineRow:
    at: datetime | None
    label: str
    detail: str


def _timeline(app: intake_pb2.Application) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    for entry in app.timeline:
        label = EVENT_LABELS.get(entry.event, entry.event)
        parts: list[str] = []
        role = entry.actor_role or entry.step_role
        if entry.event == "application.step_assigned" and entry.step_role:
            parts.append(f"Tahap {entry.step_index + 1}: {ROLE_LABELS.get(entry.step_role, '')}")
        elif entry.event == "application.escalated" and entry.escalated_to_role:
            parts.append(f"ke {ROLE_LABELS.get(entry.escalated_to_role, entry.escalated_to_role)}")
        elif role and entry.decision:
            who = ROLE_LABELS.get(role, role)
            if entry.decided_as == "plt":
                who = f"Plt. {who}"
            elif entry.decided_as == "supervisor":
                who = f"{who} (atasan)"
            parts.append(f"oleh {who}")
        if entry.reason:
            parts.append(f"Alasan: {entry.reason}")
        rows.append(
            TimelineRow(
                at=entry.at.ToDatetime(UTC) if entry.HasField("at") else None,
                label=label,
                detail=" · ".join(p for p in parts if p),
            )
        )
    return rows


def _source(application: intake_pb2.Application, key: str) -> str:
    """Where a value came from: the desa's population register, or what was typed (by the
    resident, or by staff for an application filed at the office)."""
    if key in application.register_fields:
        return "data penduduk"
    return "diisi petugas" if application.channel == "walk_in" else "diisi pemohon"


# Where the inbox goes after a decision, by the workflow's status after it.
DONE_BY_STATUS = {
    ApplicationStatus.ISSUED: "ditandatangani",
    ApplicationStatus.AWAITING_SIGNATURE: "menunggu-tte",
    ApplicationStatus.SIGNING_BLOCKED: "tertahan",
}


def _desa_name(code: str) -> str:
    desa = find_desa(code)
    return f"Desa {desa.name}, Kec. {desa.kecamatan}" if desa else code


async def _page_context(
    application_id: str, desk: Desk, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    staff, roles = desk.staff, desk.roles
    detail, app = await staff_tasks.task_detail(runtime, session, staff, roles, application_id)
    task = detail.task
    # The catalogue version the application keeps: its labels, syarat and name.
    letter_type = await request_view.letter_type_info(runtime, app)
    now = utcnow()
    remaining = None
    if task.deadline is not None and task.status == TASK_OPEN:
        # A kecamatan step's deadline counts in the kecamatan's calendar.
        calendar = await step_calendar(session, staff.desa_code, task.step.role, now)
        remaining = remaining_text(task.deadline, now, calendar)
    # Unavailable (503) when the catalogue cannot be read: whether this step signs is not guessed.
    found = await route_for(
        session,
        staff.desa_code,
        detail.application.letter_type,
        runtime.catalogue,
        app.letter_type_version,  # as the workflow resolved it
    )
    last_step = (
        found is not None
        and task.kind == TASK_KIND_DECISION
        and task.step.index == len(found[0].steps) - 1
    )
    # The camat's step (after the desa's, kecamatan.with_kecamatan_steps): approving it adds
    # the camat's "mengetahui" signature and the kecamatan's register number, then the letter
    # is issued.
    camat_step = task.kind == TASK_KIND_DECISION and task.step.role == Role.CAMAT
    # Approving here signs the letter: the signer (or their Plt, or the Sekdes/Kades who
    # decides it after an escalation) is told so before, and asked the BSrE passphrase only
    # where the desa signs with BSrE. The kabupaten operator may not give this approval.
    signing_step = last_step and not desk.kabupaten and not desk.kecamatan
    open_signature = task.kind == TASK_KIND_SIGNATURE and task.status == TASK_OPEN
    open_blocked = task.kind == TASK_KIND_SIGNING_BLOCKED and task.status == TASK_OPEN
    # The camat's own approval or signature: how the kecamatan signs (its code's signer), so a
    # BSrE camat is asked the passphrase there.
    camat_signs = task.step.role == Role.CAMAT and (camat_step or open_signature)
    signer = (
        await request_view.signer_kind(runtime, kecamatan_of_desa(staff.desa_code))
        if camat_signs and not desk.kabupaten
        else await request_view.signer_kind(runtime, staff.desa_code)
        if signing_step or open_signature or open_blocked
        else None
    )
    # A BSrE camat of a BSrE desa approves here without signing: the desa signer certifies
    # first, then the camat signs on their own signature task (two passphrases).
    camat_after_desa = (
        camat_step
        and signer == SignerKind.BSRE
        and not desk.kabupaten
        and await request_view.signer_kind(runtime, staff.desa_code) == SignerKind.BSRE
    )
    if camat_after_desa:
        signer = None
    # The desa signer's signature on a letter through the kecamatan (past the desa's route)
    # whose camat signs through BSrE afterwards: it is not issued with this signature.
    camat_signs_next = (
        open_signature
        and task.step.role != Role.CAMAT
        and found is not None
        and task.step.index > len(found[0].steps)
        and await request_view.signer_kind(runtime, kecamatan_of_desa(staff.desa_code))
        == SignerKind.BSRE
    )
    fields = request_view.shown_fields(
        detail.application.fields, letter_type, lambda key: _source(app, key)
    )
    return {
        "detail": detail,
        "app": detail.application,
        "task": task,
        "type_name": letter_type.name if letter_type else detail.application.letter_type,
        # Name first, then the rest in reading order (request_view.shown_fields).
        "name_field": next((f for f in fields if f.key == "nama"), None),
        "fields": [f for f in fields if f.key != "nama"],
        # The register's version the fields came from; None: the resident is not registered.
        "register_version": app.register_version if app.from_register else None,
        "attachments": [
            (request_view.attachment_label(a.kind, letter_type), a) for a in detail.attachments
        ],
        "timeline": _timeline(app),
        "remaining": remaining,
        "is_open": task.status == TASK_OPEN,
        "blocked": open_blocked,
        # The letter waits for its remote signer (BSrE): the passphrase signs it.
        "signature": open_signature,
        "bsre": signer == SignerKind.BSRE,
        "kabupaten_desk": desk.kabupaten,
        "kecamatan_desk": desk.kecamatan,
        "last_step": last_step,
        "camat_step": camat_step,
        "camat_after_desa": camat_after_desa,
        "camat_signs_next": camat_signs_next,
        "desa_name": _desa_name(staff.desa_code),
        "ended": ENDED.get(task.status, "") if task.status != TASK_OPEN else "",
        "status_label": STATUS_LABELS.get(app.status, app.status),
        "signing_step": signing_step,
        # The roles to choose from when deciding (the kabupaten operator has one).
        "roles": [] if desk.kabupaten else roles,
        "request_id": str(uuid.uuid4()),
        "reason": "",
        "errors": {},
    }


async def _render_page(
    request: Request,
    page: StaffPage,
    ctx: dict[str, Any],
    *,
    status_code: int = 200,
    flash: str | None = None,
) -> HTMLResponse:
    ctx = {
        "title": f"{ctx['type_name']}",
        "nav_active": "kotak-masuk",
        "body_class": "halaman-permohonan",
        "flash": flash,
        "flash_kind": "galat",
        **ctx,
    }
    return render(request, "permohonan.html", ctx, page=page, status_code=status_code)


@router.get("/permohonan/{application_id}")
async def application_page(
    request: Request,
    application_id: ApplicationId,
    page: StaffPageDep,
    desk: TaskDesk,
    session: SessionDep,
    runtime: RuntimeDep,
) -> HTMLResponse:
    ctx = await _page_context(application_id, desk, session, runtime)
    return await _render_page(request, page, ctx)


@router.post("/permohonan/{application_id}/keputusan")
async def decide_on_page(
    request: Request,
    application_id: ApplicationId,
    page: StaffPageDep,
    desk: TaskDesk,
    session: SessionDep,
    runtime: RuntimeDep,
    keputusan: Annotated[str, Form(max_length=16)] = "",
    alasan: Annotated[str, Form(max_length=REASON_MAX * 2)] = "",
    langkah: Annotated[int | None, Form(ge=0, le=100)] = None,
    sebagai: Annotated[str, Form(max_length=40)] = "",
    request_id: Annotated[str, Form(max_length=100)] = "",
    passphrase: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The decision form: the API's `POST /api/v1/tasks/{id}/decision`, then back to the inbox.
    A missing reason, or the workflow's refusal, shows on the page with what was typed kept."""
    reason = alasan.strip()
    errors: dict[str, str] = {}
    decision = DECISIONS.get(keputusan)
    if decision is None:
        errors["keputusan"] = "Pilih keputusan: setujui, kembalikan untuk perbaikan, atau tolak."
    elif keputusan in _REASON_NEEDED and not reason:
        errors["alasan"] = _REASON_NEEDED[keputusan]
    if len(reason) > REASON_MAX:
        errors["alasan"] = f"Alasan paling panjang {REASON_MAX} karakter."
    refusal: Refusal | None = None
    if not errors and decision is not None:
        body = DecisionRequest(
            decision=decision,  # checked against DECISIONS
            reason=reason or None,
            step=langkah,
            request_id=request_id or None,
            act_as=sebagai or None,
            passphrase=SecretStr(passphrase)
            if passphrase and decision == Decision.APPROVE
            else None,
        )
        try:
            state = await staff_tasks.decide(
                runtime, session, desk.staff, desk.roles, application_id, body
            )
        except DomainError as exc:
            refusal = refusal_of(exc)
            if refusal.status in (401, 404):
                raise
        else:
            done = keputusan
            status = state.get("status", "")
            # Every step approved: signed, waiting for its BSrE signer, refused by signing, or
            # still being signed.
            if decision == Decision.APPROVE and status in DONE_BY_STATUS:
                done = DONE_BY_STATUS[status]
            elif decision == Decision.APPROVE and state.get("step_index") is None:
                done = "menandatangani"
            return RedirectResponse(f"{INBOX_PATH}?selesai={done}", status_code=303)
    ctx = await _page_context(application_id, desk, session, runtime)
    ctx.update(reason=alasan, errors=errors, chosen=keputusan, sebagai=sebagai)
    if refusal is not None:
        return await _render_page(
            request,
            page,
            ctx,
            status_code=refusal.status,
            flash=f"Keputusan tidak dapat disimpan: {refusal.message}",
        )
    return await _render_page(
        request,
        page,
        ctx,
        status_code=422,
        flash="Keputusan belum disimpan. Periksa isian yang ditandai.",
    )


@router.post("/permohonan/{application_id}/terbitkan")
async def retry_issue_on_page(
    request: Request,
    application_id: ApplicationId,
    page: StaffPageDep,
    desk: TaskDesk,
    session: SessionDep,
    runtime: RuntimeDep,
    request_id: Annotated[str, Form(max_length=100)] = "",
    passphrase: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Sign a letter waiting for its remote signer, or issue again a letter signing refused
    (the API's `POST .../retry-issue`)."""
    try:
        state = await staff_tasks.retry_issue(
            runtime,
            session,
            desk.staff,
            desk.roles,
            application_id,
            request_id=request_id or None,
            passphrase=SecretStr(passphrase) if passphrase else None,
        )
    except DomainError as exc:
        refusal = refusal_of(exc)
        if refusal.status in (401, 404):
            raise
        refused = f"Surat belum dapat diterbitkan: {refusal.message}"
        status_code = refusal.status
    else:
        if state.get("status") not in (
            ApplicationStatus.SIGNING_BLOCKED,
            ApplicationStatus.AWAITING_SIGNATURE,
        ):
            done = "ditandatangani" if state.get("status") == ApplicationStatus.ISSUED else "terbit"
            return RedirectResponse(f"{INBOX_PATH}?selesai={done}", status_code=303)
        refused = "Surat masih tertahan di tanda tangan elektronik. Lihat alasannya di bawah."
        status_code = 409
    ctx = await _page_context(application_id, desk, session, runtime)
    return await _render_page(request, page, ctx, status_code=status_code, flash=refused)
