"""Dev data: the demo staff of desa Pamanukan and desa Rancasari, a Diskominfo operator and a
read-only DPMD viewer of Kabupaten Subang. Dev profile only; accounts that already exist are left as they are (a restart
never resets a changed password)."""

import logging
from functools import lru_cache

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role
from services.verification.accounts import hash_password
from services.verification.config import Settings
from services.verification.models import Staff

log = logging.getLogger(__name__)

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"

# (username, role, desa_code)
DEV_STAFF: tuple[tuple[str, str, str], ...] = (
    ("operator.pamanukan", Role.OPERATOR, PAMANUKAN),
    ("pemerintahan.pamanukan", Role.KASI_PEMERINTAHAN, PAMANUKAN),
    ("kesra.pamanukan", Role.KASI_KESRA, PAMANUKAN),
    ("sekdes.pamanukan", Role.SEKDES, PAMANUKAN),
    ("kades.pamanukan", Role.KADES, PAMANUKAN),
    # A second desa, to show that one desa's staff cannot act on another's letters.
    ("pemerintahan.rancasari", Role.KASI_PEMERINTAHAN, RANCASARI),
    ("kades.rancasari", Role.KADES, RANCASARI),
)
SUBANG = "32.13"
# (username, role, kabupaten_code): kabupaten accounts belong to no desa. Diskominfo's operator
# is the second escalation's target; DPMD monitors the same view read-only and is told nothing.
DEV_KABUPATEN_STAFF: tuple[tuple[str, str, str], ...] = (
    ("diskominfo.subang", Role.KABUPATEN_OPERATOR, SUBANG),
    ("dpmd.subang", Role.KABUPATEN_VIEWER, SUBANG),
)


@lru_cache(maxsize=4)
def _demo_password_hash(password: str) -> str:
    """One argon2 hash (about 0.2 s of CPU) per demo password and process, not one per account
    and start: the suite starts verification hundreds of times. Dev accounts only, all with the
    same known password anyway."""
    return hash_password(password)


async def seed_dev_staff(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Create the missing dev accounts; returns how many were created. No-op in production."""
    if not settings.is_dev:
        return 0
    async with sessions() as session:
        usernames = [username for username, _, _ in DEV_STAFF]
        usernames += [username for username, _, _ in DEV_KABUPATEN_STAFF]
        existing = set(
            (
                await session.exec(select(Staff.username).where(col(Staff.username).in_(usernames)))
            ).all()
        )
        rows = [(u, role, desa, "") for u, role, desa in DEV_STAFF]
        rows += [(u, role, "", kab) for u, role, kab in DEV_KABUPATEN_STAFF]
        missing = [row for row in rows if row[0] not in existing]
        for username, role, desa_code, kabupaten_code in missing:
            session.add(
                Staff(
                    username=username,
                    password_hash=_demo_password_hash(settings.demo_password),
                    role=role,
                    desa_code=desa_code,
                    kabupaten_code=kabupaten_code,
                )
            )
        await session.commit()
    if missing:
        log.info("seeded %d dev staff accounts", len(missing))
    return len(missing)
