"""Dependencies the routes declare: the runtime, its settings, a database session, the
recipient whose inbox it is."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InvalidToken, Principal
from common.http import Problem
from common.session_checks import SessionCheckUnavailable
from services.notification.config import Settings
from services.notification.runtime import Runtime


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

_bearer = HTTPBearer(auto_error=False)


async def get_principal(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """A resident or staff token whose session its owner (intake, verification) still calls
    current: a signed-out token, or a staff account re-passworded, re-roled or deactivated, is
    refused here within `session_check_cache_seconds` (common.session_checks)."""
    unauthorized = Problem(
        401,
        "Silakan masuk terlebih dahulu: token tidak ada, tidak sah, atau sudah kedaluwarsa.",
        code="unauthorized",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None:
        raise unauthorized
    try:
        principal = runtime.token_verifier.verify(credentials.credentials)
    except InvalidToken:
        raise unauthorized from None
    sessions = runtime.staff_sessions if principal.kind == "staff" else runtime.resident_sessions
    try:
        current = await sessions.is_current(principal)
    except SessionCheckUnavailable:
        raise Problem(
            503,
            "Sesi tidak dapat diperiksa saat ini. Silakan coba lagi sebentar lagi.",
            code="sessions-unavailable",
            headers={"Retry-After": "5"},
        ) from None
    if not current:
        raise unauthorized
    return principal


def recipient_key(principal: Principal) -> str:
    """Inbox owner key, as the rules write it: "staff:<username>" or "resident:<id>"."""
    return f"{principal.kind}:{principal.subject}"


def get_recipient(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    return recipient_key(principal)


CurrentRecipient = Annotated[str, Depends(get_recipient)]
