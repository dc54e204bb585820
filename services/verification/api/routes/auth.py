"""Staff sign-in: OAuth2 password form -> bearer token."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from common.auth import Principal
from common.db import as_utc
from common.http import Problem
from services.verification.accounts import authenticate
from services.verification.api.deps import CurrentStaff, RuntimeDep, SessionDep
from services.verification.plt import current_plt

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (a token kind, not a secret)


@router.post("/token")
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    runtime: RuntimeDep,
    session: SessionDep,
) -> TokenOut:
    staff = await authenticate(session, form.username, form.password)
    if staff is None:
        # One message for an unknown user and a wrong password: no hint which it was.
        raise Problem(
            401,
            "Nama pengguna atau kata sandi salah.",
            code="bad-credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = Principal(
        kind="staff", subject=staff.username, role=staff.role, desa_code=staff.desa_code
    )
    return TokenOut(access_token=runtime.token_issuer.issue(principal))


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
