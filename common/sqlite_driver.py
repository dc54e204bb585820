"""SQLAlchemy's aiosqlite driver with one hand-over per statement (the dev profile's SQLite).

aiosqlite runs each sqlite3 call on the connection's own thread, and SQLAlchemy's adapter makes
four such calls per SELECT (open a cursor, execute, fetch all, close it) and three per other
statement: each a queue put, a thread switch and a wake-up of the event loop through its
self-pipe. The cursor here does the four in one call on that thread. The rows, description,
row count and last row id it hands back are those the stock cursor would read; errors are
translated the same way. Server-side cursors (`stream`) keep the stock class.

A commit or rollback with no transaction open is a no-op in sqlite3, yet a hand-over each: a
session that only reads closes with two rollbacks (its own and the pool's reset), one that
commits with a rollback after it. The connection therefore remembers whether sqlite3 said a
transaction was open after its last statement (read on the connection's thread) and skips
those calls when none is; anything it cannot see (a server-side cursor, a failed statement or
call) counts as open, so the call is made.

It leans on aiosqlite's `Connection._execute` (queue a callable on the connection's thread)
and `Connection._conn` (the sqlite3 connection), which SQLAlchemy's own adapter uses too
(`_conn`, `_tx`). Every test runs on SQLite, so a change there shows at once.
"""

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# description, rows, rowcount, lastrowid, and whether a transaction is open after it
_Outcome = tuple[Any, Sequence[Any], int, int | None, bool]


class _OneCallCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No cursor is opened here (the stock one opens it on the connection's thread).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1  # sqlite3's default: `fetchmany()` without a size reads it
        self._cursor = None  # type: ignore[assignment]  # never opened (see `_run`)

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return  # nothing is open: the sqlite3 cursor was closed on its thread

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]

        def on_its_thread() -> _Outcome:
            cursor = connection._conn.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else ()
                open_after = connection._conn.in_transaction
                return description, rows, cursor.rowcount, cursor.lastrowid, open_after
            finally:
                cursor.close()

        async def handed_over() -> _Outcome:
            async with self._adapt_connection._execute_mutex:
                outcome: _Outcome = await connection._execute(on_its_thread)  # type: ignore[no-untyped-call]
                return outcome

        adapt_connection: _Connection = self._adapt_connection  # type: ignore[assignment]
        try:
            outcome = await_(handed_over())
        except Exception as error:
            adapt_connection.in_transaction = True  # unknown after a failure
            adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid, open_after = outcome
        adapt_connection.in_transaction = open_after
        self._rows = collections.deque(rows)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("in_transaction",)
    _cursor_cls = _OneCallCursor  # type: ignore[assignment]  # a subclass of the stock one

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        # Whether sqlite3 may have a transaction open: unknown until a statement says.
        self.in_transaction = True

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            self.in_transaction = True  # the stock cursor's statements are not seen here
        return super().cursor(server_side)

    def commit(self) -> None:
        if self.in_transaction:
            super().commit()  # on failure (it raises) the flag stays: still unknown
            self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            super().rollback()
            self.in_transaction = False


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        creator = kw.pop("async_creator_fn", None)
        if creator is not None:
            return _Connection(self, await_(creator(*arg, **kw)))
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's own adapter does
        return _Connection(self, await_(connection))


def one_call_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The `module` for `create_async_engine("sqlite+aiosqlite://…", module=…)`."""
    return _DBAPI(aiosqlite, sqlite3)
