"""The engine and table helpers in common/db.py."""

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Field, SQLModel, select

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


async def test_the_one_call_cursor_answers_as_the_stock_aiosqlite_one(tmp_path: Path) -> None:
    # common/sqlite_driver.py: each statement in one hand-over to the connection's thread. The
    # same statements through it and through SQLAlchemy's own aiosqlite adapter give the same
    # rows, row counts, last row ids and errors.
    statements: list[tuple[str, Any]] = [
        ("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)", None),
        ("INSERT INTO t (v) VALUES (:v)", {"v": "a"}),
        ("INSERT INTO t (v) VALUES (:v)", [{"v": "b"}, {"v": "c"}, {"v": "d"}]),
        ("UPDATE t SET v = v || '!' WHERE id > :id RETURNING id, v", {"id": 2}),
        ("UPDATE t SET v = upper(v) WHERE id < :id", {"id": 3}),
        ("SELECT id, v FROM t ORDER BY id", None),
        ("SELECT id FROM t WHERE v = :v", {"v": "none"}),
        ("DELETE FROM t WHERE id = :id", {"id": 4}),
        ("INSERT INTO t (v) VALUES (:v)", {"v": "A"}),  # refused: unique
    ]

    async def run(engine: AsyncEngine) -> list[object]:
        seen: list[object] = []
        async with engine.connect() as conn:
            for sql, params in statements:
                try:
                    result = await conn.execute(text(sql), params)
                except IntegrityError as exc:
                    seen.append(("refused", str(exc.orig)))
                    continue
                rows = result.all() if result.returns_rows else None
                seen.append((rows, result.rowcount, getattr(result, "lastrowid", None)))
            await conn.commit()
            streamed = await conn.stream(text("SELECT v FROM t ORDER BY id"))
            seen.append([row async for row in streamed])
            some = await conn.execute(text("SELECT v FROM t ORDER BY id"))
            seen.append((some.fetchmany(), some.fetchmany(2), some.fetchall()))
        return seen

    ours = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}")
    stock = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}")
    try:
        raw = await ours.raw_connection()
        assert type(raw.dbapi_connection).__module__ == "common.sqlite_driver"
        raw.close()
        assert await run(ours) == await run(stock)
    finally:
        await ours.dispose()
        await stock.dispose()


async def test_commits_and_rollbacks_go_to_sqlite_only_with_a_transaction_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sqlite3 treats both as no-ops outside a transaction; each would still be a hand-over.
    # What a transaction holds is still committed or undone, and its write lock let go.
    calls: list[str] = []
    for name in ("commit", "rollback"):
        original = getattr(aiosqlite.Connection, name)

        async def counted(self: aiosqlite.Connection, _o: Any = original, _n: str = name) -> None:
            calls.append(_n)
            await _o(self)

        monkeypatch.setattr(aiosqlite.Connection, name, counted)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tx.db'}")
    sessions = session_factory(engine)
    try:
        await create_tables(engine, [Parent])
        calls.clear()
        async with sessions() as session:  # reads only: nothing to commit or undo
            await session.exec(select(Parent))
            await session.commit()
        assert calls == []
        async with sessions() as session:  # a write, committed: one commit, no rollback
            session.add(Parent(id=1))
            await session.commit()
        assert calls == ["commit"]
        calls.clear()
        async with sessions() as session:  # a write left open is undone when it closes
            session.add(Parent(id=2))
            await session.flush()
        assert calls == ["rollback"]
        calls.clear()
        async with sessions() as session:  # a failed write, then rolled back
            session.add(Parent(id=1))
            with pytest.raises(IntegrityError):
                await session.commit()
            await session.rollback()
        assert "rollback" in calls
        async with engine.connect() as conn:  # a streamed read is not seen: the call is made
            calls.clear()
            _ = [row async for row in await conn.stream(text("SELECT id FROM test_db_parent"))]
            await conn.rollback()
            assert calls == ["rollback"]
        async with sessions() as session:  # no write lock is left behind: this commits at once
            session.add(Parent(id=3))
            await session.commit()
            ids = {p.id for p in (await session.exec(select(Parent))).all()}
        assert ids == {1, 3}
    finally:
        await engine.dispose()
