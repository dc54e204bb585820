"""A database made by an earlier version gains the columns its models have since grown."""

from pathlib import Path

from sqlalchemy import text
from sqlmodel import Field, SQLModel

from common.db import create_engine, create_tables, session_factory


class Grown(SQLModel, table=True):
    __tablename__ = "test_grown"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    note: str = ""  # added later, with a default
    level: int = 0  # added later, with a default
    flag: bool = False  # added later, with a default
    seen_at: str | None = None  # added later, nullable


async def test_new_columns_are_added_with_their_defaults(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("CREATE TABLE test_grown (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
            )
            await conn.execute(text("INSERT INTO test_grown (name) VALUES ('lama')"))

        await create_tables(engine, [Grown])
        await create_tables(engine, [Grown])  # a second start changes nothing

        async with session_factory(engine)() as session:
            old = await session.get(Grown, 1)
            assert old is not None
            assert (old.name, old.note, old.level, old.flag, old.seen_at) == (
                "lama",
                "",
                0,
                False,
                None,
            )
            session.add(Grown(name="baru", note="n", level=2, flag=True, seen_at="x"))
            await session.commit()
    finally:
        await engine.dispose()
