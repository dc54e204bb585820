"""Sign-in with NIK + a one-time code sent to the resident's phone.

The first request for a NIK binds it to the phone it came with. The code is six digits from
`secrets`, stored only as an HMAC, valid five minutes, with a bounded number of tries. It leaves
intake as an internal event (never a public one); the notification service looks the phone up
through `GetContact`, so the event carries no phone number.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartdesa.v1 import events_pb2
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.config import CommonSettings
from common.db import as_utc, utcnow
from common.domain.events import OTP_REQUESTED
from common.events import (
    CloudEvent,
    deterministic_event_id,
    event_type,
    internal_subject,
    proto_data,
)
from common.outbox import stage_event
from common.secrets import read_secret
from services.intake.applications import EVENT_SOURCE
from services.intake.models import OtpChallenge, Resident

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
MAX_CHALLENGES = 3
CHALLENGE_WINDOW = timedelta(minutes=15)


class WrongCode(Exception):
    """No such resident/phone pair, no live challenge, or the code does not match."""


class TooManyAttempts(Exception):
    """The current challenge has used up its tries."""


class TooManyChallenges(Exception):
    """The resident asked for too many codes in the window."""


@dataclass(frozen=True)
class OtpKey:
    """HMAC key for stored codes, so a leaked database does not reveal live codes."""

    key: bytes

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> "OtpKey":
        # Derived from the internal token secret: one mounted secret fewer, and a distinct key.
        path = settings.secret_path(settings.internal_token_secret_file, "internal-token.key")
        return cls(hmac.new(read_secret(path), b"smartdesa-intake-otp-v1", hashlib.sha256).digest())

    def digest(self, challenge_id: str, code: str) -> str:
        return hmac.new(self.key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


async def _find_resident(session: AsyncSession, nik: str) -> Resident | None:
    return (await session.exec(select(Resident).where(Resident.nik == nik))).first()


async def _resident_for(session: AsyncSession, nik: str, phone: str) -> Resident:
    resident = await _find_resident(session, nik)
    if resident is not None:
        return resident
    resident = Resident(nik=nik, phone=phone)
    session.add(resident)
    try:
        await session.commit()
    except IntegrityError:
        # Another request registered this NIK at the same moment; use theirs.
        await session.rollback()
        found = await _find_resident(session, nik)
        if found is None:
            raise
        return found
    log.info("resident %s registered", resident.id)
    return resident


async def request_code(session: AsyncSession, key: OtpKey, nik: str, phone: str) -> bool:
    """Creates a challenge and stages the code's event; True if a code was staged. A NIK bound
    to another phone gets nothing, and the caller answers exactly as if it had."""
    resident = await _resident_for(session, nik, phone)
    if not hmac.compare_digest(resident.phone, phone):
        log.info("code requested for resident %s from an unbound phone; nothing sent", resident.id)
        return False
    now = utcnow()
    recent = (
        await session.exec(
            select(func.count())
            .select_from(OtpChallenge)
            .where(OtpChallenge.resident_id == resident.id)
            .where(col(OtpChallenge.created_at) >= now - CHALLENGE_WINDOW)
        )
    ).one()
    if recent >= MAX_CHALLENGES:
        raise TooManyChallenges()
    code = new_code()
    challenge = OtpChallenge(resident_id=resident.id, code_hmac="", expires_at=now + CODE_TTL)
    challenge.code_hmac = key.digest(challenge.id, code)
    session.add(challenge)
    await stage_event(
        session,
        internal_subject(OTP_REQUESTED),
        CloudEvent(
            id=deterministic_event_id("otp", challenge.id),
            source=EVENT_SOURCE,
            type=event_type(OTP_REQUESTED),
            subject=resident.id,
            time=now,
            data=proto_data(
                events_pb2.OtpRequested(
                    resident_id=resident.id,
                    code=code,
                    expires_at=_rfc3339(challenge.expires_at),
                )
            ),
        ),
    )
    await session.commit()
    log.info("sign-in code staged for resident %s (challenge %s)", resident.id, challenge.id)
    return True


async def redeem_code(session: AsyncSession, key: OtpKey, nik: str, phone: str, code: str) -> str:
    """Consumes the resident's newest challenge if `code` matches; returns the resident id."""
    resident = await _find_resident(session, nik)
    if resident is None or not hmac.compare_digest(resident.phone, phone):
        raise WrongCode()
    challenge = (
        await session.exec(
            select(OtpChallenge)
            .where(OtpChallenge.resident_id == resident.id)
            .order_by(col(OtpChallenge.created_at).desc())
            .limit(1)
        )
    ).first()
    now = utcnow()
    if (
        challenge is None
        or challenge.consumed_at is not None
        or as_utc(challenge.expires_at) <= now
    ):
        raise WrongCode()
    # Count the try before comparing, atomically, so parallel guesses cannot exceed the limit.
    counted = await session.exec(
        update(OtpChallenge)
        .where(col(OtpChallenge.id) == challenge.id)
        .where(col(OtpChallenge.attempts) < MAX_ATTEMPTS)
        .values(attempts=col(OtpChallenge.attempts) + 1)
    )
    await session.commit()
    if counted.rowcount == 0:
        raise TooManyAttempts()
    if not hmac.compare_digest(challenge.code_hmac, key.digest(challenge.id, code)):
        raise WrongCode()
    consumed = await session.exec(
        update(OtpChallenge)
        .where(col(OtpChallenge.id) == challenge.id)
        .where(col(OtpChallenge.consumed_at).is_(None))
        .values(consumed_at=now)
    )
    await session.commit()
    if consumed.rowcount == 0:
        raise WrongCode()
    log.info("resident %s signed in", resident.id)
    return resident.id


def _rfc3339(value: datetime) -> str:
    return as_utc(value).isoformat().replace("+00:00", "Z")
