"""The portal's pages for the duties of a public service (UU 25/2009): the satisfaction survey a
resident reaches from the link in their message (Permenpan-RB 14/2017), and complaints
(pengaduan): the public form, following one by tracking number and secret, and a signed-in
resident's own. docs/public-duties.md.

Nobody needs to be signed in for these forms: they carry the double-submit CSRF token of
common.web (a cookie of their own and the same value in the form)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from common.domain.errors import DomainError
from common.http import Problem
from common.signed_links import link_key
from common.web import (
    CSRF_FIELD,
    set_sign_in_csrf_cookie,
    sign_in_csrf_ok,
    sign_in_csrf_token,
)
from common.web.refusals import refusal_of
from common.wilayah import all_desa
from services.intake import complaints, survey
from services.intake.api.deps import SESSION_COOKIE, RuntimeDep, SessionDep, current_resident
from services.intake.catalogue import CatalogueUnavailable
from services.intake.config import complaint_deadline_hours
from services.intake.file_safety import MAX_ATTACHMENT_BYTES, too_large_message
from services.intake.satisfaction import ELEMENTS, SCALE
from services.intake.web.pages import ResidentPageDep, render

router = APIRouter(include_in_schema=False)

PUBLIC_CSRF_COOKIE = "sd_publik"
FORM_EXPIRED = "Formulir sudah kedaluwarsa. Silakan isi dan kirim sekali lagi."
COMPLAINT_PATH = "/pengaduan"
TRACK_PATH = "/pengaduan/lacak"
MINE_PATH = "/pengaduan/saya"

Text = Annotated[str, Form(max_length=5000)]
Short = Annotated[str, Form(max_length=128)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=128)]


def _page(request: Request, runtime: RuntimeDep, template: str, **context: Any) -> HTMLResponse:
    """A public form page with its CSRF token in the form and in its cookie."""
    status_code = context.pop("status_code", 200)
    token = sign_in_csrf_token(request, PUBLIC_CSRF_COOKIE)
    response = render(request, template, {**context, "publik_csrf": token}, status_code=status_code)
    set_sign_in_csrf_cookie(
        response,
        request,
        name=PUBLIC_CSRF_COOKIE,
        token=token,
        path="/",
        force_secure=runtime.settings.web_cookie_secure,
    )
    return response


# --- survey -----------------------------------------------------------------------------------


async def _letter_names(runtime: RuntimeDep) -> dict[str, str]:
    """Letter type names by code, from the catalogue; none when it cannot be read: a survey
    or a complaint does not wait for signing (the code stands in, or no type is chosen)."""
    try:
        current = await runtime.catalogue.current()
    except CatalogueUnavailable:
        return {}
    return {code: lt.name for code, lt in current.items()}


async def _survey_context(
    runtime: RuntimeDep, target: survey.SurveyTarget, expires: str, sig: str
) -> dict[str, Any]:
    letter_name = (await _letter_names(runtime)).get(target.letter_type, target.letter_type)
    desa = all_desa().get(target.desa_code)
    return {
        "title": "Survei kepuasan",
        "elements": list(enumerate(ELEMENTS, start=1)),
        "scale": SCALE,
        "letter_name": letter_name,
        "desa_name": desa.name if desa else target.desa_code,
        "expires": expires,
        "sig": sig,
    }


@router.get("/survei/{application_id}")
async def survey_page(
    request: Request,
    application_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    expires: str | None = None,
    sig: str | None = None,
) -> Response:
    try:
        target = await survey.open_survey(
            session, link_key(runtime.settings), application_id, expires, sig
        )
    except DomainError as exc:
        refusal = refusal_of(exc)
        return render(
            request,
            "survei-selesai.html",
            {"title": "Survei kepuasan", "message": refusal.message, "refused": True},
            status_code=refusal.status,
        )
    return _page(
        request,
        runtime,
        "survei.html",
        **(await _survey_context(runtime, target, expires or "", sig or "")),
        answers={},
        errors={},
    )


@router.post("/survei/{application_id}")
async def survey_answer(
    request: Request, application_id: str, runtime: RuntimeDep, session: SessionDep
) -> Response:
    form = await request.form()
    raw = {k: v for k, v in form.items() if isinstance(v, str)}
    expires, sig = raw.get("expires", "")[:20], raw.get("sig", "")[:128]
    comment = raw.get("komentar", "")[:5000]
    key = link_key(runtime.settings)
    try:
        target = await survey.open_survey(session, key, application_id, expires, sig)
    except DomainError as exc:
        refusal = refusal_of(exc)
        return render(
            request,
            "survei-selesai.html",
            {"title": "Survei kepuasan", "message": refusal.message, "refused": True},
            status_code=refusal.status,
        )
    context = await _survey_context(runtime, target, expires, sig)
    if not sign_in_csrf_ok(request, PUBLIC_CSRF_COOKIE, raw.get(CSRF_FIELD, "")):
        return _page(
            request,
            runtime,
            "survei.html",
            **context,
            answers=raw,
            errors={},
            message=FORM_EXPIRED,
            status_code=403,
        )
    try:
        scores = survey.parse_scores(raw)
        await survey.answer_survey(session, key, application_id, expires, sig, scores, comment)
    except DomainError as exc:
        refusal = refusal_of(exc)
        missing = refusal.details.get("missing", [])
        errors = dict.fromkeys(missing, "Pilih salah satu nilai.") if missing else {}
        if refusal.field == "komentar":
            errors["komentar"] = refusal.message
        return _page(
            request,
            runtime,
            "survei.html",
            **context,
            answers=raw,
            errors=errors,
            message=refusal.message,
            status_code=refusal.status,
        )
    return render(
        request,
        "survei-selesai.html",
        {
            "title": "Terima kasih",
            "message": "Terima kasih. Penilaian Anda sudah kami terima tanpa nama dan akan "
            "dipakai untuk memperbaiki pelayanan desa.",
            "refused": False,
        },
    )


# --- complaints -------------------------------------------------------------------------------


def _desa_options() -> list[tuple[str, str]]:
    rows = sorted(all_desa().values(), key=lambda d: (d.kecamatan, d.name))
    return [("", "Pilih desa")] + [(d.code, f"{d.name} (Kec. {d.kecamatan})") for d in rows]


async def _complaint_form(
    request: Request, runtime: RuntimeDep, signed_in: bool, **context: Any
) -> HTMLResponse:
    names = await _letter_names(runtime)
    return _page(
        request,
        runtime,
        "pengaduan.html",
        **{
            "title": "Pengaduan",
            "desa_options": _desa_options(),
            "subjects": [("", "Pilih perihal"), *complaints.SUBJECTS.items()],
            "letter_options": [("", "Tidak tentang satu jenis surat")] + sorted(names.items()),
            "values": {},
            "errors": {},
            "signed_in_resident": signed_in,
            "max_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024),
            **context,
        },
    )


async def _resident_id(request: Request, runtime: RuntimeDep, session: SessionDep) -> str | None:
    """The signed-in resident filing (their complaint is then on their portal), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return (await current_resident(runtime, session, token)).subject
    except Problem:
        return None


@router.get(COMPLAINT_PATH)
async def complaint_form(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    signed_in = await _resident_id(request, runtime, session) is not None
    return await _complaint_form(request, runtime, signed_in)


@router.post(COMPLAINT_PATH)
async def complaint_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    desa: Short = "",
    perihal: Short = "",
    jenis_surat: Short = "",
    nomor_permohonan: Short = "",
    isi: Text = "",
    lampiran: UploadFile | None = None,
    csrf_token: Csrf = "",
) -> Response:
    resident_id = await _resident_id(request, runtime, session)
    values = {
        "desa": desa,
        "perihal": perihal,
        "jenis_surat": jenis_surat,
        "nomor_permohonan": nomor_permohonan,
        "isi": isi,
    }
    if not sign_in_csrf_ok(request, PUBLIC_CSRF_COOKIE, csrf_token):
        return await _complaint_form(
            request,
            runtime,
            resident_id is not None,
            values=values,
            message=FORM_EXPIRED,
            status_code=403,
        )
    content: bytes | None = None
    if lampiran is not None and lampiran.filename:
        content = await lampiran.read(MAX_ATTACHMENT_BYTES + 1)
        if len(content) > MAX_ATTACHMENT_BYTES:
            return await _complaint_form(
                request,
                runtime,
                resident_id is not None,
                values=values,
                errors={"lampiran": too_large_message()},
                message=too_large_message(),
                status_code=413,
            )
        content = content or None
    new = complaints.NewComplaint(
        desa_code=desa,
        subject=perihal,
        body=isi,
        letter_type=jenis_surat if jenis_surat in await _letter_names(runtime) else "",
        application_reference=nomor_permohonan,
        resident_id=resident_id,
        attachment=content,
    )
    try:
        filed = await complaints.submit_complaint(
            session,
            runtime.temporal,
            runtime.settings.temporal_task_queue,
            runtime.settings.attachments_dir,
            new,
            complaint_deadline_hours(runtime.settings, complaints.kabupaten_of(desa)),
        )
        runtime.relay.wake()  # complaint.received: the desa's Sekdes is told
    except DomainError as exc:
        refusal = refusal_of(exc)
        errors = dict(refusal.details.get("errors", {}))
        if refusal.field and refusal.field not in errors:
            errors[refusal.field] = refusal.message
        return await _complaint_form(
            request,
            runtime,
            resident_id is not None,
            values=values,
            errors=errors,
            message=refusal.message,
            status_code=refusal.status,
        )
    return render(
        request,
        "pengaduan-terkirim.html",
        {
            "title": "Pengaduan terkirim",
            "complaint": filed.complaint,
            "secret": filed.secret,
            "signed_in_resident": resident_id is not None,
        },
        status_code=201,
    )


@router.get(TRACK_PATH)
async def track_form(request: Request, runtime: RuntimeDep) -> Response:
    return _page(request, runtime, "pengaduan-lacak.html", title="Lacak pengaduan", values={})


@router.post(TRACK_PATH)
async def track_complaint(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    nomor: Short = "",
    kode: Short = "",
    csrf_token: Csrf = "",
) -> Response:
    """Number and secret travel in the POST body only, never in a URL."""
    values = {"nomor": nomor}
    if not sign_in_csrf_ok(request, PUBLIC_CSRF_COOKIE, csrf_token):
        return _page(
            request,
            runtime,
            "pengaduan-lacak.html",
            title="Lacak pengaduan",
            values=values,
            message=FORM_EXPIRED,
            status_code=403,
        )
    try:
        view = await complaints.track(session, nomor, kode)
    except DomainError as exc:
        refusal = refusal_of(exc)
        return _page(
            request,
            runtime,
            "pengaduan-lacak.html",
            title="Lacak pengaduan",
            values=values,
            message=refusal.message,
            status_code=refusal.status,
        )
    return render(request, "pengaduan-rinci.html", _detail_context(view))


def _detail_context(view: complaints.ComplaintView) -> dict[str, Any]:
    desa = all_desa().get(view.complaint.desa_code)
    return {
        "title": f"Pengaduan {view.complaint.tracking_number}",
        "complaint": view.complaint,
        "desa_name": desa.name if desa else view.complaint.desa_code,
        "status_label": complaints.STATUS_LABELS.get(view.complaint.status, ""),
        "subject_label": complaints.SUBJECTS.get(view.complaint.subject, ""),
        "answer": view.answer,
        "entries": complaints.entries_for_complainant(view.entries),
    }


@router.get(MINE_PATH)
async def my_complaints(request: Request, page: ResidentPageDep, session: SessionDep) -> Response:
    mine = await complaints.residents_complaints(session, page.resident.subject)
    return render(
        request,
        "pengaduan-saya.html",
        {
            "title": "Pengaduan saya",
            "complaints": mine,
            "status_labels": complaints.STATUS_LABELS,
        },
        page=page,
    )


@router.get(MINE_PATH + "/{complaint_id}")
async def my_complaint(
    request: Request, complaint_id: str, page: ResidentPageDep, session: SessionDep
) -> Response:
    view = await complaints.residents_complaint(session, page.resident.subject, complaint_id)
    return render(request, "pengaduan-rinci.html", _detail_context(view), page=page)
