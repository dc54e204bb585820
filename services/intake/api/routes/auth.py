"""Resident sign-in over the API: the routes of `services.intake.sign_in`."""

from fastapi import APIRouter, Request, status

from services.intake.api.deps import CurrentResident, RuntimeDep, SessionDep
from services.intake.api.schemas import Accepted, OtpRequest, TokenOut, TokenRequest
from services.intake.sign_in import CODE_SENT, redeem, send_code, sign_out

router = APIRouter(prefix="/auth", tags=["masuk"])


@router.post("/otp", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def request_otp(
    request: Request, body: OtpRequest, session: SessionDep, runtime: RuntimeDep
) -> Accepted:
    await send_code(request, session, runtime, body.nik, body.phone)
    return Accepted(detail=CODE_SENT)


@router.post("/token", response_model=TokenOut)
async def issue_token(body: TokenRequest, session: SessionDep, runtime: RuntimeDep) -> TokenOut:
    token = await redeem(
        session, runtime, body.nik, body.phone, body.otp, body.kk_number, body.mother_name
    )
    return TokenOut(
        access_token=token, expires_in=runtime.settings.intake_resident_token_ttl_seconds
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(resident: CurrentResident, session: SessionDep, runtime: RuntimeDep) -> None:
    await sign_out(session, runtime, resident)
