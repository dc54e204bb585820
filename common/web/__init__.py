"""The web pages' plumbing, shared by the staff client (verification) and the resident portal
(intake): session cookies holding the same bearer token the API takes, CSRF tokens for every
cookie-authenticated write, security headers with a strict Content-Security-Policy, Jinja2 with
the shared layout, static files served from the service itself (no CDN, no font service), and
Indonesian error pages for the pages while /api/ keeps answering problem+json.

How a page is protected: the API's own dependencies (`current_staff`, `current_resident`) read
the token from the Authorization header or from the session cookie; for a cookie they also
demand the CSRF token on any write (form field `csrf_token` or header `X-CSRF-Token`). Pages
declare those same dependencies, so a page checks role and desa exactly as the API does.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.db import as_utc
from common.domain.errors import DomainError
from common.http import (
    Problem,
    domain_headers,
    domain_problem,
    domain_status,
    http_error_detail,
    problem_response,
    validation_messages,
)
from common.wib import WIB, indonesian_date, parse_indonesian_date, wib_datetime

COMMON_DIR = Path(__file__).resolve().parent
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/"

# Everything from this origin only. Inline script and style are refused; PDFs and images are
# framed only by our own pages; nothing may frame us elsewhere.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Application ids in our URLs must not travel to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """Adds the security headers to every HTTP response (a pure ASGI middleware, so streamed
    responses such as server-sent events pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- CSRF ---------------------------------------------------------------------------------


def csrf_token_for(session_token: str, secret: bytes) -> str:
    """The CSRF token of one session: an HMAC of the session token, so it changes on every
    sign-in and cannot be guessed by another site."""
    mac = hmac.new(secret, session_token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_refused() -> Problem:
    return Problem(
        403,
        "Formulir sudah kedaluwarsa atau tidak sah. Muat ulang halaman, lalu coba lagi.",
        code="csrf",
    )


async def verify_csrf(
    request: Request, session_token: str, secret: bytes, *, read_multipart: bool = True
) -> None:
    """Refuses a cookie-authenticated write without this session's CSRF token. The token comes
    in the `X-CSRF-Token` header (scripts) or the `csrf_token` form field (plain forms). A
    service whose routes stream multipart bodies themselves passes `read_multipart=False`: the
    form is then not parsed here (that would consume the stream), so such a post needs the
    header, and a route that takes a plain multipart form checks the field itself."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        form_types: tuple[str, ...] = ("application/x-www-form-urlencoded",)
        if read_multipart:
            form_types += ("multipart/form-data",)
        if content_type.startswith(form_types):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    expected = csrf_token_for(session_token, secret)
    if not given or not hmac.compare_digest(given, expected):
        raise csrf_refused()


# --- session cookies ----------------------------------------------------------------------


def bearer_or_cookie(request: Request, cookie_name: str) -> tuple[str | None, bool]:
    """The request's token and whether it came from the session cookie. An Authorization
    header wins, so API clients never depend on cookies."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(cookie_name)
    return (cookie, True) if cookie else (None, False)


def is_tls(request: Request, force_secure: bool) -> bool:
    """Whether the page was served over TLS: directly, behind the ingress (uvicorn's proxy
    headers set the scheme), or because the deployment says so."""
    return force_secure or request.url.scheme == "https"


def set_session_cookie(
    response: Response,
    request: Request,
    *,
    name: str,
    token: str,
    max_age: int,
    force_secure: bool = False,
) -> None:
    response.set_cookie(
        name,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=is_tls(request, force_secure),
        samesite="lax",
    )


def clear_session_cookie(
    response: Response, request: Request, *, name: str, force_secure: bool = False
) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, secure=is_tls(request, force_secure), samesite="lax"
    )


# Characters a browser ignores or reads as '/' in a URL ("/\\evil.example" is "//evil.example"
# to it), and control characters: a path with any of them is never a safe place to go next.
_UNSAFE_IN_NEXT = frozenset("\\") | {chr(c) for c in range(0x20)} | {"\x7f"}


def signed_in(
    request: Request,
    *,
    cookie_name: str,
    token: str,
    max_age: int,
    go_to: str,
    force_secure: bool = False,
) -> RedirectResponse:
    """The answer to a successful sign-in: the session cookie, and on to `go_to`."""
    response = RedirectResponse(go_to, status_code=303)
    set_session_cookie(
        response,
        request,
        name=cookie_name,
        token=token,
        max_age=max_age,
        force_secure=force_secure,
    )
    return response


def signed_out(
    request: Request, *, cookie_name: str, sign_in_path: str, force_secure: bool = False
) -> RedirectResponse:
    """The answer to signing out: the cookie cleared, and back to the sign-in page."""
    response = RedirectResponse(f"{sign_in_path}?keluar=1", status_code=303)
    clear_session_cookie(response, request, name=cookie_name, force_secure=force_secure)
    return response


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path on this site, never another origin."""
    if not target:
        return default
    if any(c in _UNSAFE_IN_NEXT for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if target.startswith(API_PREFIX):
        return default
    return target


# --- signing in: a CSRF token before there is a session ------------------------------------
# Without it another site could post its own account's credentials (or NIK and one-time code)
# to our sign-in form and so sign a visitor into the attacker's account, whose documents the
# visitor would then upload. Double submit: the sign-in page sets a random token in a cookie
# of its own (another site can neither read nor set it) and in the form; the post must carry
# both, equal.
SIGN_IN_CSRF_MAX_AGE = 12 * 3600


def sign_in_csrf_token(request: Request, cookie_name: str) -> str:
    """The sign-in form's token: the browser's sign-in cookie's, or a new one."""
    value = request.cookies.get(cookie_name, "")
    if 32 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value
    return secrets.token_urlsafe(32)


def set_sign_in_csrf_cookie(
    response: Response,
    request: Request,
    *,
    name: str,
    token: str,
    path: str,
    force_secure: bool = False,
) -> None:
    response.set_cookie(
        name,
        token,
        max_age=SIGN_IN_CSRF_MAX_AGE,
        path=path,
        httponly=True,
        secure=is_tls(request, force_secure),
        samesite="strict",
    )


def sign_in_csrf_ok(request: Request, cookie_name: str, given: str) -> bool:
    """Whether a sign-in post carries the token of the sign-in cookie (both present)."""
    expected = request.cookies.get(cookie_name, "")
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


SIGN_IN_EXPIRED = "Formulir masuk sudah kedaluwarsa. Silakan isi dan kirim sekali lagi."


# --- templates ----------------------------------------------------------------------------


def _tanggal(value: datetime | None) -> str:
    """'3 Desember 2026' (in WIB)."""
    return indonesian_date(as_utc(value).astimezone(WIB).date()) if value is not None else "-"


def _waktu(value: datetime | None) -> str:
    """'3 Desember 2026 pukul 10.00 WIB'."""
    return wib_datetime(as_utc(value)) if value is not None else "-"


def _tanggal_isian(value: str | None) -> str:
    """A date field's value as <input type=date> needs it (1990-08-15), whichever way it was
    written; "" when it is not a date."""
    day = parse_indonesian_date(value or "")
    return day.isoformat() if day is not None else ""


def _tanggal_kata(value: str | None) -> str:
    """A date field's value in words ("15 Agustus 1990"); "" when it is not a date."""
    day = parse_indonesian_date(value or "")
    return indonesian_date(day) if day is not None else ""


def web_templates(service_templates: Path) -> Jinja2Templates:
    """Jinja2 with the service's own templates first, then the shared layout and macros."""
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(service_templates), FileSystemLoader(COMMON_DIR / "templates")]
        ),
        autoescape=select_autoescape(["html", "xml", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tanggal"] = _tanggal
    env.filters["waktu"] = _waktu
    env.filters["tanggal_isian"] = _tanggal_isian
    env.filters["tanggal_kata"] = _tanggal_kata
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    return Jinja2Templates(env=env)


# --- the app ------------------------------------------------------------------------------


SERVER_ERROR = "Terjadi kesalahan pada server. Silakan coba lagi sebentar lagi."


def wants_page(request: Request) -> bool:
    """A page is being asked for: anything outside the API (which answers problem+json)."""
    return not request.url.path.startswith(API_PREFIX)


def install_web(
    app: FastAPI,
    *,
    static_dir: Path,
    templates: Jinja2Templates,
    sign_in_path: str,
) -> None:
    """Security headers, static files (the service's own under /static, the shared ones under
    /static/umum), and Indonesian HTML error pages for pages; /api/ keeps problem+json."""
    app.add_middleware(SecurityHeaders)
    app.mount("/static/umum", StaticFiles(directory=COMMON_DIR / "static"), name="static-umum")
    app.mount("/static", StaticFiles(directory=static_dir), name="static")

    def error_page(request: Request, status: int, detail: str) -> Response:
        return templates.TemplateResponse(
            request,
            "galat.html",
            {"status": status, "detail": detail, "sign_in_path": sign_in_path},
            status_code=status,
        )

    async def page_or_problem(request: Request, exc: Problem) -> Response:
        if not wants_page(request):
            return problem_response(
                exc.status, exc.detail, code=exc.code, headers=exc.headers, **exc.extra
            )
        if exc.status == 401 and request.method in SAFE_METHODS:
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"{sign_in_path}?lanjut={target}", status_code=303)
        return error_page(request, exc.status, exc.detail)

    async def page_or_domain_problem(request: Request, exc: DomainError) -> Response:
        if not wants_page(request):
            return domain_problem(exc)
        status = domain_status(exc)
        if status == 401 and request.method in SAFE_METHODS:
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"{sign_in_path}?lanjut={target}", status_code=303)
        page = error_page(request, status, exc.message)
        page.headers.update(domain_headers(exc))  # Retry-After, as the API answers
        return page

    async def page_or_http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        detail = http_error_detail(exc)
        if not wants_page(request):
            return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))
        return error_page(request, exc.status_code, detail)

    async def page_or_validation_problem(request: Request, exc: RequestValidationError) -> Response:
        messages = validation_messages(exc)
        if not wants_page(request):
            return problem_response(422, "; ".join(messages), code="validation", errors=messages)
        return error_page(request, 422, "; ".join(messages))

    async def page_or_server_error(request: Request, _exc: Exception) -> Response:
        # Anything unforeseen: still Indonesian (Starlette's own answer is English plain text).
        # The exception is logged by the server as before.
        if not wants_page(request):
            return problem_response(500, SERVER_ERROR)
        return error_page(request, 500, SERVER_ERROR)

    app.add_exception_handler(Exception, page_or_server_error)
    app.add_exception_handler(Problem, page_or_problem)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, page_or_domain_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, page_or_http_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, page_or_validation_problem)  # type: ignore[arg-type]
