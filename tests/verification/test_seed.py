from pathlib import Path

from argon2 import PasswordHasher
from sqlmodel import col, select

from common.db import create_engine, create_tables, session_factory
from services.verification.config import Settings
from services.verification.models import TABLES, Staff
from services.verification.seed import DEV_KABUPATEN_STAFF, DEV_STAFF, seed_dev_staff


async def _staff_rows(settings: Settings) -> list[Staff]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.exec(select(Staff).order_by(col(Staff.username)))).all())
    finally:
        await engine.dispose()


async def _seed(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        await create_tables(engine, TABLES)
        return await seed_dev_staff(settings, session_factory(engine))
    finally:
        await engine.dispose()


async def test_seed_creates_the_dev_accounts_once(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, demo_password="kata-sandi-demo")

    assert await _seed(settings) == len(DEV_STAFF) + len(DEV_KABUPATEN_STAFF)
    first = await _staff_rows(settings)
    assert await _seed(settings) == 0
    second = await _staff_rows(settings)

    assert [(s.id, s.username, s.password_hash) for s in first] == [
        (s.id, s.username, s.password_hash) for s in second
    ]
    by_name = {s.username: s for s in second}
    assert set(by_name) == {username for username, _, _ in DEV_STAFF} | {
        "diskominfo.subang",
        "dpmd.subang",
    }
    assert (
        by_name["pemerintahan.pamanukan"].role,
        by_name["pemerintahan.pamanukan"].desa_code,
    ) == (
        "kasi_pemerintahan",
        "32.13.11.2004",
    )
    assert (by_name["kades.rancasari"].role, by_name["kades.rancasari"].desa_code) == (
        "kades",
        "32.13.11.2002",
    )
    diskominfo = by_name["diskominfo.subang"]
    assert (diskominfo.role, diskominfo.desa_code, diskominfo.kabupaten_code) == (
        "kabupaten_operator",
        "",
        "32.13",
    )
    dpmd = by_name["dpmd.subang"]
    assert (dpmd.role, dpmd.desa_code, dpmd.kabupaten_code) == ("kabupaten_viewer", "", "32.13")
    for staff in second:
        assert staff.active
        assert staff.password_hash.startswith("$argon2id$")
        assert PasswordHasher().verify(staff.password_hash, "kata-sandi-demo")


async def test_seed_leaves_existing_accounts_alone(data_dir: Path) -> None:
    await _seed(Settings(data_dir=data_dir, demo_password="sandi-pertama"))
    # A restart with another demo password must not reset anyone's password.
    assert await _seed(Settings(data_dir=data_dir, demo_password="sandi-kedua")) == 0
    for staff in await _staff_rows(Settings(data_dir=data_dir)):
        assert PasswordHasher().verify(staff.password_hash, "sandi-pertama")


async def test_production_seeds_nothing(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, profile="production")
    assert await _seed(settings) == 0
    assert await _staff_rows(settings) == []
