"""The engine and table helpers in common/db.py."""

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from common.db import create_engine, create_tables, session_factory


class Parent(SQLModel, table=True):
    __tablename__ = "test_db_parent"

    id: int | None = Field(default=None, primary_key=True)


class Child(SQLModel, table=True):
    __tablename__ = "test_db_child"

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int = Field(foreign_key="test_db_parent.id")


async def test_create_tables_makes_only_the_tables_asked_for(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'one.db'}")
    try:
        await create_tables(engine, [Parent])
        await create_tables(engine, [Parent])  # a second call changes nothing
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        # Every model shares SQLModel's metadata; the other tables there are not made.
        assert names == {"test_db_parent"}
    finally:
        await engine.dispose()


async def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fk.db'}")
    try:
        await create_tables(engine, [Parent, Child])
        async with session_factory(engine)() as session:
            session.add(Child(parent_id=42))
            with pytest.raises(IntegrityError):
                await session.commit()
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM test_db_child"))).scalar_one()
        assert count == 0
    finally:
        await engine.dispose()


class Person(SQLModel, table=True):
    __tablename__ = "test_db_person"

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(unique=True)


async def test_database_errors_do_not_carry_the_row_values(tmp_path: Path) -> None:
    # An IntegrityError's text (logged by log.exception, uvicorn's error log, a failed event)
    # would otherwise print the statement's parameters: a resident's NIK, name, phone number.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pii.db'}")
    nik = "3213012345670001"
    try:
        await create_tables(engine, [Person])
        async with session_factory(engine)() as session:
            session.add(Person(nik=nik))
            await session.commit()
        async with session_factory(engine)() as session:
            session.add(Person(nik=nik))
            with pytest.raises(IntegrityError) as caught:
                await session.commit()
        assert "UNIQUE" in str(caught.value)  # still says what went wrong
        assert nik not in str(caught.value)
        assert nik not in repr(caught.value)
    finally:
        await engine.dispose()
