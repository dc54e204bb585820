"""Resident sign-in: NIK + phone, a one-time code over WhatsApp/SMS, then a bearer token."""

from fastapi import APIRouter, status

from common.auth import Principal
from common.http import Problem
from common.nik import InvalidNik, parse_nik
from common.phone import InvalidPhone, normalize_phone
from services.intake import otp
from services.intake.api.deps import RuntimeDep, SessionDep
from services.intake.api.schemas import Accepted, OtpRequest, TokenOut, TokenRequest

router = APIRouter(prefix="/auth", tags=["masuk"])

# Identical whether or not a code went out, so nobody learns which NIK is bound to which phone.
CODE_SENT = (
    "Kode masuk telah dikirim ke nomor HP yang terdaftar untuk NIK ini. Kode berlaku 5 menit."
)
WRONG_CODE = "Kode masuk salah atau sudah tidak berlaku. Silakan minta kode baru."


def checked_identity(nik: str, phone: str) -> tuple[str, str]:
    """The NIK and the normalised phone number, or a 422 Problem naming the field."""
    nik = nik.strip()
    try:
        parse_nik(nik)
    except InvalidNik as exc:
        raise Problem(422, str(exc), code="invalid-nik", field="nik") from exc
    try:
        normalized = normalize_phone(phone)
    except InvalidPhone as exc:
        raise Problem(422, str(exc), code="invalid-phone", field="phone") from exc
    return nik, normalized


async def send_code(session: SessionDep, runtime: RuntimeDep, nik: str, phone: str) -> None:
    """Sends a sign-in code (the API route and the sign-in page both come here)."""
    nik, phone = checked_identity(nik, phone)
    try:
        staged = await otp.request_code(session, runtime.otp_key, nik, phone)
    except otp.TooManyChallenges as exc:
        raise Problem(
            429,
            "Terlalu sering meminta kode masuk. Silakan coba lagi dalam 15 menit.",
            code="too-many-codes",
            headers={"Retry-After": str(int(otp.CHALLENGE_WINDOW.total_seconds()))},
        ) from exc
    if staged:
        runtime.relay.wake()


@router.post("/otp", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def request_otp(body: OtpRequest, session: SessionDep, runtime: RuntimeDep) -> Accepted:
    await send_code(session, runtime, body.nik, body.phone)
    return Accepted(detail=CODE_SENT)


async def redeem(session: SessionDep, runtime: RuntimeDep, nik: str, phone: str, code: str) -> str:
    """The resident's token for a right code (the API route and the sign-in page both come
    here); a Problem naming the field otherwise."""
    nik, phone = checked_identity(nik, phone)
    code = code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise Problem(422, "Kode masuk harus 6 digit angka.", code="invalid-otp", field="otp")
    try:
        resident_id = await otp.redeem_code(session, runtime.otp_key, nik, phone, code)
    except otp.WrongCode as exc:
        raise Problem(401, WRONG_CODE, code="wrong-otp") from exc
    except otp.TooManyAttempts as exc:
        raise Problem(
            429,
            "Terlalu banyak percobaan kode yang salah. Silakan minta kode baru.",
            code="too-many-attempts",
        ) from exc
    return runtime.token_issuer.issue(Principal(kind="resident", subject=resident_id))


@router.post("/token", response_model=TokenOut)
async def issue_token(body: TokenRequest, session: SessionDep, runtime: RuntimeDep) -> TokenOut:
    token = await redeem(session, runtime, body.nik, body.phone, body.otp)
    return TokenOut(
        access_token=token, expires_in=runtime.settings.intake_resident_token_ttl_seconds
    )
