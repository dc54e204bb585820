"""Dependencies the routes declare: the runtime, its settings, a database session, the signed-in
staff member."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InvalidToken, Principal
from common.http import Problem
from services.signing.config import Settings
from services.signing.runtime import Runtime


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


bearer = HTTPBearer(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_staff(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """A staff member signed in at the verification service (its token, checked with its public
    key): username, role and desa as the token states them."""
    if credentials is None:
        raise Problem(
            401, "Silakan masuk terlebih dahulu.", code="unauthenticated", headers=_CHALLENGE
        )
    try:
        principal = runtime.token_verifier.verify(credentials.credentials)
    except InvalidToken:
        principal = None
    if principal is None or principal.kind != "staff":
        raise Problem(
            401,
            "Sesi tidak sah atau sudah berakhir. Silakan masuk kembali.",
            code="invalid-token",
            headers=_CHALLENGE,
        )
    return principal


StaffDep = Annotated[Principal, Depends(current_staff)]
