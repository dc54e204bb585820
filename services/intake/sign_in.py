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
# A NIK the population register holds without a phone, signing in for the first time.
FAMILY_NEEDED = (
    "Ini pertama kali NIK ini masuk dan data penduduk desa belum mencatat nomor HP-nya. "
    "Untuk memastikan Anda pemilik NIK ini, isi juga nomor KK dan nama ibu kandung sesuai "
    "Kartu Keluarga, lalu tekan Masuk lagi dengan kode yang sama."
)
WRONG_FAMILY = (
    "Nomor KK atau nama ibu kandung tidak sesuai dengan data penduduk desa. Periksa kembali "
    "Kartu Keluarga Anda, atau datang ke kantor desa untuk mencatatkan nomor HP Anda."
)


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
    elif isinstance(exc, otp.FamilyThrottled):
        detail = "Terlalu banyak percobaan nomor KK dan nama ibu kandung."
        code = "too-many-family-attempts"
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
            session,
            runtime.otp_key,
            runtime.code_limits,
            runtime.population,
            nik,
            phone,
            client_address(request),
            runtime.sign_in_sweeps,
        )
    except otp.Throttled as exc:
        raise too_many(exc) from exc
    runtime.relay.wake()


async def redeem(
    session: SessionDep,
    runtime: RuntimeDep,
    nik: str,
    phone: str,
    code: str,
    kk_number: str = "",
    mother_name: str = "",
) -> str:
    """The resident's token for a right code (the API route and the sign-in page both come
    here), with the KK number and mother's name where the register asks for them; a refusal
    naming the field otherwise."""
    nik, phone = checked_identity(nik, phone)
    code = code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise Invalid("invalid-otp", "Kode masuk harus 6 digit angka.", field="otp")
    family = (
        otp.FamilyAnswer(kk_number=kk_number, mother_name=mother_name)
        if kk_number.strip() or mother_name.strip()
        else None
    )
    try:
        signed_in = await otp.redeem_code(
            session,
            runtime.otp_key,
            runtime.code_limits,
            runtime.population,
            nik,
            phone,
            code,
            family,
        )
    except otp.WrongCode as exc:
        raise Unauthenticated("wrong-otp", WRONG_CODE) from exc
    except otp.FamilyProofNeeded as exc:
        raise Unauthenticated(
            "family-knowledge-required", FAMILY_NEEDED, field="kk_number"
        ) from exc
    except otp.WrongFamilyKnowledge as exc:
        raise Unauthenticated("wrong-family-knowledge", WRONG_FAMILY, field="kk_number") from exc
    except otp.Throttled as exc:
        raise too_many(exc) from exc
    return runtime.token_issuer.issue(
        Principal(
            kind="resident",
            subject=signed_in.resident_id,
            session_version=signed_in.session_version,
        )
    )


async def sign_out(session: SessionDep, runtime: RuntimeDep, resident: Principal) -> None:
    """Ends this token server-side (the API route and the portal's /keluar both come here): it
    is refused from now on, even where a copy of it survives; the resident's other sessions
    (another phone) go on."""
    assert resident.session_id is not None  # current_resident accepted it
    # Kept until the token would have expired anyway (it was issued before now).
    ttl = timedelta(seconds=runtime.settings.intake_resident_token_ttl_seconds)
    await end_session(session, ResidentEndedSession, resident.session_id, utcnow() + ttl)
