"""Staff sign-in (OAuth2 password form -> bearer token, throttled), one's own password, and
signing out. Sessions: services/verification/accounts.py and docs/security.md."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from common.db import as_utc
from common.http import Problem
from services.verification.accounts import (
    BAD_CREDENTIALS,
    BadCredentials,
    principal_of,
    sign_in,
    sign_out,
)
from services.verification.api.deps import (
    CurrentStaff,
    RuntimeDep,
    SessionDep,
    StaffPrincipal,
    client_address,
)
from services.verification.plt import current_plt
from services.verification.sign_in_throttle import SignInLimits, SignInLocked
from services.verification.staff_admin import MAX_PASSWORD_LENGTH, change_own_password

router = APIRouter(prefix="/auth", tags=["auth"])

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (a token kind, not a secret)


def locked_problem(exc: SignInLocked) -> Problem:
    return Problem(
        429,
        exc.message,
        code="sign-in-locked",
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


@router.post("/token")
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
) -> TokenOut:
    try:
        staff = await sign_in(
            session,
            SignInLimits.of(runtime.settings),
            form.username,
            form.password,
            client_address(request),
        )
    except SignInLocked as exc:
        raise locked_problem(exc) from None
    except BadCredentials:
        # One message for an unknown user and a wrong password: no hint which it was.
        raise Problem(401, BAD_CREDENTIALS, code="bad-credentials", headers=_CHALLENGE) from None
    return TokenOut(access_token=runtime.token_issuer.issue(principal_of(staff)))


class OwnPasswordIn(BaseModel):
    current_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)


@router.post("/password")
async def change_password(
    body: OwnPasswordIn,
    request: Request,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    session: SessionDep,
) -> TokenOut:
    """Changes one's own password, which needs the current one. Every session of the account
    ends (on other devices too); the answer is a new token for this one."""
    try:
        await change_own_password(
            session,
            SignInLimits.of(runtime.settings),
            staff,
            body.current_password,
            body.new_password,
            client_address(request),
        )
    except SignInLocked as exc:
        raise locked_problem(exc) from None
    return TokenOut(access_token=runtime.token_issuer.issue(principal_of(staff)))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    principal: StaffPrincipal, _staff: CurrentStaff, runtime: RuntimeDep, session: SessionDep
) -> None:
    """Ends this token now, in every service; the account's other sessions go on."""
    await sign_out(session, principal, runtime.token_issuer.ttl_seconds)


class ActingOut(BaseModel):
    role: str
    until: datetime


class MeOut(BaseModel):
    username: str
    role: str
    desa_code: str
    kabupaten_code: str
    acting: list[ActingOut]  # roles held now as Plt, and until when


@router.get("/me")
async def me(staff: CurrentStaff, session: SessionDep) -> MeOut:
    """Who is signed in, and the roles they act in now besides their own."""
    acting = (
        await current_plt(session, staff.desa_code, username=staff.username)
        if staff.desa_code
        else []
    )
    return MeOut(
        username=staff.username,
        role=staff.role,
        desa_code=staff.desa_code,
        kabupaten_code=staff.kabupaten_code or staff.desa_code[:5],
        acting=[ActingOut(role=p.role, until=as_utc(p.ends_at)) for p in acting],
    )
