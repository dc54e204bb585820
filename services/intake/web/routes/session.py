"""Signing in with NIK and a one-time code, signing out, and the landing page.

The sign-in takes the same path as the API (the use case `services.intake.sign_in`, behind
POST /api/v1/auth/otp and /token). The NIK and phone number travel to the code step only in the
POST form, never in a URL."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import DomainError, Invalid
from common.http import Problem
from common.web import (
    CSRF_FIELD,
    SIGN_IN_EXPIRED,
    safe_next,
    set_sign_in_csrf_cookie,
    sign_in_csrf_ok,
    sign_in_csrf_token,
    signed_in,
    signed_out,
)
from common.web.refusals import refusal_of
from services.intake.api.deps import (
    SESSION_COOKIE,
    CurrentResident,
    RuntimeDep,
    SessionDep,
    current_resident,
)
from services.intake.sign_in import CODE_SENT, redeem, send_code, sign_out
from services.intake.web.pages import HOME_PATH, SIGN_IN_PATH, render

router = APIRouter(include_in_schema=False)

LIST_PATH = "/permohonan"
CODE_PATH = "/masuk/kode"

Nik = Annotated[str, Form(max_length=32)]
PhoneNumber = Annotated[str, Form(max_length=32)]
Next = Annotated[str, Form(max_length=512)]
SignInCsrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=128)]
# The sign-in forms' own CSRF cookie (common.web: no session yet to bind a token to).
SIGN_IN_CSRF_COOKIE = "sd_masuk_warga"


def _with_sign_in_csrf(
    request: Request, runtime: RuntimeDep, template: str, **context: Any
) -> HTMLResponse:
    """A sign-in form page with its CSRF token, in the form and in the sign-in cookie."""
    status_code = context.pop("status_code", 200)
    token = sign_in_csrf_token(request, SIGN_IN_CSRF_COOKIE)
    response = render(request, template, {**context, "masuk_csrf": token}, status_code=status_code)
    set_sign_in_csrf_cookie(
        response,
        request,
        name=SIGN_IN_CSRF_COOKIE,
        token=token,
        path=SIGN_IN_PATH,
        force_secure=runtime.settings.web_cookie_secure,
    )
    return response


async def _signed_in(request: Request, runtime: RuntimeDep, session: SessionDep) -> bool:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return False
    try:
        await current_resident(runtime, session, token)
    except Problem:
        return False
    return True


@router.get(HOME_PATH)
async def landing(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    if await _signed_in(request, runtime, session):
        return RedirectResponse(LIST_PATH, status_code=303)
    return render(request, "beranda.html", {"title": "Layanan surat desa"})


def _identity_page(
    request: Request, runtime: RuntimeDep, lanjut: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return _with_sign_in_csrf(
        request,
        runtime,
        "masuk.html",
        **{"title": "Masuk", "lanjut": lanjut, "errors": {}, **context},
        status_code=status_code,
    )


@router.get(SIGN_IN_PATH)
async def sign_in_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, lanjut: str | None = None
) -> Response:
    if await _signed_in(request, runtime, session):
        return RedirectResponse(safe_next(lanjut, LIST_PATH), status_code=303)
    return _identity_page(request, runtime, lanjut or "")


@router.post(SIGN_IN_PATH)
async def ask_for_code(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    nik: Nik = "",
    phone: PhoneNumber = "",
    lanjut: Next = "",
    csrf_token: SignInCsrf = "",
) -> HTMLResponse:
    """Step 1: NIK and phone number; the code goes out by WhatsApp/SMS."""
    if not sign_in_csrf_ok(request, SIGN_IN_CSRF_COOKIE, csrf_token):
        return _identity_page(
            request,
            runtime,
            lanjut,
            status_code=403,
            nik=nik,
            phone=phone,
            flash=SIGN_IN_EXPIRED,
            flash_kind="galat",
        )
    try:
        await send_code(request, session, runtime, nik, phone)
    except DomainError as exc:
        refused = refusal_of(exc)
        errors = {refused.field or "nik": refused.message} if isinstance(exc, Invalid) else {}
        page = _identity_page(
            request,
            runtime,
            lanjut,
            status_code=refused.status,
            nik=nik,
            phone=phone,
            errors=errors,
            flash=None if errors else refused.message,
            flash_kind="galat",
        )
        page.headers.update(refused.headers)  # Retry-After, as the API answers
        return page
    return _code_page(request, runtime, nik, phone, lanjut, flash=CODE_SENT)


def _code_page(
    request: Request,
    runtime: RuntimeDep,
    nik: str,
    phone: str,
    lanjut: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> HTMLResponse:
    return _with_sign_in_csrf(
        request,
        runtime,
        "masuk-kode.html",
        title="Masukkan kode",
        nik=nik.strip(),
        phone=phone.strip(),
        lanjut=lanjut,
        error=error,
        flash=flash,
        flash_kind="ok",
        status_code=status_code,
    )


@router.post(CODE_PATH)
async def sign_in(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    nik: Nik = "",
    phone: PhoneNumber = "",
    otp: Annotated[str, Form(max_length=16)] = "",
    lanjut: Next = "",
    csrf_token: SignInCsrf = "",
) -> Response:
    """Step 2: the six-digit code; a right one sets the session cookie."""
    if not sign_in_csrf_ok(request, SIGN_IN_CSRF_COOKIE, csrf_token):
        # Another site posting its own NIK and code would sign the visitor into its account.
        return _code_page(
            request, runtime, nik, phone, lanjut, error=SIGN_IN_EXPIRED, status_code=403
        )
    try:
        token = await redeem(session, runtime, nik, phone, otp)
    except DomainError as exc:
        refused = refusal_of(exc)
        if refused.field in ("nik", "phone"):  # the hidden fields were changed: start again
            return _identity_page(
                request,
                runtime,
                lanjut,
                status_code=refused.status,
                nik=nik,
                phone=phone,
                errors={refused.field: refused.message},
            )
        page = _code_page(
            request, runtime, nik, phone, lanjut, error=refused.message, status_code=refused.status
        )
        page.headers.update(refused.headers)
        return page
    return signed_in(
        request,
        cookie_name=SESSION_COOKIE,
        token=token,
        max_age=runtime.settings.intake_resident_token_ttl_seconds,
        go_to=safe_next(lanjut, LIST_PATH),
        force_secure=runtime.settings.web_cookie_secure,
    )


@router.post("/keluar")
async def sign_out_page(
    request: Request, resident: CurrentResident, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Sign out (a CSRF-checked form post, so another site cannot sign anyone out): the token
    ends server-side too, so a copy of the cookie no longer works."""
    await sign_out(session, runtime, resident)
    return signed_out(
        request,
        cookie_name=SESSION_COOKIE,
        sign_in_path=SIGN_IN_PATH,
        force_secure=runtime.settings.web_cookie_secure,
    )
