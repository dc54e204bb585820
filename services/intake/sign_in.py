"""Resident sign-in as a use case: NIK + phone, a one-time code over WhatsApp/SMS, then a bearer
token; signing out ends that token server-side. The API (`api/routes/auth.py`) and the portal's
sign-in pages (`web/routes/session.py`) both call these, so they refuse the same things with the
same words and the same `Retry-After`."""

import math
from datetime import timedelta

from fastapi import Request

from common.auth import Principal
from common.db import utcnow
from common.domain.errors import Invalid, TooMany, Unauthenticated
from common.nik import InvalidNik, parse_nik
from common.phone import InvalidPhone, normalize_phone
from common.sessions import end_session
from services.intake import otp
from services.intake.api.deps import RuntimeDep, SessionDep
from services.intake.models import ResidentEndedSession

# Identical whether or not a code went out, so nobody learns which NIK is bound to which phone.
CODE_SENT = (
    "Kode masuk telah dikirim ke nomor HP yang terdaftar untuk NIK ini. Kode berlaku 5 menit."
)
WRONG_CODE = "Kode masuk salah atau sudah tidak berlaku. Silakan minta kode baru."


def checked_identity(nik: str, phone: str) -> tuple[str, str]:
    """The NIK and the normalised phone number, or Invalid naming the field."""
    nik = nik.strip()
    try:
        parse_nik(nik)
    except InvalidNik as exc:
        raise Invalid("invalid-nik", str(exc), field="nik") from exc
    try:
        normalized = normalize_phone(phone)
    except InvalidPhone as exc:
        raise Invalid("invalid-phone", str(exc), field="phone") from exc
    return nik, normalized


def _wait_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{math.ceil(minutes / 60)} jam" if minutes > 90 else f"{minutes} menit"


def too_many(exc: otp.Throttled) -> TooMany:
    """The 429 for a request over a limit; it depends only on the requests counted, never on
    whether the NIK is known or whose it is."""
    if isinstance(exc, otp.Locked):
        detail = "Terlalu banyak percobaan kode yang salah."
        code = "too-many-attempts"
    else:
        detail = "Terlalu sering meminta kode masuk."
        code = "too-many-codes"
    return TooMany(
        code,
        f"{detail} Silakan coba lagi dalam {_wait_words(exc.retry_after)}.",
        retry_after=exc.retry_after,
    )


def client_address(request: Request) -> str:
    """Who is asking, as the server sees it (behind a proxy: what uvicorn's proxy headers make
    of X-Forwarded-For)."""
    return request.client.host if request.client else ""


async def send_code(
    request: Request, session: SessionDep, runtime: RuntimeDep, nik: str, phone: str
) -> None:
    """Sends a sign-in code (the API route and the sign-in page both come here)."""
    nik, phone = checked_identity(nik, phone)
    try:
        await otp.request_code(
            session, runtime.otp_key, runtime.code_limits, nik, phone, client_address(request)
        )
    except otp.Throttled as exc:
        raise too_many(exc) from exc
    runtime.relay.wake()


async def redeem(session: SessionDep, runtime: RuntimeDep, nik: str, phone: str, code: str) -> str:
    """The resident's token for a right code (the API route and the sign-in page both come
    here); a refusal naming the field otherwise."""
    nik, phone = checked_identity(nik, phone)
    code = code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise Invalid("invalid-otp", "Kode masuk harus 6 digit angka.", field="otp")
    try:
        resident_id = await otp.redeem_code(
            session, runtime.otp_key, runtime.code_limits, nik, phone, code
        )
    except otp.WrongCode as exc:
        raise Unauthenticated("wrong-otp", WRONG_CODE) from exc
    except otp.Throttled as exc:
        raise too_many(exc) from exc
    return runtime.token_issuer.issue(Principal(kind="resident", subject=resident_id))


async def sign_out(session: SessionDep, runtime: RuntimeDep, resident: Principal) -> None:
    """Ends this token server-side (the API route and the portal's /keluar both come here): it
    is refused from now on, even where a copy of it survives; the resident's other sessions
    (another phone) go on."""
    assert resident.session_id is not None  # current_resident accepted it
    # Kept until the token would have expired anyway (it was issued before now).
    ttl = timedelta(seconds=runtime.settings.intake_resident_token_ttl_seconds)
    await end_session(session, ResidentEndedSession, resident.session_id, utcnow() + ttl)
