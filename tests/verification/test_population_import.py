"""The OpenSID penduduk import on the register's own database (made by verification's
migrations), on SQLite and on PostgreSQL: what a realistic file creates, what is refused and
why, that importing again changes nothing, that a change is recorded, and that a failure
part-way leaves the register as it was."""

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, session_factory
from common.migrations import upgrade
from scripts.opensid_sample import COLUMNS, nik, rows, to_csv, to_xlsx
from services.verification.population.importer import (
    ImportResult,
    UnreadableFile,
    import_register,
)
from services.verification.population.models import Resident, ResidentAccess, ResidentChange
from services.verification.population.register import family, search
from tests.support.postgres import engine_url

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await engine_url(request, tmp_path, "population"))
    await upgrade(engine, "verification")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


async def run_import(
    sessions: async_sessionmaker[AsyncSession],
    table: list[dict[str, str]],
    *,
    desa: str = PAMANUKAN,
    kind: str = "xlsx",
) -> ImportResult:
    content = to_xlsx(table) if kind == "xlsx" else to_csv(table)
    async with sessions() as session:
        return await import_register(session, desa, f"penduduk.{kind}", content, actor="op.uji")


async def residents(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Resident]:
    async with sessions() as session:
        return {r.nik: r for r in (await session.exec(select(Resident))).all()}


async def changes(sessions: async_sessionmaker[AsyncSession]) -> list[ResidentChange]:
    async with sessions() as session:
        rows_ = await session.exec(select(ResidentChange).order_by(col(ResidentChange.id)))
        return list(rows_.all())


def family_rows() -> list[dict[str, str]]:
    """One family as an OpenSID export writes it: codes, '-' for unknown, text everywhere."""
    base = dict.fromkeys(COLUMNS, "")
    common = {
        "alamat": "KP. KRAJAN NO. 7",
        "dusun": "KRAJAN",
        "rw": "002",
        "rt": "005",
        "no_kk": "3213110101150007",
        "tempatlahir": "SUBANG",
        "agama_id": "1",
        "warganegara_id": "1",
        "status_dasar": "1",
        "golongan_darah_id": "13",
    }
    return [
        {
            **base,
            **common,
            "nama": "ASEP SAEPUDIN",
            "nik": nik(date(1980, 3, 12), False, 1),
            "sex": "1",
            "tanggallahir": "1980-03-12",
            "pendidikan_kk_id": "5",
            "pekerjaan_id": "9",
            "status_kawin": "2",
            "kk_level": "1",
            "nama_ayah": "-",
            "nama_ibu": "-",
            "telepon": "0812-3456-7890",
        },
        {
            **base,
            **common,
            "nama": "EUIS RAHMAWATI",
            "nik": nik(date(1984, 7, 2), True, 2),
            "sex": "2",
            "tanggallahir": "02-07-1984",  # OpenSID also accepts DD-MM-YYYY
            "pekerjaan_id": "2",
            "status_kawin": "2",
            "kk_level": "3",
            "nama_ibu": "ENOK",
            "email": "Euis@Contoh.id",
        },
        {
            **base,
            **common,
            "nama": "DEDEN PERMANA",
            "nik": nik(date(2010, 11, 30), False, 3),
            "sex": "1",
            "tanggallahir": "30/11/2010",
            "pendidikan_sedang_id": "6",
            "pekerjaan_id": "3",
            "status_kawin": "1",
            "kk_level": "4",
            "ayah_nik": nik(date(1980, 3, 12), False, 1),
            "nama_ayah": "ASEP SAEPUDIN",
            "ibu_nik": nik(date(1984, 7, 2), True, 2),
            "nama_ibu": "EUIS RAHMAWATI",
        },
    ]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
async def test_an_opensid_file_creates_its_residents(
    sessions: async_sessionmaker[AsyncSession], kind: str
) -> None:
    table = family_rows() + list(rows(40, seed=2))

    result = await run_import(sessions, table, kind=kind)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (43, 0, 0, [])
    found = await residents(sessions)
    assert len(found) == 43
    head = found[nik(date(1980, 3, 12), False, 1)]
    assert (head.name, head.kk_number, head.kk_level, head.sex) == (
        "ASEP SAEPUDIN",
        "3213110101150007",
        1,
        1,
    )
    assert (head.birth_place, head.birth_date, head.religion, head.occupation) == (
        "SUBANG",
        date(1980, 3, 12),
        1,
        9,
    )
    assert (head.address, head.dusun, head.rw, head.rt) == (
        "KP. KRAJAN NO. 7",
        "KRAJAN",
        "002",
        "005",
    )
    assert (head.status, head.phones, head.version, head.desa_code) == (
        "hidup",
        "6281234567890",
        1,
        PAMANUKAN,
    )
    assert head.father_name == "" and head.mother_name == ""  # OpenSID's "-" is unknown
    wife = found[nik(date(1984, 7, 2), True, 2)]
    assert (wife.birth_date, wife.kk_level, wife.email, wife.mother_name) == (
        date(1984, 7, 2),
        3,
        "euis@contoh.id",
        "ENOK",
    )
    child = found[nik(date(2010, 11, 30), False, 3)]
    assert (child.birth_date, child.education_ongoing, child.father_nik, child.mother_name) == (
        date(2010, 11, 30),
        6,
        head.nik,
        "EUIS RAHMAWATI",
    )
    created = await changes(sessions)
    assert len(created) == 43
    assert {(c.field, c.source, c.changed_by, c.version) for c in created} == {
        ("", "import", "op.uji", 1)
    }


async def test_bad_rows_are_reported_and_good_rows_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    good = family_rows()
    bad = dict(good[0], nama="SALAH")
    table = [
        good[0],
        dict(bad, nik="321311120380001"),  # 15 digits: row 3
        dict(bad, nik=nik(date(1990, 1, 1), False, 7)),  # row 4, and again in row 6
        dict(bad, nik="3213113302900001"),  # 33 February: row 5
        dict(bad, nik=nik(date(1990, 1, 1), False, 7), nama="LAIN"),  # row 6
        dict(bad, nik=nik(date(1991, 1, 1), False, 8), agama_id="12"),  # row 7
        dict(bad, nik=nik(date(1992, 1, 1), False, 9), tanggallahir="kemarin"),  # row 8
        dict(bad, nik=nik(date(1993, 1, 1), False, 9), nama=""),  # row 9
        dict(bad, nik=nik(date(1994, 1, 1), False, 9), telepon="12345"),  # row 10
        good[1],
    ]

    result = await run_import(sessions, table)

    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    reasons = {r.row: r.reason for r in result.rejected}
    assert reasons == {
        3: "NIK harus 16 digit angka dengan tanggal lahir yang valid.",
        4: "NIK yang sama juga ada di baris 6 berkas ini.",
        5: "NIK harus 16 digit angka dengan tanggal lahir yang valid.",
        6: "NIK yang sama juga ada di baris 4 berkas ini.",
        7: "Kode agama '12' tidak dikenal.",
        8: "Tanggal lahir 'kemarin' tidak dapat dibaca (tulis TTTT-BB-HH, misalnya 1990-08-17).",
        9: "Nama wajib diisi.",
        10: "Nomor HP harus nomor seluler Indonesia, misalnya 081234567890 atau +6281234567890.",
    }
    assert set(await residents(sessions)) == {good[0]["nik"], good[1]["nik"]}


async def test_importing_the_same_file_again_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    table = family_rows() + list(rows(30, seed=3))
    await run_import(sessions, table)
    before = {n: r.model_dump() for n, r in (await residents(sessions)).items()}
    history_before = len(await changes(sessions))

    again = await run_import(sessions, table)
    as_csv = await run_import(sessions, table, kind="csv")

    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 33, [])
    assert (as_csv.created, as_csv.updated, as_csv.unchanged) == (0, 0, 33)
    assert {n: r.model_dump() for n, r in (await residents(sessions)).items()} == before
    assert len(await changes(sessions)) == history_before


async def test_a_changed_row_updates_its_resident_and_records_what_changed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    table = family_rows()
    await run_import(sessions, table)
    head_nik = table[0]["nik"]
    changed = [
        dict(table[0], nama="ASEP SAEPUDIN HIDAYAT", pekerjaan_id="88", telepon="085712345678"),
        dict(table[1], pekerjaan_id="", agama_id=""),  # empty cells keep the register's values
        dict(table[2], status_dasar="3"),  # moved away
    ]

    result = await run_import(sessions, changed)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 2, 1, [])
    found = await residents(sessions)
    head = found[head_nik]
    assert (head.name, head.occupation, head.version) == ("ASEP SAEPUDIN HIDAYAT", 88, 2)
    assert head.phones == "6281234567890,6285712345678"  # a number is added, none removed
    assert (found[table[1]["nik"]].occupation, found[table[1]["nik"]].version) == (2, 1)
    assert found[table[2]["nik"]].status == "pindah"
    recorded = {
        (c.field, c.old_value, c.new_value) for c in await changes(sessions) if c.version == 2
    }
    assert recorded == {
        ("name", "ASEP SAEPUDIN", "ASEP SAEPUDIN HIDAYAT"),
        ("occupation", "9 (PETANI/PEKEBUN)", "88 (WIRASWASTA)"),
        ("phones", "6281234567890", "6281234567890,6285712345678"),
        ("status", "hidup", "pindah"),
    }


async def test_a_failure_part_way_leaves_the_register_as_it_was(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    table = family_rows()
    await run_import(sessions, table)
    before = {n: r.model_dump() for n, r in (await residents(sessions)).items()}
    history_before = len(await changes(sessions))
    # The database refuses the history of an update: by then the import has already updated
    # one resident and inserted the new ones in its transaction.
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_updates BEFORE INSERT ON population_resident_change "
                    "WHEN NEW.version > 1 BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE FUNCTION refuse_updates() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.version > 1 THEN RAISE EXCEPTION 'disk full'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_updates BEFORE INSERT ON population_resident_change "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_updates()"
                )
            )
    newcomers = list(rows(20, seed=5))

    with pytest.raises(DBAPIError, match="disk full"):
        await run_import(sessions, [dict(table[0], nama="BERUBAH"), *newcomers])

    assert {n: r.model_dump() for n, r in (await residents(sessions)).items()} == before
    assert len(await changes(sessions)) == history_before


async def test_columns_are_matched_by_name_and_unknown_ones_ignored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    shuffled = ("nik", "nama", "kk_level", "no_kk", "rt", "rw", "dusun", "suku", "agama_id")
    row = dict(family_rows()[0], suku="SUNDA", agama_id="ISLAM")  # a name for a code, as OpenSID

    async with sessions() as session:
        result = await import_register(
            session, PAMANUKAN, "penduduk.csv", to_csv([row], shuffled), actor="op.uji"
        )
        with pytest.raises(UnreadableFile, match="Kolom yang tidak ada: no_kk, kk_level"):
            await import_register(
                session,
                PAMANUKAN,
                "penduduk.csv",
                to_csv([row], ("nik", "nama", "dusun", "rw", "rt")),
                actor="op.uji",
            )
        with pytest.raises(UnreadableFile, match=r"\.xlsx atau \.csv"):
            await import_register(session, PAMANUKAN, "penduduk.pdf", b"%PDF", actor="op.uji")

    assert (result.created, result.rejected) == (1, [])
    head = (await residents(sessions))[row["nik"]]
    assert (head.religion, head.sex) == (1, 1)  # sex read from the NIK when the column is absent


async def test_a_nik_from_anywhere_may_register_but_only_one_desa_holds_it_living(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    newcomer = dict(family_rows()[0], nik=nik(date(1975, 5, 5), False, 42, region="317401"))
    await run_import(sessions, [newcomer], desa=RANCASARI)

    refused = await run_import(sessions, [newcomer])
    await run_import(sessions, [dict(newcomer, status_dasar="3")], desa=RANCASARI)  # moved out
    accepted = await run_import(sessions, [newcomer])

    assert [r.reason for r in refused.rejected] == [
        "NIK ini tercatat sebagai penduduk hidup di desa lain. Desa itu perlu menandainya "
        "pindah lebih dulu."
    ]
    assert accepted.created == 1
    async with sessions() as session:
        records = (
            await session.exec(
                select(Resident.desa_code, Resident.status).where(Resident.nik == newcomer["nik"])
            )
        ).all()
        count = (await session.exec(select(func.count()).select_from(Resident))).one()
    assert sorted(records) == [(RANCASARI, "pindah"), (PAMANUKAN, "hidup")]
    assert count == 2


async def test_search_and_family_on_the_imported_register(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    table = family_rows()
    table[2]["status_dasar"] = "2"  # the child has died: still found, after the living
    await run_import(sessions, [*table, *rows(20, seed=8)])

    async with sessions() as session:
        by_name = await search(session, PAMANUKAN, "  euis ", actor="kasi", purpose="p")
        by_nik = await search(session, PAMANUKAN, table[0]["nik"], actor="kasi", purpose="p")
        by_kk = await search(session, PAMANUKAN, "3213 1101 0115 0007", actor="kasi", purpose="p")
        wildcard = await search(session, PAMANUKAN, "%%%", actor="kasi", purpose="p")
        elsewhere = await search(session, RANCASARI, table[0]["nik"], actor="kasi", purpose="p")
        members = await family(session, PAMANUKAN, "3213110101150007", actor="kasi", purpose="p")
        logged = (await session.exec(select(func.count()).select_from(ResidentAccess))).one()

    assert "EUIS RAHMAWATI" in [r.name for r in by_name]
    assert [r.nik for r in by_nik] == [table[0]["nik"]]
    assert [r.name for r in by_kk] == ["ASEP SAEPUDIN", "EUIS RAHMAWATI", "DEDEN PERMANA"]
    assert [r.status for r in by_kk] == ["hidup", "hidup", "meninggal"]
    assert wildcard == [] and elsewhere == []
    assert [(m.name, m.kk_level) for m in members] == [
        ("ASEP SAEPUDIN", 1),
        ("EUIS RAHMAWATI", 3),
        ("DEDEN PERMANA", 4),
    ]
    assert logged == len(by_name) + len(by_nik) + len(by_kk) + len(members)
