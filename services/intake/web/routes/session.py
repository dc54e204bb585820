"""Signing in with NIK and a one-time code, signing out, and the landing page.

The sign-in takes the same path as the API (`send_code` and `redeem` behind POST
/api/v1/auth/otp and /token). The NIK and phone number travel to the code step only in the
POST form, never in a URL."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.auth import InvalidToken
from common.http import Problem
from common.web import clear_session_cookie, safe_next, set_session_cookie
from services.intake.api.deps import SESSION_COOKIE, RuntimeDep, SessionDep, current_resident
from services.intake.api.routes.auth import CODE_SENT, redeem, send_code
from services.intake.web.pages import HOME_PATH, SIGN_IN_PATH, render

router = APIRouter(include_in_schema=False)

LIST_PATH = "/permohonan"
CODE_PATH = "/masuk/kode"

Nik = Annotated[str, Form(max_length=32)]
PhoneNumber = Annotated[str, Form(max_length=32)]
Next = Annotated[str, Form(max_length=512)]


def _signed_in(request: Request, runtime: RuntimeDep) -> bool:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return False
    try:
        return runtime.token_verifier.verify(token).kind == "resident"
    except InvalidToken:
        return False


@router.get(HOME_PATH)
async def landing(request: Request, runtime: RuntimeDep) -> Response:
    if _signed_in(request, runtime):
        return RedirectResponse(LIST_PATH, status_code=303)
    return render(request, "beranda.html", {"title": "Layanan surat desa"})


def _identity_page(
    request: Request, lanjut: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "masuk.html",
        {"title": "Masuk", "lanjut": lanjut, "errors": {}, **context},
        status_code=status_code,
    )


@router.get(SIGN_IN_PATH)
async def sign_in_page(
    request: Request, runtime: RuntimeDep, lanjut: str | None = None
) -> Response:
    if _signed_in(request, runtime):
        return RedirectResponse(safe_next(lanjut, LIST_PATH), status_code=303)
    return _identity_page(request, lanjut or "")


def _field_of(problem: Problem, default: str) -> str:
    field = problem.extra.get("field")
    return field if isinstance(field, str) else default


@router.post(SIGN_IN_PATH)
async def ask_for_code(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    nik: Nik = "",
    phone: PhoneNumber = "",
    lanjut: Next = "",
) -> HTMLResponse:
    """Step 1: NIK and phone number; the code goes out by WhatsApp/SMS."""
    try:
        await send_code(session, runtime, nik, phone)
    except Problem as exc:
        errors = {_field_of(exc, "nik"): exc.detail} if exc.status == 422 else {}
        return _identity_page(
            request,
            lanjut,
            status_code=exc.status,
            nik=nik,
            phone=phone,
            errors=errors,
            flash=None if errors else exc.detail,
            flash_kind="galat",
        )
    return _code_page(request, nik, phone, lanjut, flash=CODE_SENT)


def _code_page(
    request: Request,
    nik: str,
    phone: str,
    lanjut: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "masuk-kode.html",
        {
            "title": "Masukkan kode",
            "nik": nik.strip(),
            "phone": phone.strip(),
            "lanjut": lanjut,
            "error": error,
            "flash": flash,
            "flash_kind": "ok",
        },
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
) -> Response:
    """Step 2: the six-digit code; a right one sets the session cookie."""
    try:
        token = await redeem(session, runtime, nik, phone, otp)
    except Problem as exc:
        field = _field_of(exc, "otp")
        if field in ("nik", "phone"):  # the hidden fields were changed: start again
            errors = {field: exc.detail}
            return _identity_page(
                request, lanjut, status_code=exc.status, nik=nik, phone=phone, errors=errors
            )
        return _code_page(request, nik, phone, lanjut, error=exc.detail, status_code=exc.status)
    response = RedirectResponse(safe_next(lanjut, LIST_PATH), status_code=303)
    set_session_cookie(
        response,
        request,
        name=SESSION_COOKIE,
        token=token,
        max_age=runtime.settings.intake_resident_token_ttl_seconds,
        force_secure=runtime.settings.web_cookie_secure,
    )
    return response


@router.post("/keluar", dependencies=[Depends(current_resident)])
async def sign_out(request: Request, runtime: RuntimeDep) -> Response:
    """Sign out (a CSRF-checked form post, so another site cannot sign anyone out)."""
    response = RedirectResponse(f"{SIGN_IN_PATH}?keluar=1", status_code=303)
    clear_session_cookie(
        response, request, name=SESSION_COOKIE, force_secure=runtime.settings.web_cookie_secure
    )
    return response
