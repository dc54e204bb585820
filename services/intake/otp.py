"""Sign-in with NIK + a one-time code sent to the resident's phone.

Who may receive a code for a NIK is decided in one place, `code_recipient`, from the desa's
population register (verification's PopulationService.CheckSignIn): a phone the register holds
is the only one that receives the NIK's codes; a NIK the register holds without a phone binds
to a phone only by a sign-in that also proves the KK number and the mother's name
(`FamilyAnswer`), and the desa's operator is told (sign_in_bindings.py); a NIK in no register
binds to the first phone that redeems a code, as before. A code request is
first counted against its limits (per phone, NIK, client address and overall); then the same
work is done whatever the NIK: the resident is looked up, a pending `SignInCode` is written with
a fresh code's HMAC and an `otp_requested` event is staged for the outbox, also when nobody may
receive the code (the notification service then gets no contact and sends nothing). So the
answer, its status and its timing say nothing about the NIK. The resident row is made only when
a code is redeemed.

Wrong codes count per NIK across all its codes (`SignInGuard`): after a few free ones, each
further one locks the NIK's sign-in for a doubling period (docs/security.md, "Sign-in codes").

The event carries no phone number: the notification service asks intake through `GetContact`.
"""

import hashlib
import hmac
import logging
import math
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from smartdesa.v1 import events_pb2, population_pb2, population_pb2_grpc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, delete, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.config import CommonSettings
from common.db import as_utc, utcnow
from common.domain.errors import Unavailable
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
from services.intake.config import RateLimit, Settings
from services.intake.models import (
    Resident,
    SignInBinding,
    SignInCode,
    SignInGuard,
    SignInThrottle,
)
from services.intake.sign_in_bindings import BOUND, new_notice

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=5)
REGISTER_TIMEOUT_SECONDS = 5.0
SIGN_IN_UNAVAILABLE = (
    "Data penduduk desa sedang tidak dapat dihubungi, sehingga kode masuk belum dapat "
    "dikirim. Silakan coba lagi beberapa saat lagi."
)
# Tries at claiming a wrong-code slot while parallel tries for the same NIK win the race.
CLAIM_ROUNDS = 10


class WrongCode(Exception):
    """No live code for this NIK and phone, the code does not match, or the NIK is not theirs."""


class Throttled(Exception):
    """Too many codes asked for; `retry_after` seconds until a request is counted afresh."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Locked(Throttled):
    """Too many wrong codes for this NIK; its sign-in is locked for `retry_after` seconds."""


class FamilyThrottled(Throttled):
    """Too many tries at the KK number and mother's name for this NIK or phone."""


class FamilyProofNeeded(Exception):
    """The code is right, but the NIK's first sign-in also needs the KK number and the
    mother's name (the register holds no phone for it). The code stays usable."""


class WrongFamilyKnowledge(Exception):
    """The KK number or the mother's name is not what the register holds for the NIK."""


class SignInUnavailable(Unavailable):
    """The population register did not answer: no code was written or sent."""

    def __init__(self) -> None:
        super().__init__("sign-in-unavailable", SIGN_IN_UNAVAILABLE)


@dataclass(frozen=True)
class FamilyAnswer:
    """What only the family knows, as the resident typed it (the register compares)."""

    kk_number: str
    mother_name: str


@dataclass(frozen=True)
class SignedIn:
    """Who a redeemed code signed in, and their session version for the token (`sv`)."""

    resident_id: str
    session_version: int


@dataclass(frozen=True)
class OtpKey:
    """HMAC key for stored codes and for the NIK, phone and client address as throttle keys, so
    a leaked database reveals neither live codes nor who tried to sign in."""

    key: bytes

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> "OtpKey":
        # Derived from the internal token secret: one mounted secret fewer, and a distinct key.
        path = settings.secret_path(settings.internal_token_secret_file, "internal-token.key")
        return cls(hmac.new(read_secret(path), b"smartdesa-intake-otp-v1", hashlib.sha256).digest())

    def digest(self, challenge_id: str, code: str) -> str:
        return hmac.new(self.key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def tag(self, scope: str, value: str) -> str:
        """A stable pseudonym of `value` (a NIK, phone number or client address)."""
        return hmac.new(self.key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Limits:
    """How many codes may be asked for, and how wrong codes lock a NIK's sign-in."""

    per_phone: Sequence[RateLimit]
    per_nik: Sequence[RateLimit]
    per_client: Sequence[RateLimit]
    overall: Sequence[RateLimit]
    family_per_nik: Sequence[RateLimit]
    family_per_phone: Sequence[RateLimit]
    free_failures: int
    lock_base: timedelta
    lock_max: timedelta
    failure_memory: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            per_phone=tuple(settings.intake_code_limits_per_phone),
            per_nik=tuple(settings.intake_code_limits_per_nik),
            per_client=tuple(settings.intake_code_limits_per_client),
            overall=tuple(settings.intake_code_limits_overall),
            family_per_nik=tuple(settings.intake_family_limits_per_nik),
            family_per_phone=tuple(settings.intake_family_limits_per_phone),
            free_failures=settings.intake_code_free_failures,
            lock_base=timedelta(seconds=settings.intake_code_lock_base_seconds),
            lock_max=timedelta(seconds=settings.intake_code_lock_max_seconds),
            failure_memory=timedelta(seconds=settings.intake_code_failure_memory_seconds),
        )

    def lock_after(self, failures: int) -> timedelta | None:
        """How long the n-th wrong code in a row locks the NIK's sign-in (None: not at all)."""
        if failures < self.free_failures:
            return None
        doublings = min(failures - self.free_failures, 32)  # past the cap either way
        return min(self.lock_base * (1 << doublings), self.lock_max)


@dataclass(frozen=True)
class Recipient:
    """The phone a NIK's sign-in code may go to, and the resident the NIK already is, if any.
    `needs_family_proof`: the register holds the NIK (in `desa_code`) without a phone and no
    phone is bound to it yet, so redeeming the code also needs the KK number and the mother's
    name."""

    phone: str
    resident_id: str | None
    desa_code: str = ""
    needs_family_proof: bool = False


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


async def _find_resident(session: AsyncSession, nik: str) -> Resident | None:
    return (await session.exec(select(Resident).where(Resident.nik == nik))).first()


async def _check_register(
    population: population_pb2_grpc.PopulationServiceStub, nik: str, phone: str
) -> population_pb2.CheckSignInResponse:
    try:
        answer: population_pb2.CheckSignInResponse = await population.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=nik, phone=phone),
            timeout=REGISTER_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        # The same for every NIK (an outage is not about one NIK), so no oracle either.
        log.warning("population register unavailable for sign-in: %s", exc.code().name)
        raise SignInUnavailable() from exc
    return answer


OnRecord = population_pb2.CheckSignInResponse.PhoneOnRecord


async def code_recipient(
    session: AsyncSession,
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    phone: str,
) -> Recipient | None:
    """Who may receive a sign-in code for `nik` asked for from `phone` and sign in with it;
    None for nobody. Asked when the code is requested and again when it is redeemed.

    - The register holds a phone for the NIK: only that phone (a phone bound earlier gives
      way to it; the register's phone is the operator's decision after an in-person check).
    - The register holds the NIK without a phone: the phone already bound to it; if none is,
      this phone, once the family knowledge is proved (`needs_family_proof`).
    - The NIK is in no desa's register (or moved away): the first phone to redeem a code.
    Every request asks the register and looks up the resident, whatever the answer."""
    check = await _check_register(population, nik, phone)
    resident = await _find_resident(session, nik)
    bound = resident.phone if resident else ""
    resident_id = resident.id if resident else None
    desa_code = check.desa_code if check.registered else ""
    if check.registered and check.phone_on_record == OnRecord.MATCHES:
        return Recipient(phone=phone, resident_id=resident_id, desa_code=desa_code)
    if check.registered and check.phone_on_record == OnRecord.OTHER:
        return None
    if bound:
        if hmac.compare_digest(bound, phone):
            return Recipient(phone=bound, resident_id=resident_id, desa_code=desa_code)
        return None
    return Recipient(
        phone=phone,
        resident_id=resident_id,
        desa_code=desa_code,
        needs_family_proof=check.registered,
    )


def _insert(session: AsyncSession, table: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, for its ON CONFLICT (both dialects spell it the same)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((as_utc(moment) - now).total_seconds()))


def _window(limit: RateLimit, now: datetime) -> tuple[int, datetime]:
    """The current window of `limit`: its period number and when it ends."""
    period = int(now.timestamp()) // limit.seconds
    return period, datetime.fromtimestamp((period + 1) * limit.seconds, UTC)


async def _count(
    session: AsyncSession, buckets: Sequence[tuple[str, RateLimit]], now: datetime
) -> list[int]:
    """Counts one request for each key in its limit's current window, all in one statement;
    for each window whose count is now over its limit, the seconds until it ends. A key named
    twice (two limits of one window length) is counted twice, each limit judged on the count
    after its own hit, as when each was a statement of its own."""
    if not buckets:
        return []
    times = Counter(key for key, _ in buckets)
    rows = {
        key: {"key": key, "period": period, "hits": times[key], "ends_at": ends_at}
        for key, limit in buckets
        for period, ends_at in [_window(limit, now)]
    }
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    insert = _insert(session, SignInThrottle).values(list(rows.values()))
    statement = insert.on_conflict_do_update(
        index_elements=["key", "period"], set_={"hits": table.c.hits + insert.excluded.hits}
    ).returning(table.c.key, table.c.hits)
    counted: dict[str, int] = dict((await session.exec(statement)).all())
    waits: list[int] = []
    for key, limit in reversed(buckets):  # the last hit of a key saw its final count
        hits = counted[key]
        counted[key] = hits - 1
        if hits > limit.count:
            waits.append(_seconds_until(_window(limit, now)[1], now))
    return waits


async def _guard(session: AsyncSession, nik_hmac: str) -> SignInGuard | None:
    """The NIK's wrong-code count as stored now (not as this session last saw it)."""
    return (
        await session.exec(
            select(SignInGuard)
            .where(SignInGuard.nik_hmac == nik_hmac)
            .execution_options(populate_existing=True)
        )
    ).first()


def _locked_until(guard: SignInGuard | None, now: datetime) -> datetime | None:
    if guard is None or guard.locked_until is None or as_utc(guard.locked_until) <= now:
        return None
    return guard.locked_until


async def _throttle(
    session: AsyncSession,
    key: OtpKey,
    limits: Limits,
    *,
    nik_hmac: str,
    phone: str,
    client: str,
    now: datetime,
) -> None:
    """Counts the request in every window it belongs to (all of them, so what a refused request
    counted does not depend on which limit refused it); raises Throttled or Locked."""
    buckets = [
        *((f"phone:{w.seconds}:{key.tag('phone', phone)}", w) for w in limits.per_phone),
        *((f"nik:{w.seconds}:{nik_hmac}", w) for w in limits.per_nik),
        *((f"client:{w.seconds}:{key.tag('client', client)}", w) for w in limits.per_client),
        *((f"all:{w.seconds}:", w) for w in limits.overall),
    ]
    waits = await _count(session, buckets, now)
    locked_until = _locked_until(await _guard(session, nik_hmac), now)
    # Committed at once: the overall counter is one row every request updates.
    await session.commit()
    if locked_until is not None:
        raise Locked(_seconds_until(locked_until, now))
    if waits:
        raise Throttled(max(waits))


class SweepClock:
    """When this process last swept the sign-in tables. The sweep is housekeeping only (every
    check reads a window by its period, a code by its expiry, a wrong-code count by its last
    failure), so it runs at most once per `every` instead of as three DELETEs per request."""

    def __init__(self, every: timedelta = timedelta(minutes=1)) -> None:
        self.every = every
        self._swept_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        if self._swept_at is not None and now - self._swept_at < self.every:
            return False
        self._swept_at = now
        return True


async def _sweep(session: AsyncSession, limits: Limits, now: datetime) -> None:
    """Forgets what no longer counts: ended windows, expired codes, old wrong-code counts."""
    await session.exec(delete(SignInThrottle).where(col(SignInThrottle.ends_at) <= now))
    await session.exec(delete(SignInCode).where(col(SignInCode.expires_at) <= now))
    await session.exec(
        delete(SignInGuard)
        .where(col(SignInGuard.last_failure_at) <= now - limits.failure_memory)
        .where(or_(col(SignInGuard.locked_until).is_(None), col(SignInGuard.locked_until) <= now))
    )


async def request_code(
    session: AsyncSession,
    key: OtpKey,
    limits: Limits,
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    phone: str,
    client: str,
    sweeps: SweepClock | None = None,
) -> None:
    """Counts the request against its limits (raising Throttled or Locked over one), then
    writes a pending code and stages its event, the same work whoever may receive it. The
    tables are swept first (when `sweeps` says it is time; every time without one)."""
    now = utcnow()
    nik_hmac = key.tag("nik", nik)
    if sweeps is None or sweeps.due(now):
        await _sweep(session, limits, now)
    await _throttle(session, key, limits, nik_hmac=nik_hmac, phone=phone, client=client, now=now)
    recipient = await code_recipient(session, population, nik, phone)
    code = new_code()
    pending = SignInCode(
        nik_hmac=nik_hmac,
        phone=recipient.phone if recipient else "",
        resident_id=recipient.resident_id if recipient else None,
        code_hmac="",
        expires_at=now + CODE_TTL,
    )
    pending.code_hmac = key.digest(pending.id, code)
    session.add(pending)
    await stage_event(
        session,
        internal_subject(OTP_REQUESTED),
        CloudEvent(
            id=deterministic_event_id("otp", pending.id),
            source=EVENT_SOURCE,
            type=event_type(OTP_REQUESTED),
            subject=pending.id,
            time=now,
            data=proto_data(
                events_pb2.OtpRequested(
                    sign_in_id=pending.id, code=code, expires_at=_rfc3339(pending.expires_at)
                )
            ),
        ),
        known_new=True,  # the id derives from the code row's, new in this transaction
    )
    await session.commit()
    log.info("sign-in code %s staged", pending.id)


async def code_contact(session: AsyncSession, sign_in_id: str) -> Recipient | None:
    """Where the pending code `sign_in_id` goes (the notification service asks); None when it
    has expired, is used, or nobody may receive it."""
    pending = await session.get(SignInCode, sign_in_id)
    if (
        pending is None
        or not pending.phone
        or pending.consumed_at is not None
        or as_utc(pending.expires_at) <= utcnow()
    ):
        return None
    return Recipient(phone=pending.phone, resident_id=pending.resident_id)


async def _claim_try(session: AsyncSession, limits: Limits, nik_hmac: str, now: datetime) -> None:
    """Counts this try as a wrong code before the code is compared (a right one is forgiven
    afterwards), so parallel guesses cannot slip past the lock. Raises Locked while locked."""
    for _ in range(CLAIM_ROUNDS):
        guard = await _guard(session, nik_hmac)
        if guard is None:
            # The NIK's first count, claimed by the insert itself: one wrong code, as the
            # update below would make of a count of none.
            lock = limits.lock_after(1)
            inserted = await session.exec(
                _insert(session, SignInGuard)
                .values(
                    nik_hmac=nik_hmac,
                    failures=1,
                    last_failure_at=now,
                    locked_until=now + lock if lock is not None else None,
                )
                .on_conflict_do_nothing(index_elements=["nik_hmac"])
            )
            await session.commit()
            if inserted.rowcount == 1:
                return
            continue  # another try inserted it first: claim as usual
        if (locked_until := _locked_until(guard, now)) is not None:
            raise Locked(_seconds_until(locked_until, now))
        remembered = (
            guard.failures if as_utc(guard.last_failure_at) > now - limits.failure_memory else 0
        )
        lock = limits.lock_after(remembered + 1)
        claimed = await session.exec(
            update(SignInGuard)
            .where(col(SignInGuard.nik_hmac) == nik_hmac)
            .where(col(SignInGuard.failures) == guard.failures)
            .where(
                or_(col(SignInGuard.locked_until).is_(None), col(SignInGuard.locked_until) <= now)
            )
            .values(
                failures=remembered + 1,
                last_failure_at=now,
                locked_until=now + lock if lock is not None else None,
            )
        )
        await session.commit()
        if claimed.rowcount == 1:
            return
    raise Locked(1)


async def _register(
    session: AsyncSession,
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    phone: str,
) -> str | Resident:
    """The resident row for a NIK's first redeemed code (the row itself, as just written, or
    the id of the one another phone's code registered at the same moment); WrongCode if that
    other phone may not sign in for the NIK."""
    resident = Resident(nik=nik, phone=phone)
    session.add(resident)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        recipient = await code_recipient(session, population, nik, phone)
        if recipient is None or recipient.resident_id is None:
            raise WrongCode() from None
        return recipient.resident_id
    log.info("resident %s registered", resident.id)
    return resident


async def _bind(
    session: AsyncSession,
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    phone: str,
    recipient: Recipient,
) -> Resident:
    """The resident this sign-in is, bound to `phone`. A resident bound to another phone
    before (the register's phone changed, or an earlier binding was undone) is bound to this
    one, and every session of the phone before ends."""
    found = recipient.resident_id or await _register(session, population, nik, phone)
    # A row registered just now is as written; any other is read as stored now.
    resident = (
        found
        if isinstance(found, Resident)
        else await session.get(Resident, found, populate_existing=True)
    )
    if resident is None:  # residents are never deleted
        raise WrongCode()
    if resident.phone != phone:
        if resident.phone:
            resident.session_version += 1
        resident.phone = phone
        session.add(resident)
    return resident


async def _prove_family(
    session: AsyncSession,
    key: OtpKey,
    limits: Limits,
    population: population_pb2_grpc.PopulationServiceStub,
    *,
    nik: str,
    nik_hmac: str,
    phone: str,
    family: FamilyAnswer | None,
    now: datetime,
) -> None:
    """Checks the KK number and mother's name against the register, each try counted per NIK
    and per phone before it is compared (so parallel tries cannot slip past the limit)."""
    if family is None or not family.kk_number.strip() or not family.mother_name.strip():
        raise FamilyProofNeeded()
    buckets = [
        *((f"family-nik:{w.seconds}:{nik_hmac}", w) for w in limits.family_per_nik),
        *(
            (f"family-phone:{w.seconds}:{key.tag('phone', phone)}", w)
            for w in limits.family_per_phone
        ),
    ]
    waits = await _count(session, buckets, now)
    await session.commit()
    if waits:
        raise FamilyThrottled(max(waits))
    try:
        answer = await population.VerifyFamilyKnowledge(
            population_pb2.VerifyFamilyKnowledgeRequest(
                nik=nik, kk_number=family.kk_number, mother_name=family.mother_name
            ),
            timeout=REGISTER_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("population register unavailable for sign-in: %s", exc.code().name)
        raise SignInUnavailable() from exc
    if not answer.match:
        raise WrongFamilyKnowledge()


async def _forgive(session: AsyncSession, nik_hmac: str) -> None:
    """A right code resets the NIK's wrong-code count."""
    await session.exec(
        update(SignInGuard)
        .where(col(SignInGuard.nik_hmac) == nik_hmac)
        .values(failures=0, locked_until=None)
    )


async def redeem_code(
    session: AsyncSession,
    key: OtpKey,
    limits: Limits,
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    phone: str,
    code: str,
    family: FamilyAnswer | None = None,
) -> SignedIn:
    """Consumes the newest live code asked for with this NIK and phone if `code` matches and
    the NIK may sign in from this phone (with `family` where the register asks for it);
    returns the resident (registering or binding them)."""
    now = utcnow()
    nik_hmac = key.tag("nik", nik)
    await _claim_try(session, limits, nik_hmac, now)
    pending = (
        await session.exec(
            select(SignInCode)
            .where(SignInCode.nik_hmac == nik_hmac)
            .where(SignInCode.phone == phone)
            .where(col(SignInCode.consumed_at).is_(None))
            .where(col(SignInCode.expires_at) > now)
            .order_by(col(SignInCode.created_at).desc())
            .limit(1)
        )
    ).first()
    # The HMAC is computed whether or not a code is pending, so both take the same time.
    given = key.digest(pending.id if pending else "", code)
    if pending is None or not hmac.compare_digest(pending.code_hmac, given):
        raise WrongCode()
    recipient = await code_recipient(session, population, nik, phone)
    if recipient is None:
        raise WrongCode()
    if recipient.needs_family_proof:
        # The code was right: it does not count against the NIK while the family is asked.
        await _forgive(session, nik_hmac)
        await session.commit()
        await _prove_family(
            session,
            key,
            limits,
            population,
            nik=nik,
            nik_hmac=nik_hmac,
            phone=phone,
            family=family,
            now=now,
        )
    resident = await _bind(session, population, nik, phone, recipient)
    consumed = await session.exec(
        update(SignInCode)
        .where(col(SignInCode.id) == pending.id)
        .where(col(SignInCode.consumed_at).is_(None))
        .values(consumed_at=now)
    )
    if consumed.rowcount == 0:  # the same code redeemed in parallel
        await session.rollback()
        raise WrongCode()
    await _forgive(session, nik_hmac)
    if recipient.needs_family_proof:
        session.add(
            SignInBinding(
                resident_id=resident.id, desa_code=recipient.desa_code, phone=phone, bound_at=now
            )
        )
        await new_notice(session, BOUND, recipient.desa_code)
    signed_in = SignedIn(resident_id=resident.id, session_version=resident.session_version)
    await session.commit()
    log.info("resident %s signed in", signed_in.resident_id)
    return signed_in


def _rfc3339(value: datetime) -> str:
    return as_utc(value).isoformat().replace("+00:00", "Z")
