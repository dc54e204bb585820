"""Dev data of the signing service: the desa profiles of the seeded desa (names, kecamatan and
kabupaten from common/data/subang-pantura-desa.csv through common.wilayah; address, officials,
paper and logo are dev defaults: fictional names and a placeholder lambang). Idempotent;
production seeds nothing."""

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role
from common.wilayah import find_desa
from services.signing.models import DesaOfficial, DesaProfile
from services.signing.pki import DevSigner

DEV_LOGO = "logo-dev.svg"


@dataclass(frozen=True)
class _DevDesa:
    code: str
    address: str
    kode_pos: str
    kades_name: str
    sekdes_name: str
    paper: str
    # staff username (as verification seeds them) -> name printed when they sign
    officials: tuple[tuple[str, str], ...]


DEV_DESA = (
    _DevDesa(
        "32.13.11.2004",
        "Jl. Raya Pamanukan No. 12, Pamanukan, Subang",
        "41254",
        "Dadang Suhendar",
        "Asep Saepudin",
        "F4",
        (("kades.pamanukan", "Dadang Suhendar"), ("sekdes.pamanukan", "Asep Saepudin")),
    ),
    _DevDesa(
        "32.13.11.2002",
        "Jl. Raya Rancasari No. 3, Pamanukan, Subang",
        "41254",
        "Ujang Kurniawan",
        "Euis Rahmawati",
        "A4",
        (("kades.rancasari", "Ujang Kurniawan"),),
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
                sekdes_name=d.sekdes_name,
                paper=d.paper,
                logo_file=DEV_LOGO,
            )
        )
    return profiles


def dev_officials() -> list[DesaOfficial]:
    return [
        DesaOfficial(desa_code=d.code, username=username, name=name)
        for d in DEV_DESA
        for username, name in d.officials
    ]


# Who signs a desa's letters: the Kades, or the Sekdes where a desa's route lets them sign
# (a.n. Kepala Desa); each needs their own certificate.
DEV_SIGNER_ROLES = (Role.KADES, Role.SEKDES)


def dev_signers() -> list[DevSigner]:
    """Kades and Sekdes of every dev desa, each with a certificate of their own (the Sekdes
    signs a.n. Kepala Desa with theirs), and the camat of each of their kecamatan (keyed by the
    kecamatan code: the "mengetahui" signature on letters that go through the kecamatan)."""
    desa = [
        DevSigner(p.code, p.name, p.kabupaten, role, p.kades_name if role == Role.KADES else "")
        for p in dev_profiles()
        for role in DEV_SIGNER_ROLES
    ]
    camat: dict[str, DevSigner] = {}
    for p in dev_profiles():
        found = find_desa(p.code)
        if found is not None and found.kecamatan_code not in camat:
            camat[found.kecamatan_code] = DevSigner(
                found.kecamatan_code, found.kecamatan, p.kabupaten, Role.CAMAT
            )
    return desa + list(camat.values())


def install_dev_logo(assets_dir: Path) -> None:
    target = assets_dir / DEV_LOGO
    if target.exists():
        return
    assets_dir.mkdir(parents=True, exist_ok=True)
    source = resources.files("services.signing").joinpath(f"templates/assets/{DEV_LOGO}")
    with resources.as_file(source) as path:
        shutil.copyfile(path, target)


async def seed_dev_profiles(
    sessions: async_sessionmaker[AsyncSession], assets_dir: Path | None = None
) -> None:
    if assets_dir is not None:
        install_dev_logo(assets_dir)
    rows: list[tuple[SQLModel, object]] = [(p, p.code) for p in dev_profiles()]
    rows += [(o, (o.desa_code, o.username)) for o in dev_officials()]
    for row, key in rows:
        async with sessions() as session:
            if await session.get(type(row), key) is not None:
                continue
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # another process seeded it first
