"""Staff accounts: password hashing (argon2id) and sign-in."""

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.verification.models import Staff

password_hasher = PasswordHasher()


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
