"""Signing in and out of the staff client, and the home page that points each role on."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from common.auth import Principal
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
from services.verification.accounts import authenticate
from services.verification.api.deps import (
    SESSION_COOKIE,
    RuntimeDep,
    SessionDep,
    current_staff,
)
from services.verification.web.pages import HOME_PATH, SIGN_IN_PATH, StaffPageDep, render

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
    staff = await authenticate(session, username.strip(), password) if username else None
    if staff is None:
        return _sign_in_page(
            request,
            runtime,
            lanjut,
            username=username,
            flash="Nama pengguna atau kata sandi salah.",
            status_code=401,
        )
    token = runtime.token_issuer.issue(
        Principal(kind="staff", subject=staff.username, role=staff.role, desa_code=staff.desa_code)
    )
    return signed_in(
        request,
        cookie_name=SESSION_COOKIE,
        token=token,
        max_age=runtime.token_issuer.ttl_seconds,
        go_to=safe_next(lanjut, HOME_PATH),
        force_secure=runtime.settings.web_cookie_secure,
    )


@router.post("/keluar", dependencies=[Depends(current_staff)])
async def sign_out(request: Request, runtime: RuntimeDep) -> Response:
    """Sign out (a CSRF-checked form post, so another site cannot sign anyone out)."""
    return signed_out(
        request,
        cookie_name=SESSION_COOKIE,
        sign_in_path=SIGN_IN_PATH,
        force_secure=runtime.settings.web_cookie_secure,
    )


@router.get(HOME_PATH)
async def home(request: Request, page: StaffPageDep) -> HTMLResponse:
    return render(request, "beranda.html", {"title": "Beranda"}, page=page)
