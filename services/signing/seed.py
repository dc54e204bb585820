"""Dev data of the signing service: the desa profiles of the seeded desa (names from
common.wilayah; address and Kades are fictional). Idempotent; production seeds nothing."""

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.wilayah import find_desa
from services.signing.models import DesaProfile
from services.signing.pki import DevSigner


@dataclass(frozen=True)
class _DevDesa:
    code: str
    address: str
    kode_pos: str
    kades_name: str


DEV_DESA = (
    _DevDesa(
        "32.13.11.2004", "Jl. Raya Pamanukan No. 12, Pamanukan, Subang", "41254", "Dadang Suhendar"
    ),
    _DevDesa(
        "32.13.11.2002", "Jl. Raya Rancasari No. 3, Pamanukan, Subang", "41254", "Ujang Kurniawan"
    ),
)


def dev_profiles() -> list[DesaProfile]:
    profiles = []
    for d in DEV_DESA:
        desa = find_desa(d.code)
        if desa is None:
            raise RuntimeError(f"dev desa {d.code} is not in common.wilayah")
        profiles.append(
            DesaProfile(
                code=desa.code,
                name=desa.name,
                kecamatan=desa.kecamatan,
                kabupaten=desa.kabupaten,
                address=d.address,
                kode_pos=d.kode_pos,
                kades_name=d.kades_name,
            )
        )
    return profiles


def dev_signers() -> list[DevSigner]:
    """Kades and Sekdes of every dev desa, each with a certificate of their own (the Sekdes
    signs a.n. Kepala Desa with theirs)."""
    return [
        DevSigner(p.code, p.name, p.kabupaten, role, p.kades_name if role == "kades" else "")
        for p in dev_profiles()
        for role in ("kades", "sekdes")
    ]


async def seed_dev_profiles(sessions: async_sessionmaker[AsyncSession]) -> None:
    for profile in dev_profiles():
        async with sessions() as session:
            if await session.get(DesaProfile, profile.code) is not None:
                continue
            session.add(profile)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # another process seeded it first
