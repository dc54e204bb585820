"""Staff accounts: password hashing (argon2id), sign-in (throttled: sign_in_throttle.py) and the
sessions a sign-in opens: which token is still good (`current_account`), signing one out, and
ending them all (`end_all_sessions`). docs/security.md tells the whole story."""

import asyncio
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import Principal, StaffSession, staff_session_current
from common.db import utcnow
from common.sessions import end_session
from services.verification.models import PltAssignment, Staff, StaffEndedSession
from services.verification.plt import held_roles, plt_in_force
from services.verification.sign_in_throttle import (
    SignInLimits,
    clear_account,
    record_failure,
    refuse_if_locked,
)

password_hasher = PasswordHasher()

BAD_CREDENTIALS = "Nama pengguna atau kata sandi salah."


class BadCredentials(Exception):
    """Unknown username, wrong password or inactive account: one answer for all three."""


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return hash_password("no-such-account")


async def authenticate(session: AsyncSession, username: str, password: str) -> Staff | None:
    """The active account with this username and password, or None. An unknown username costs
    the same argon2 verification as a wrong password, so timing does not reveal accounts."""
    staff = (await session.exec(select(Staff).where(Staff.username == username))).first()
    stored = staff.password_hash if staff is not None else _dummy_hash()
    # argon2 is deliberately slow; keep it off the event loop.
    matches = await asyncio.to_thread(password_matches, stored, password)
    if staff is None or not matches or not staff.active:
        return None
    return staff


async def sign_in(
    session: AsyncSession, limits: SignInLimits, username: str, password: str, client: str
) -> Staff:
    """The account, for the page and the API alike. Raises `SignInLocked` before any hashing
    while the account or the client address is locked, `BadCredentials` (and counts the
    failure) otherwise."""
    await refuse_if_locked(session, limits, username, client)
    staff = await authenticate(session, username, password)
    if staff is None:
        await record_failure(session, limits, username, client)
        raise BadCredentials
    await clear_account(session, username)
    await session.commit()
    return staff


def principal_of(staff: Staff) -> Principal:
    """What a staff token says: who, in which role and desa, at which session version."""
    return Principal(
        kind="staff",
        subject=staff.username,
        role=staff.role,
        desa_code=staff.desa_code,
        session_version=staff.session_version,
    )


async def session_of(
    session: AsyncSession, username: str, session_id: str | None
) -> tuple[Staff, StaffSession] | None:
    """The account and what it says now about one of its tokens (None: no such account). One
    query for the account and whether the token was signed out (`common.sessions`), as every
    staff request asks both."""
    signed_out = (
        select(StaffEndedSession.session_id)
        .where(col(StaffEndedSession.session_id) == session_id)
        .exists()
    )
    row = (await session.exec(select(Staff, signed_out).where(Staff.username == username))).first()
    if row is None:
        return None
    staff, ended = row
    return staff, StaffSession(
        active=staff.active,
        role=staff.role,
        desa_code=staff.desa_code,
        session_version=staff.session_version,
        # A token without an id cannot be signed out, so it is not accepted.
        ended=session_id is None or bool(ended),
    )


async def current_account(session: AsyncSession, principal: Principal) -> Staff | None:
    """The account of a staff token whose session is still current, or None."""
    found = await session_of(session, principal.subject, principal.session_id)
    if found is None or not staff_session_current(principal, found[1]):
        return None
    return found[0]


async def current_account_and_roles(
    session: AsyncSession, principal: Principal
) -> tuple[Staff, list[str]] | None:
    """As `current_account`, with the roles the account holds now in its desa (its own, then
    its Plt roles, as `plt.roles_held`): one query for what every desa staff request checks
    (the account, the signed-out check, the Plt periods in force)."""
    now = utcnow()
    signed_out = (
        select(StaffEndedSession.session_id)
        .where(col(StaffEndedSession.session_id) == principal.session_id)
        .exists()
    )
    in_force = and_(
        col(PltAssignment.username) == col(Staff.username),
        col(PltAssignment.desa_code) == col(Staff.desa_code),
        *plt_in_force(now),
    )
    rows = (
        await session.exec(
            select(Staff, signed_out, PltAssignment)
            .outerjoin(PltAssignment, in_force)
            .where(Staff.username == principal.subject)
            .order_by(col(PltAssignment.starts_at))
        )
    ).all()
    if not rows:
        return None
    staff, ended, _ = rows[0]
    state = StaffSession(
        active=staff.active,
        role=staff.role,
        desa_code=staff.desa_code,
        session_version=staff.session_version,
        ended=principal.session_id is None or bool(ended),
    )
    if not staff_session_current(principal, state):
        return None
    periods = [plt for _, _, plt in rows if plt is not None]
    return staff, held_roles(staff, periods, now)


async def sign_out(session: AsyncSession, principal: Principal, token_ttl_seconds: int) -> None:
    """Ends this one token in every service (they ask verification: GetStaffSession)."""
    assert principal.session_id is not None  # current_account accepted it
    # Kept until the token would have expired anyway (it was issued before now).
    expires_at = utcnow() + timedelta(seconds=token_ttl_seconds)
    await end_session(session, StaffEndedSession, principal.session_id, expires_at)


def end_all_sessions(staff: Staff) -> None:
    """Every token issued to the account so far is refused from now on (the caller commits)."""
    staff.session_version += 1
