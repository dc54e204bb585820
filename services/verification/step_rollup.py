"""The kabupaten view's step times, kept as the steps are decided: per kabupaten, WIB day of the
decision, kecamatan and role group, the count of decided route steps and every step's working
and calendar seconds (StepRollup).

The page promises exact figures (count, median and 90th percentile per role group, linear
between the nearest ranks), so the rollup keeps the values themselves, not buckets. It is
worth having because a month of a kabupaten is 75,000 steps that PostgreSQL had to sort on every
request, and the same month is about 2,700 rows here (30 days x 30 kecamatan x 3 groups), each
with its values already in order (docs/performance.md has the measurements).

The task projection calls `move` in the transaction that changes a step (task_inbox.py): a step
decided adds its values to its cell, a decided step opened again after a revision, cancelled
or decided again takes them out. `rebuild` makes the whole rollup from the tasks (the migration,
the benchmark's loader, tests of the two against each other).
"""

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import NullType
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.wib import WIB
from services.verification.models import (
    TASK_DONE,
    TASK_KIND_DECISION,
    TASK_REVISION_REQUESTED,
    StepRollup,
    Task,
)

# Statuses of a decided step (its time counts): approved or rejected (done), or returned for
# revision.
DECIDED = (TASK_DONE, TASK_REVISION_REQUESTED)


def role_group(role: str) -> str:
    """Route roles as the kabupaten compares them: every Kasi together."""
    return "kasi" if role.startswith("kasi_") else role


def elapsed_seconds(assigned_at: datetime, closed_at: datetime) -> float:
    """Calendar seconds from assignment to decision, never below 0. timedelta division rounds
    the exact microseconds once, as PostgreSQL's EXTRACT(epoch ...)::float8 does (`rebuild`)."""
    return max((as_utc(closed_at) - as_utc(assigned_at)).total_seconds(), 0.0)


class Cell(NamedTuple):
    kabupaten_code: str
    day: date
    kecamatan_code: str
    role_group: str


class Counted(NamedTuple):
    """What one task adds to the rollup."""

    cell: Cell
    working_seconds: float | None
    elapsed_seconds: float


def counted(task: Task) -> Counted | None:
    """The task's part of the rollup: a decided route step's, else None (open, cancelled,
    expired, or a signing-blocked task)."""
    return _counted(
        task.kind,
        task.status,
        task.role,
        task.kabupaten_code,
        task.kecamatan_code,
        task.assigned_at,
        task.closed_at,
        task.working_seconds,
    )


def _counted(
    kind: str,
    status: str,
    role: str,
    kabupaten_code: str,
    kecamatan_code: str,
    assigned_at: datetime,
    closed_at: datetime | None,
    working_seconds: float | None,
) -> Counted | None:
    if kind != TASK_KIND_DECISION or status not in DECIDED or closed_at is None:
        return None
    day = as_utc(closed_at).astimezone(WIB).date()
    return Counted(
        Cell(kabupaten_code, day, kecamatan_code, role_group(role)),
        working_seconds,
        elapsed_seconds(assigned_at, closed_at),
    )


_rollup = StepRollup.__table__  # type: ignore[attr-defined]


def _insert(session: AsyncSession) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(_rollup)
    return sqlite.insert(_rollup)


def _cell_is(cell: Cell) -> list[sa.ColumnElement[bool]]:
    return [_rollup.c[name] == value for name, value in cell._asdict().items()]


def _take(values: list[float], value: float) -> None:
    """Removes one value: the stored one nearest to it (they are the same float, computed from
    the same stored columns; nearest guards against a last-bit difference)."""
    if not values:
        return
    i = bisect.bisect_left(values, value)
    nearest = min(
        (j for j in (i - 1, i) if 0 <= j < len(values)), key=lambda j: abs(values[j] - value)
    )
    del values[nearest]


async def move(session: AsyncSession, before: Counted | None, after: Counted | None) -> None:
    """A task's part of the rollup changed from `before` to `after` (either None): takes the old
    values out of their cell and puts the new ones in, in the caller's transaction. Cells are
    locked (PostgreSQL: FOR UPDATE) in key order, so two projections never wait on each other
    in a circle."""
    if before == after:
        return
    cells = sorted({part.cell for part in (before, after) if part is not None})
    rows: dict[Cell, tuple[int, list[float], list[float]]] = {}
    for cell in cells:
        # The cell made if new, else locked (PostgreSQL: as FOR UPDATE) by an update that
        # changes nothing, and its values returned: one statement for both.
        insert = _insert(session).values(
            **cell._asdict(), decided=0, working_seconds=[], elapsed_seconds=[]
        )
        upsert = insert.on_conflict_do_update(
            index_elements=list(Cell._fields), set_={"decided": _rollup.c.decided}
        ).returning(_rollup.c.decided, _rollup.c.working_seconds, _rollup.c.elapsed_seconds)
        row = (await session.exec(upsert)).one()
        rows[cell] = (row[0], list(row[1]), list(row[2]))
    if before is not None:
        decided, working, elapsed = rows[before.cell]
        if before.working_seconds is not None:
            _take(working, before.working_seconds)
        _take(elapsed, before.elapsed_seconds)
        rows[before.cell] = (max(decided - 1, 0), working, elapsed)
    if after is not None:
        decided, working, elapsed = rows[after.cell]
        if after.working_seconds is not None:
            bisect.insort(working, after.working_seconds)
        bisect.insort(elapsed, after.elapsed_seconds)
        rows[after.cell] = (decided + 1, working, elapsed)
    for cell, (decided, working, elapsed) in rows.items():
        if decided == 0:
            await session.exec(sa.delete(_rollup).where(*_cell_is(cell)))
        else:
            await session.exec(
                sa.update(_rollup)
                .where(*_cell_is(cell))
                .values(decided=decided, working_seconds=working, elapsed_seconds=elapsed)
            )


@dataclass
class GroupValues:
    """One role group's decided steps in a period, put together from its cells."""

    decided: int = 0
    working_seconds: list[float] = field(default_factory=list)  # in no order
    elapsed_seconds: list[float] = field(default_factory=list)  # in no order


async def values_in(
    session: AsyncSession,
    kabupaten_code: str,
    first_day: date,
    last_day: date,
    kecamatan_code: str | None = None,
) -> dict[str, GroupValues]:
    """The rollup's cells of the kabupaten (or one kecamatan of it) decided on these WIB days,
    both included (a primary-key range), put together per role group."""
    working, elapsed = _rollup.c.working_seconds, _rollup.c.elapsed_seconds
    if session.get_bind().dialect.name == "postgresql":
        # asyncpg gives float8[] as lists already: SQLAlchemy's ARRAY would copy each one again
        # (most of the Python time of a month's 2,700 cells).
        working, elapsed = sa.type_coerce(working, NullType), sa.type_coerce(elapsed, NullType)
    query = sa.select(_rollup.c.role_group, _rollup.c.decided, working, elapsed).where(
        _rollup.c.kabupaten_code == kabupaten_code,
        _rollup.c.day >= first_day,
        _rollup.c.day <= last_day,
    )
    if kecamatan_code:
        query = query.where(_rollup.c.kecamatan_code == kecamatan_code)
    groups: dict[str, GroupValues] = defaultdict(GroupValues)
    connection = await session.connection()
    for group, decided, working_seconds, elapsed_seconds in await connection.execute(query):
        values = groups[group]
        values.decided += decided
        values.working_seconds += working_seconds
        values.elapsed_seconds += elapsed_seconds
    return groups


# The whole rollup from the tasks, in PostgreSQL (the migration's backfill of millions of steps
# and the benchmark's loader); the same cells `counted` gives one task at a time.
REBUILD_POSTGRESQL = """
INSERT INTO verification_step_rollup
    (kabupaten_code, day, kecamatan_code, role_group, decided, working_seconds, elapsed_seconds)
SELECT kabupaten_code, day, kecamatan_code, role_group, count(*),
    coalesce(array_agg(working_seconds ORDER BY working_seconds)
        FILTER (WHERE working_seconds IS NOT NULL), '{}'),
    array_agg(elapsed ORDER BY elapsed)
FROM (
    SELECT kabupaten_code, kecamatan_code, working_seconds,
        (closed_at AT TIME ZONE 'Asia/Jakarta')::date AS day,
        CASE WHEN role LIKE 'kasi\\_%' THEN 'kasi' ELSE role END AS role_group,
        greatest(EXTRACT(epoch FROM closed_at - assigned_at), 0)::float8 AS elapsed
    FROM verification_task
    WHERE kind = 'decision' AND status IN ('done', 'revision_requested')
        AND closed_at IS NOT NULL
) AS decided
GROUP BY kabupaten_code, day, kecamatan_code, role_group
"""


def rebuild(conn: sa.Connection) -> None:
    """Makes the rollup again from the tasks (whatever it held goes). PostgreSQL in one
    statement; SQLite (dev, tests) through `counted`, as the projection does."""
    conn.execute(sa.delete(_rollup))
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(REBUILD_POSTGRESQL))
        return
    cells: dict[Cell, tuple[list[int], list[float], list[float]]] = defaultdict(
        lambda: ([0], [], [])
    )
    names = "kind status role kabupaten_code kecamatan_code assigned_at closed_at working_seconds"
    task = Task.__table__  # type: ignore[attr-defined]
    query = sa.select(*(task.c[name] for name in names.split())).where(
        task.c.kind == TASK_KIND_DECISION, task.c.status.in_(DECIDED)
    )
    rows: Iterable[Any] = conn.execute(query)
    for row in rows:
        part = _counted(*row)
        if part is None:
            continue
        decided, working, elapsed = cells[part.cell]
        decided[0] += 1
        if part.working_seconds is not None:
            working.append(part.working_seconds)
        elapsed.append(part.elapsed_seconds)
    values: list[dict[str, Any]] = [
        {
            **cell._asdict(),
            "decided": decided[0],
            "working_seconds": sorted(working),
            "elapsed_seconds": sorted(elapsed),
        }
        for cell, (decided, working, elapsed) in cells.items()
    ]
    if values:
        conn.execute(sa.insert(_rollup), values)
