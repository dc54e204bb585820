"""Onboarding desa in the staff client (/kabupaten/desa), over the same functions and rules as
/api/v1/kabupaten/desa (services/verification/onboarding.py): the kabupaten's staff read, only
the kabupaten operator changes. And the public page of a one-time password link
(/akun/atur-sandi/{token})."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from common.domain.errors import DomainError
from common.web.refusals import refusal_of
from services.verification import onboarding
from services.verification.api.deps import (
    KabupatenOperator,
    RuntimeDep,
    SessionDep,
    kabupaten_staff,
)
from services.verification.desa_profile import (
    PROFILE_FIELDS,
    ProfileForm,
    ProfileInvalid,
    read_profile,
    save_profile,
)
from services.verification.staff_admin import MIN_PASSWORD_LENGTH
from services.verification.web.pages import SIGN_IN_PATH, StaffPageDep, render

router = APIRouter(include_in_schema=False)

LIST_PATH = "/kabupaten/desa"
DesaCode = Annotated[str, Path(min_length=1, max_length=20)]
Username = Annotated[str, Path(min_length=1, max_length=64)]
# The form's profile fields (the logo and officials' NIP are the desa's own to add later).
FORM_FIELDS = (
    "name",
    "kecamatan",
    "kabupaten",
    "address",
    "kode_pos",
    "phone",
    "email",
    "kades_name",
    "sekdes_name",
    "paper",
)
MESSAGES = {
    "dinyalakan": "Desa sudah dilayani: warga dapat mengajukan surat.",
    "dimatikan": "Desa tidak lagi menerima permohonan baru; permohonan yang berjalan tetap "
    "diproses.",
    "profil": "Profil desa tersimpan.",
    "sertifikat": "Sertifikat penandatangan terpasang; surat berikutnya ditandatangani dengannya.",
}


def _flash(request: Request) -> dict[str, Any]:
    message = MESSAGES.get(request.query_params.get("pesan", ""))
    return {"flash": message, "flash_kind": "ok"} if message else {}


@router.get(LIST_PATH, dependencies=[Depends(kabupaten_staff)])
async def desa_list(request: Request, page: StaffPageDep, session: SessionDep) -> HTMLResponse:
    rows = await onboarding.kabupaten_desa(session, page.staff.kabupaten_code)
    return render(
        request,
        "kabupaten_desa.html",
        {
            "title": "Desa dan kelurahan",
            "nav_active": "desa",
            "rows": rows,
            "serving": sum(r.serving for r in rows),
        },
        page=page,
    )


async def _desa_page(
    request: Request,
    page: StaffPageDep,
    runtime: RuntimeDep,
    session: SessionDep,
    code: str,
    *,
    extra: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    desa = onboarding.desa_of(page.staff, code)
    ready = await onboarding.readiness(runtime, session, desa)
    if values is None:
        values = {
            "name": desa.name,
            "kecamatan": desa.kecamatan,
            "kabupaten": desa.kabupaten,
            "paper": "F4",
        }
        if ready.has_profile:
            view = await read_profile(runtime, desa.code)
            values = {name: str(getattr(view.profile, name)) for name in FORM_FIELDS}
    return render(
        request,
        "kabupaten_desa_rinci.html",
        {
            "title": f"{'Kelurahan' if desa.kelurahan else 'Desa'} {desa.name}",
            "nav_active": "desa",
            "desa": desa,
            "ready": ready,
            "may_change": page.staff.role == "kabupaten_operator",
            "role_options": onboarding.roles_offered(),
            "v": values,
            "errors": errors or {},
            "no_password": onboarding.NO_PASSWORD,
            **(extra if extra is not None else _flash(request)),
        },
        page=page,
        status_code=status_code,
    )


async def _refused(
    request: Request,
    page: StaffPageDep,
    runtime: RuntimeDep,
    session: SessionDep,
    code: str,
    exc: DomainError,
    *,
    extra: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    """The desa page again, with the refusal on top, answering with the refusal's status."""
    return await _desa_page(
        request,
        page,
        runtime,
        session,
        code,
        extra={"flash": exc.message, "flash_kind": "galat"} | (extra or {}),
        values=values,
        errors=errors,
        status_code=refusal_of(exc).status,
    )


@router.get(LIST_PATH + "/{code}", dependencies=[Depends(kabupaten_staff)])
async def desa_page(
    request: Request, code: DesaCode, page: StaffPageDep, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    return await _desa_page(request, page, runtime, session, code)


def _done(code: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{LIST_PATH}/{code}?pesan={message}", status_code=303)


@router.post(LIST_PATH + "/{code}/layanan")
async def switch(
    request: Request,
    code: DesaCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
    layani: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    serving = layani == "1"
    try:
        await onboarding.set_serving(runtime, session, staff, code, serving)
    except DomainError as exc:
        return await _refused(request, page, runtime, session, code, exc)
    return _done(code, "dinyalakan" if serving else "dimatikan")


@router.post(LIST_PATH + "/{code}/profil")
async def profile(
    request: Request,
    code: DesaCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    desa = onboarding.desa_of(staff, code)
    form = await request.form()
    values = {name: str(form.get(name) or "")[:400] for name in FORM_FIELDS}
    try:
        await save_profile(
            runtime,
            session,
            staff,
            ProfileForm(values={name: values.get(name, "") for name in PROFILE_FIELDS}),
            desa_code=desa.code,
            create=True,
        )
    except ProfileInvalid as exc:
        return await _refused(
            request, page, runtime, session, code, exc, values=values, errors=exc.errors
        )
    return _done(code, "profil")


@router.post(LIST_PATH + "/{code}/akun")
async def new_account(
    request: Request,
    code: DesaCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        account, link = await onboarding.create_first_account(
            runtime, session, staff, code, username, role
        )
    except DomainError as exc:
        account_form = {"account_form": {"username": username, "role": role}}
        return await _refused(request, page, runtime, session, code, exc, extra=account_form)
    # The link is shown this once (only its hash is kept): no redirect that would lose it.
    return await _desa_page(request, page, runtime, session, code, extra=link_shown(request, link))


def link_shown(request: Request, link: onboarding.PasswordLink) -> dict[str, Any]:
    return {
        "flash": f"Akun {link.username} dibuat. Serahkan tautan di bawah kepada pemiliknya.",
        "flash_kind": "ok",
        "link": link,
        "link_url": str(request.base_url).rstrip("/") + link.path,
    }


@router.post(LIST_PATH + "/{code}/akun/{username}/tautan")
async def new_link(
    request: Request,
    code: DesaCode,
    username: Username,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    try:
        link = await onboarding.new_password_link(runtime, session, staff, code, username)
    except DomainError as exc:
        return await _refused(request, page, runtime, session, code, exc)
    extra = link_shown(request, link) | {
        "flash": f"Tautan baru untuk {link.username}; tautan sebelumnya tidak berlaku lagi."
    }
    return await _desa_page(request, page, runtime, session, code, extra=extra)


async def uploaded_file(form_value: object) -> bytes:
    if isinstance(form_value, UploadFile) and form_value.filename:
        return await form_value.read(onboarding.CERTIFICATE_UPLOAD_LIMIT + 1)
    return b""


async def certificate_upload(form: FormData) -> onboarding.CertificateUpload:
    """The certificate form's fields (templates/_sertifikat.html), for a desa signer's or the
    camat's install."""
    return onboarding.CertificateUpload(
        pkcs12=await uploaded_file(form.get("pkcs12")),
        certificate_pem=await uploaded_file(form.get("sertifikat")),
        key_pem=await uploaded_file(form.get("kunci")),
        password=str(form.get("sandi") or "")[:256].encode(),
    )


@router.post(LIST_PATH + "/{code}/sertifikat")
async def certificate(
    request: Request,
    code: DesaCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    form = await request.form()
    role = str(form.get("role") or "")[:20]
    upload = await certificate_upload(form)
    try:
        await onboarding.install_signer(runtime, staff, code, role, upload)
    except DomainError as exc:
        return await _refused(request, page, runtime, session, code, exc)
    return _done(code, "sertifikat")


def _set_password_page(
    request: Request,
    token: str,
    *,
    username: str = "",
    error: str = "",
    done: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    response = render(
        request,
        "atur_sandi.html",
        {
            "title": "Atur kata sandi",
            "token": token,
            "username": username,
            "error": error,
            "done": done,
            "min_password": MIN_PASSWORD_LENGTH,
            "sign_in_path": SIGN_IN_PATH,
        },
        status_code=status_code,
    )
    # The link is a secret: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get(onboarding.SET_PASSWORD_PATH)
async def set_password_page(
    request: Request, session: SessionDep, t: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    try:
        staff = await onboarding.link_account(session, t)
    except DomainError as exc:
        return _set_password_page(request, "", error=exc.message, status_code=410)
    return _set_password_page(request, t, username=staff.username)


@router.post(onboarding.SET_PASSWORD_PATH)
async def set_password(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=100)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    # No CSRF token: the link's own secret is what the post must carry, and another site
    # that had it could set the password without any form.
    try:
        staff = await onboarding.set_password_with_link(session, token, new_password)
    except DomainError as exc:
        if exc.code == "invalid-link":
            return _set_password_page(request, "", error=exc.message, status_code=410)
        username = (await onboarding.link_account(session, token)).username
        return _set_password_page(
            request,
            token,
            username=username,
            error=exc.message,
            status_code=refusal_of(exc).status,
        )
    return _set_password_page(request, "", username=staff.username, done=True)
