"""Signing in and out of the staff client, changing one's own password, and the home page that
points each role on. Sign-in is throttled as the API's (accounts.sign_in)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from common.auth import Principal
from common.domain.errors import DomainError
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
from services.verification import accounts
from services.verification.accounts import BAD_CREDENTIALS, BadCredentials, principal_of
from services.verification.api.deps import (
    SESSION_COOKIE,
    CurrentStaff,
    RuntimeDep,
    SessionDep,
    StaffPrincipal,
    client_address,
)
from services.verification.sign_in_throttle import SignInLimits, SignInLocked
from services.verification.staff_admin import MIN_PASSWORD_LENGTH, change_own_password
from services.verification.web.pages import HOME_PATH, SIGN_IN_PATH, StaffPageDep, render
from services.verification.web.routes.settings import problem_flash

router = APIRouter(include_in_schema=False)


# The sign-in form's own CSRF cookie (common.web: no session yet to bind a token to).
SIGN_IN_CSRF_COOKIE = "sd_masuk_staf"


def _sign_in_page(
    request: Request,
    runtime: RuntimeDep,
    lanjut: str,
    *,
    username: str = "",
    flash: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token = sign_in_csrf_token(request, SIGN_IN_CSRF_COOKIE)
    response = render(
        request,
        "masuk.html",
        {
            "title": "Masuk",
            "lanjut": lanjut,
            "username": username,
            "masuk_csrf": token,
            "flash": flash,
            "flash_kind": "galat",
        },
        status_code=status_code,
    )
    set_sign_in_csrf_cookie(
        response,
        request,
        name=SIGN_IN_CSRF_COOKIE,
        token=token,
        path=SIGN_IN_PATH,
        force_secure=runtime.settings.web_cookie_secure,
    )
    return response


@router.get(SIGN_IN_PATH)
async def sign_in_page(
    request: Request, runtime: RuntimeDep, lanjut: str | None = None
) -> HTMLResponse:
    return _sign_in_page(request, runtime, lanjut or "")


@router.post(SIGN_IN_PATH)
async def sign_in(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    lanjut: Annotated[str, Form(max_length=512)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
) -> Response:
    if not sign_in_csrf_ok(request, SIGN_IN_CSRF_COOKIE, csrf_token):
        # Another site's post (signing the visitor into its own account), or a stale form.
        return _sign_in_page(
            request, runtime, lanjut, username=username, flash=SIGN_IN_EXPIRED, status_code=403
        )
    try:
        staff = await accounts.sign_in(
            session,
            SignInLimits.of(runtime.settings),
            username.strip(),
            password,
            client_address(request),
        )
    except SignInLocked as exc:
        return _sign_in_page(
            request, runtime, lanjut, username=username, flash=exc.message, status_code=429
        )
    except BadCredentials:
        return _sign_in_page(
            request, runtime, lanjut, username=username, flash=BAD_CREDENTIALS, status_code=401
        )
    return _session_cookie(request, runtime, principal_of(staff), safe_next(lanjut, HOME_PATH))


def _session_cookie(
    request: Request, runtime: RuntimeDep, principal: Principal, go_to: str
) -> Response:
    token = runtime.token_issuer.issue(principal)
    return signed_in(
        request,
        cookie_name=SESSION_COOKIE,
        token=token,
        max_age=runtime.token_issuer.ttl_seconds,
        go_to=go_to,
        force_secure=runtime.settings.web_cookie_secure,
    )


@router.post("/keluar")
async def sign_out_page(
    request: Request,
    principal: StaffPrincipal,
    _staff: CurrentStaff,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    """Sign out (a CSRF-checked form post, so another site cannot sign anyone out): the token
    ends server-side too, so a copy of the cookie no longer works."""
    await accounts.sign_out(session, principal, runtime.token_issuer.ttl_seconds)
    return signed_out(
        request,
        cookie_name=SESSION_COOKIE,
        sign_in_path=SIGN_IN_PATH,
        force_secure=runtime.settings.web_cookie_secure,
    )


OWN_PASSWORD_PATH = "/akun/sandi"  # noqa: S105 (a path, not a password)


def _own_password_page(
    request: Request, page: StaffPageDep, extra: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "sandi.html",
        {"title": "Ubah kata sandi", "min_password": MIN_PASSWORD_LENGTH, **extra},
        page=page,
        status_code=status_code,
    )


@router.get(OWN_PASSWORD_PATH)
async def own_password_page(request: Request, page: StaffPageDep) -> HTMLResponse:
    changed = request.query_params.get("pesan") == "sandi-diubah"
    flash = "Kata sandi diubah. Sesi di perangkat lain sudah berakhir." if changed else None
    return _own_password_page(request, page, {"flash": flash, "flash_kind": "ok"})


@router.post(OWN_PASSWORD_PATH)
async def change_own_password_page(
    request: Request,
    page: StaffPageDep,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    session: SessionDep,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """As POST /api/v1/auth/password; this browser gets the new session's cookie."""
    try:
        await change_own_password(
            session,
            SignInLimits.of(runtime.settings),
            staff,
            current_password,
            new_password,
            client_address(request),
        )
    except SignInLocked as exc:
        return _own_password_page(
            request, page, {"flash": exc.message, "flash_kind": "galat"}, status_code=429
        )
    except DomainError as exc:
        return _own_password_page(
            request, page, problem_flash(exc), status_code=refusal_of(exc).status
        )
    return _session_cookie(
        request, runtime, principal_of(staff), f"{OWN_PASSWORD_PATH}?pesan=sandi-diubah"
    )


@router.get(HOME_PATH)
async def home(request: Request, page: StaffPageDep) -> HTMLResponse:
    return render(request, "beranda.html", {"title": "Beranda"}, page=page)
