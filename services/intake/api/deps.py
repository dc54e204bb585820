"""Dependencies the routes declare: the runtime, a database session, the signed-in resident."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InvalidToken, Principal
from common.http import Problem
from common.web import bearer_or_cookie, csrf_token_for, verify_csrf
from services.intake.config import Settings
from services.intake.runtime import Runtime
from services.intake.sign_in_bindings import resident_session_valid


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Token warga dari POST /api/v1/auth/token")


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, detail, code="unauthenticated", headers={"WWW-Authenticate": "Bearer"})


SESSION_ENDED = "Sesi tidak valid atau sudah berakhir. Silakan masuk kembali."

# The portal's session cookie holds the same token (set by the sign-in page).
SESSION_COOKIE = "sd_warga"


async def resident_session_token(
    request: Request,
    runtime: RuntimeDep,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The bearer token, or the session cookie's; a write by cookie must carry its CSRF token."""
    token, from_cookie = bearer_or_cookie(request, SESSION_COOKIE)
    if token and from_cookie:
        # Uploads stream their multipart body (uploads.py): never parsed here.
        await verify_csrf(request, token, runtime.token_issuer.csrf_secret, read_multipart=False)
    return token


def csrf_of(request: Request, runtime: RuntimeDep) -> str:
    """This session's CSRF token, for the forms of a page ("" when not signed in by cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    return csrf_token_for(token, runtime.token_issuer.csrf_secret) if token else ""


CsrfToken = Annotated[str, Depends(csrf_of)]


async def current_resident(
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(resident_session_token)],
) -> Principal:
    """The resident of a valid resident token that was not signed out."""
    if token is None:
        raise _unauthenticated("Silakan masuk terlebih dahulu.")
    try:
        principal = runtime.token_verifier.verify(token)
    except InvalidToken as exc:
        raise _unauthenticated(SESSION_ENDED) from exc
    if principal.kind != "resident" or not await resident_session_valid(
        session, principal.subject, principal.session_id, principal.session_version
    ):
        raise _unauthenticated(SESSION_ENDED)
    return principal


CurrentResident = Annotated[Principal, Depends(current_resident)]
