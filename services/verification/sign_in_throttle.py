"""Throttling staff sign-in: failed attempts are counted per account and per client address
over a sliding window; at the limit, sign-in is refused before the password is hashed until
the oldest counted failure leaves the window. The failures live in the database
(`SignInFailure`), so a restart forgets nothing and every replica counts the same attempts.

An administrator's password reset (staff_admin.set_password) clears the account's count, which
is what a locked-out staff member is told to ask for. A success clears the account's count but
not the address's, so one's own account cannot be used to reset an address's count."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from services.verification.config import Settings
from services.verification.models import SignInFailure


@dataclass(frozen=True)
class SignInLimits:
    per_account: int
    per_client: int
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "SignInLimits":
        return cls(
            per_account=settings.staff_sign_in_max_failures_per_account,
            per_client=settings.staff_sign_in_max_failures_per_client,
            window=timedelta(seconds=settings.staff_sign_in_window_seconds),
        )


class SignInLocked(Exception):
    """Too many failures for this account (`account=True`) or from this client address."""

    def __init__(self, retry_after: timedelta, *, account: bool) -> None:
        super().__init__("sign-in locked")
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))
        self.account = account

    @property
    def message(self) -> str:
        minutes = math.ceil(self.retry_after_seconds / 60)
        if self.account:
            return (
                "Akun dikunci sementara karena terlalu banyak percobaan masuk yang gagal. Coba "
                f"lagi dalam {minutes} menit, atau minta Sekretaris Desa atau Kepala Desa "
                "mengatur ulang kata sandi Anda."
            )
        return (
            "Terlalu banyak percobaan masuk yang gagal dari jaringan ini. Coba lagi dalam "
            f"{minutes} menit."
        )


def account_key(username: str) -> str:
    # Unknown usernames are counted too: a lockout must not tell which accounts exist.
    return f"akun:{username.strip().lower()}"


def client_key(address: str) -> str:
    return f"alamat:{address}"


async def _locked_until(
    session: AsyncSession, key: str, limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """When the `limit`-th latest failure in the window leaves it, if there are that many."""
    row = await session.exec(
        select(SignInFailure.failed_at)
        .where(SignInFailure.key == key, SignInFailure.failed_at > now - window)
        .order_by(col(SignInFailure.failed_at).desc())
        .offset(limit - 1)
        .limit(1)
    )
    oldest = row.first()
    return None if oldest is None else as_utc(oldest) + window


async def refuse_if_locked(
    session: AsyncSession, limits: SignInLimits, username: str, client: str
) -> None:
    now = utcnow()
    for key, limit, account in (
        (account_key(username), limits.per_account, True),
        (client_key(client), limits.per_client, False),
    ):
        until = await _locked_until(session, key, limit, limits.window, now)
        if until is not None and until > now:
            raise SignInLocked(until - now, account=account)


async def record_failure(
    session: AsyncSession, limits: SignInLimits, username: str, client: str
) -> None:
    now = utcnow()
    await session.exec(
        delete(SignInFailure).where(col(SignInFailure.failed_at) <= now - limits.window)
    )
    session.add(SignInFailure(key=account_key(username), failed_at=now))
    session.add(SignInFailure(key=client_key(client), failed_at=now))
    await session.commit()


async def clear_account(session: AsyncSession, username: str) -> None:
    """Lifts the account's lockout (the caller commits)."""
    await session.exec(delete(SignInFailure).where(col(SignInFailure.key) == account_key(username)))
