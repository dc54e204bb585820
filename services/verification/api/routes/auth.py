"""Staff sign-in: OAuth2 password form -> bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from common.auth import Principal
from common.http import Problem
from services.verification.accounts import authenticate
from services.verification.api.deps import RuntimeDep, SessionDep

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
