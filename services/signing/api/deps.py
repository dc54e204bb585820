"""Dependencies the routes declare: the runtime, its settings, a database session, the desa
staff member asking (the register, revocation)."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InvalidToken, Principal
from common.domain import Role
from common.http import Problem
from common.session_checks import SessionCheckUnavailable
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


bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class DesaStaff:
    username: str
    role: str
    desa_code: str


async def _current_principal(
    runtime: Runtime, token: str | None, allowed: Callable[[Principal], bool], refusal: str
) -> Principal:
    """A staff token (verified with verification's public key) whose session verification
    still calls current (common.session_checks: a sign-out, new password, role change or
    deactivation reaches here within the cache's lifetime)."""
    if not token:
        raise Problem(
            401, "Silakan masuk terlebih dahulu.", code="unauthenticated", headers=_CHALLENGE
        )
    try:
        principal = runtime.token_verifier.verify(token)
    except InvalidToken:
        raise Problem(
            401,
            "Sesi tidak sah atau sudah berakhir. Silakan masuk kembali.",
            code="invalid-token",
            headers=_CHALLENGE,
        ) from None
    # Refused before the session check: a wrong kind of account learns nothing more.
    if principal.kind != "staff" or not principal.role or not allowed(principal):
        raise Problem(403, refusal, code="forbidden")
    try:
        current = await runtime.staff_sessions.is_current(principal)
    except SessionCheckUnavailable:
        raise Problem(
            503,
            "Data akun staf sedang tidak dapat diperiksa. Silakan coba lagi sebentar lagi.",
            code="accounts-unavailable",
            headers={"Retry-After": "5"},
        ) from None
    if not current:
        raise Problem(
            401,
            "Sesi ini sudah berakhir (keluar, kata sandi atau jabatan diubah, atau akun "
            "dinonaktifkan). Silakan masuk kembali.",
            code="session-ended",
            headers=_CHALLENGE,
        )
    return principal


async def current_staff(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(bearer)]
) -> DesaStaff:
    """A staff member of a desa (a kabupaten account has no desa, so no desa's book)."""
    principal = await _current_principal(
        runtime, token, lambda p: bool(p.desa_code), "Hanya staf desa yang dapat melakukan ini."
    )
    assert principal.role and principal.desa_code
    return DesaStaff(principal.subject, principal.role, principal.desa_code)


StaffDep = Annotated[DesaStaff, Depends(current_staff)]


async def current_kabupaten_operator(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(bearer)]
) -> str:
    """The kabupaten operator (Diskominfo), by username: the kabupaten's records. The DPMD
    viewer and desa staff are refused."""
    principal = await _current_principal(
        runtime,
        token,
        lambda p: p.role == Role.KABUPATEN_OPERATOR and not p.desa_code,
        "Fitur ini hanya untuk operator kabupaten.",
    )
    return principal.subject


KabupatenOperatorDep = Annotated[str, Depends(current_kabupaten_operator)]
