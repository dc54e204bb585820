"""Dependencies the routes declare: the runtime, a database session, the signed-in resident."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InvalidToken, Principal
from common.http import Problem
from services.intake.config import Settings
from services.intake.runtime import Runtime


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


def current_resident(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthenticated("Silakan masuk terlebih dahulu.")
    try:
        principal = runtime.token_verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise _unauthenticated(
            "Sesi tidak valid atau sudah berakhir. Silakan masuk kembali."
        ) from exc
    if principal.kind != "resident":
        raise _unauthenticated("Sesi tidak valid atau sudah berakhir. Silakan masuk kembali.")
    return principal


CurrentResident = Annotated[Principal, Depends(current_resident)]
