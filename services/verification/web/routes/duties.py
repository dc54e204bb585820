"""Staff pages for the duties of a public service (UU 25/2009), over intake's records:
the complaint inbox (/pengaduan: the desa's, or the kabupaten's for kabupaten accounts), one
complaint with its record and the answer form, and the satisfaction index (/kepuasan, IKM of
Permenpan-RB 14/2017) per desa and letter type. docs/public-duties.md."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp

from common.domain import ROLE_LABELS
from common.domain.errors import DomainError
from common.web.refusals import refusal_of
from common.wilayah import all_desa
from services.verification import access_log
from services.verification import public_duties as duties
from services.verification.api.deps import RuntimeDep, SessionDep
from services.verification.web.pages import StaffPage, StaffPageDep, render

router = APIRouter(include_in_schema=False)

INBOX_PATH = "/pengaduan"
SATISFACTION_PATH = "/kepuasan"

STATUS_LABELS = {
    "diterima": "Menunggu jawaban",
    "diteruskan": "Diteruskan ke kabupaten",
    "dijawab": "Sudah dijawab",
}
ENTRY_LABELS = {
    "filed": "diterima",
    "seen": "dibuka",
    "attachment_seen": "lampiran diunduh",
    "escalated": "melewati batas waktu, diteruskan ke kabupaten",
    "answered": "dijawab",
}
SUBJECT_LABELS = {"layanan": "Pelayanan desa", "permohonan": "Satu permohonan surat"}
# The regulation's nine elements, as the staff page heads its columns.
ELEMENT_LABELS = (
    "Persyaratan",
    "Prosedur",
    "Waktu",
    "Biaya",
    "Produk",
    "Kompetensi",
    "Perilaku",
    "Pengaduan",
    "Sarana",
)


def _time(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _desa_name(code: str) -> str:
    desa = all_desa().get(code)
    return desa.name if desa else code


def _stub(runtime: RuntimeDep) -> Any:
    return duties.stub(runtime.intake_channel)


def _actor(page: StaffPage) -> Any:
    return duties.actor_of(page.staff, page.roles)


@router.get(INBOX_PATH)
async def complaint_inbox(request: Request, page: StaffPageDep, runtime: RuntimeDep) -> Response:
    try:
        found = await duties.complaint_inbox(_stub(runtime), _actor(page))
    except DomainError as exc:
        refusal = refusal_of(exc)
        return render(
            request,
            "pengaduan_kotak.html",
            {
                "title": "Pengaduan",
                "nav_active": "pengaduan",
                "rows": [],
                "message": refusal.message,
            },
            page=page,
            status_code=refusal.status,
        )
    rows = [
        {
            "id": c.id,
            "number": c.tracking_number,
            "desa": _desa_name(c.desa_code),
            "subject": SUBJECT_LABELS.get(c.subject, c.subject),
            "status": STATUS_LABELS.get(c.status, c.status),
            "filed_at": _time(c.filed_at),
            "deadline_at": _time(c.deadline_at),
            "overdue": c.overdue,
        }
        for c in found
    ]
    return render(
        request,
        "pengaduan_kotak.html",
        {"title": "Pengaduan", "nav_active": "pengaduan", "rows": rows},
        page=page,
    )


def _detail_context(detail: Any, **extra: Any) -> dict[str, Any]:
    summary = detail.summary
    return {
        "title": f"Pengaduan {summary.tracking_number}",
        "nav_active": "pengaduan",
        "complaint": {
            "id": summary.id,
            "number": summary.tracking_number,
            "desa": _desa_name(summary.desa_code),
            "subject": SUBJECT_LABELS.get(summary.subject, summary.subject),
            "letter_type": summary.letter_type,
            "reference": detail.application_reference,
            "status": STATUS_LABELS.get(summary.status, summary.status),
            "filed_at": _time(summary.filed_at),
            "deadline_at": _time(summary.deadline_at),
            "overdue": summary.overdue,
            "body": detail.body,
            "has_attachment": detail.has_attachment,
        },
        "entries": [
            {
                "at": _time(e.at),
                "what": ENTRY_LABELS.get(e.kind, e.kind),
                "who": e.actor if e.actor not in ("pelapor", "sistem") else "",
                "role": ROLE_LABELS.get(e.actor_role, "") if e.actor != "pelapor" else "Pelapor",
                "desa": _desa_name(e.actor_desa) if e.actor_desa else "",
                "text": e.text,
            }
            for e in detail.entries
        ],
        "may_answer": detail.may_answer,
        "answer": "",
        "errors": {},
        **extra,
    }


@router.get(INBOX_PATH + "/{complaint_id}")
async def complaint_page(
    request: Request,
    complaint_id: str,
    page: StaffPageDep,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    """Opening it is recorded in the complaint's record (who, role, desa, when) and in the
    residents' access log (a signed-in complainant sees it in "Data saya")."""
    detail = await duties.read_complaint(_stub(runtime), _actor(page), complaint_id)
    await access_log.record_complaint_read(
        session,
        page.staff,
        access_log.KIND_COMPLAINT,
        complaint_id,
        detail.summary.tracking_number,
    )
    return render(request, "pengaduan_rinci.html", _detail_context(detail), page=page)


@router.get(INBOX_PATH + "/{complaint_id}/lampiran")
async def complaint_attachment(
    complaint_id: str, page: StaffPageDep, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """The attachment, as a download (never shown inline: it came from the public); intake
    checks who may read it and records the read in the complaint's record, and the access log
    here too."""
    found = await duties.complaint_attachment(_stub(runtime), _actor(page), complaint_id)
    await access_log.record_complaint_read(
        session,
        page.staff,
        access_log.KIND_COMPLAINT_ATTACHMENT,
        complaint_id,
        found.tracking_number,
    )
    return Response(
        found.content,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{found.file_name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post(INBOX_PATH + "/{complaint_id}/jawab")
async def answer_page(
    request: Request,
    complaint_id: str,
    page: StaffPageDep,
    runtime: RuntimeDep,
    session: SessionDep,
    jawaban: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    stub = _stub(runtime)
    try:
        await duties.answer_complaint(stub, _actor(page), complaint_id, jawaban)
    except DomainError as exc:
        refusal = refusal_of(exc)
        detail = await duties.read_complaint(stub, _actor(page), complaint_id)
        await access_log.record_complaint_read(  # the text is shown again
            session,
            page.staff,
            access_log.KIND_COMPLAINT,
            complaint_id,
            detail.summary.tracking_number,
        )
        context = _detail_context(
            detail, answer=jawaban, errors={"jawaban": refusal.message}, message=refusal.message
        )
        return render(
            request, "pengaduan_rinci.html", context, page=page, status_code=refusal.status
        )
    return RedirectResponse(f"{INBOX_PATH}/{complaint_id}", status_code=303)


@router.get(SATISFACTION_PATH)
async def satisfaction_page(
    request: Request, page: StaffPageDep, runtime: RuntimeDep, periode: str | None = None
) -> HTMLResponse:
    period = (periode or duties.this_month())[:16]
    context: dict[str, Any] = {
        "title": "Kepuasan warga",
        "nav_active": "kepuasan",
        "periode": period,
        "elements": ELEMENT_LABELS,
        "rows": [],
        "comments": [],
        "min_answers": 0,
        "errors": {},
    }
    try:
        report = await duties.satisfaction(_stub(runtime), page.staff, period)
    except DomainError as exc:
        refusal = refusal_of(exc)
        context["errors"] = {"periode": refusal.message}
        return render(request, "kepuasan.html", context, page=page, status_code=refusal.status)
    context["rows"] = [
        {
            "desa": _desa_name(c.desa_code) if c.desa_code else "Semua desa",
            "letter_type": c.letter_type or "Semua surat",
            "answers": c.answers,
            "shown": c.shown,
            "ikm": c.ikm.replace(".", ","),
            "band": c.band,
            "band_label": c.band_label,
            "means": [m.replace(".", ",") for m in c.element_means],
            "whole": not c.desa_code and not c.letter_type,
        }
        for c in report.cells
    ]
    context["comments"] = list(report.comments)
    context["min_answers"] = report.min_answers
    return render(request, "kepuasan.html", context, page=page)
