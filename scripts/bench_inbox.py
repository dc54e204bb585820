"""Benchmark of the staff inbox at kabupaten scale: 1,000,000 applications over 250 desa of
Subang, three years of them, loaded into a PostgreSQL database of their own (the machine's
server, 127.0.0.1:5432) whose schema the verification migrations made. Then, through the
service's own code (not copies of its SQL), it times:

- inbox: a Kasi's and a Sekdes's open tasks in one desa (`plt.roles_held` + `staff_tasks.tasks_for`);
- task_detail: the verification side of the task page (`roles_held` + `staff_tasks.task_of`, the
  application's task, open or held before, and its overdue flag; intake's read over gRPC is
  intake's database and not part of it);
- kabupaten_summary: `kabupaten_view.kabupaten_summary` for the last 30 days, as the API's default.

It prints p50 and p95 of each (targets: inbox and task_detail p95 <= 20 ms, kabupaten_summary
p95 <= 200 ms), with the machine's load average, and with --explain the plan of each query the
code sent. Speed is measured here, never asserted in a test.

    .venv/bin/python -m scripts.bench_inbox [--keep] [--reuse DATABASE] [--runs 200] [--explain]

--keep leaves the loaded database (its name is printed) for --reuse while iterating; --drop
DATABASE removes it. Without --keep the database is dropped at the end.
"""

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine.url import make_url

from common.db import create_engine, session_factory
from common.migrations import upgrade
from common.wilayah import all_desa
from services.verification.calendars import step_working_seconds
from services.verification.kabupaten_view import Filters, Period, TemporalUi, kabupaten_summary
from services.verification.models import (
    TASK_CANCELLED,
    TASK_DONE,
    TASK_EXPIRED,
    TASK_KIND_DECISION,
    TASK_OPEN,
    TASK_REVISION_REQUESTED,
    Staff,
)
from services.verification.plt import roles_held
from services.verification.routes import DEFAULT_RULES
from services.verification.staff_tasks import task_of, tasks_for
from services.verification.step_rollup import REBUILD_POSTGRESQL

ADMIN_DSN = os.environ.get(
    "SMARTDESA_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
KABUPATEN = "32.13"
APPLICATIONS = 1_000_000
DESA_COUNT = 250
YEARS_DAYS = 3 * 365
LETTER_TYPES = ("SKD", "SKU", "SKTM", "SKCK", "SPN", "SKK")
ROUTE = ("kasi_pemerintahan", "sekdes", "kades")  # SKTM: kasi_kesra first
SUPERVISOR = {"kasi_pemerintahan": "sekdes", "kasi_kesra": "sekdes", "sekdes": "kades"}
HOUR = timedelta(hours=1)

APP_COLUMNS = (
    "application_id", "desa_code", "kecamatan_code", "kabupaten_code", "letter_type", "status",
    "submitted_at", "status_at", "closed_at",
)  # fmt: skip
TASK_COLUMNS = (
    "application_id", "application_number", "step_index", "role", "desa_code", "letter_type",
    "status", "assigned_at", "closed_at", "deadline", "escalated_to_role", "supervisor_role",
    "escalation_level", "reminders", "kecamatan_code", "kabupaten_code", "kind", "working_seconds",
)  # fmt: skip


def route_of(letter_type: str) -> tuple[str, ...]:
    return ("kasi_kesra", *ROUTE[1:]) if letter_type == "SKTM" else ROUTE


def generate(
    now: datetime, desa: list[str], seed: int = 18
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """One application record and its tasks at a time: older ones finished (issued mostly),
    the last days' ones in review at one of the three steps, a few stuck past their deadline
    (escalated to the supervisor, then to the kabupaten). A decided step carries its working
    seconds as the task projection keeps them, in its desa's calendar (every bench desa keeps
    the default one)."""
    rng = random.Random(seed)
    for n in range(APPLICATIONS):
        code = desa[n % len(desa)]
        kecamatan = code[:8]
        letter_type = LETTER_TYPES[n % len(LETTER_TYPES)]
        route = route_of(letter_type)
        age_days = rng.random() * YEARS_DAYS
        submitted = now - timedelta(days=age_days)
        app_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        number = f"{letter_type}-{submitted.year}-{n:07d}"
        roll = rng.random()
        if age_days < 3:
            outcome = "open" if roll < 0.8 else "issued"
        elif age_days < 14:
            outcome = "open" if roll < 0.07 else "revision" if roll < 0.10 else "issued"
        else:
            outcome = (
                "issued"
                if roll < 0.88
                else "rejected"
                if roll < 0.93
                else "cancelled"
                if roll < 0.97
                else "expired"
            )
        # How far it got: all three steps, or stopped at one of them.
        last = 2 if outcome == "issued" else rng.randrange(3)
        tasks = []
        at = submitted
        for step in range(last + 1):
            role = route[step]
            assigned = at
            deadline = assigned + 24 * HOUR
            took = timedelta(hours=rng.uniform(0.5, 30))
            closed: datetime | None = assigned + took
            status, level, escalated, supervisor = TASK_DONE, 0, "", ""
            if step == last and outcome != "issued":
                if outcome == "open":
                    status, closed = TASK_OPEN, None
                    # An open step waited some time; a stuck one for days.
                    if age_days >= 3:
                        assigned = now - timedelta(days=rng.uniform(2, age_days))
                    elif assigned > now:
                        assigned = now
                    deadline = assigned + 24 * HOUR
                    late = now - deadline
                    if late > 24 * HOUR:
                        level = 2 if late > 72 * HOUR or role == "kades" else 1
                        supervisor = SUPERVISOR.get(role, "")
                        escalated = "kabupaten_operator" if level == 2 else supervisor
                elif outcome == "revision":
                    status = TASK_REVISION_REQUESTED
                elif outcome == "cancelled":
                    status = TASK_CANCELLED
                elif outcome == "expired":
                    status = TASK_EXPIRED
            decided = status in (TASK_DONE, TASK_REVISION_REQUESTED) and closed is not None
            working = (
                step_working_seconds(DEFAULT_RULES, assigned, closed)
                if decided and closed is not None
                else None
            )
            tasks.append(
                (
                    app_id,
                    number,
                    step,
                    role,
                    code,
                    letter_type,
                    status,
                    assigned,
                    closed,
                    deadline,
                    escalated,
                    supervisor,
                    level,
                    0,
                    kecamatan,
                    KABUPATEN,
                    TASK_KIND_DECISION,
                    working,
                )  # fmt: skip
            )
            at = closed or now
        status_at = min(at, now)
        app_status = {
            "open": "in_review",
            "revision": "revision_requested",
        }.get(outcome, outcome)
        final = outcome in ("issued", "rejected", "cancelled", "expired")
        record = (
            app_id, code, kecamatan, KABUPATEN, letter_type, app_status, submitted, status_at,
            status_at if final else None,
        )  # fmt: skip
        yield record, tasks


async def load(database_url: str, dsn: str, now: datetime, desa: list[str]) -> None:
    engine = create_engine(database_url)
    started = time.perf_counter()
    await upgrade(engine, "verification")
    await engine.dispose()
    print(f"migrated_seconds={time.perf_counter() - started:.1f}")
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        apps: list[tuple[Any, ...]] = []
        tasks: list[tuple[Any, ...]] = []
        total_tasks = 0
        batch = 50_000

        async def flush() -> None:
            await conn.copy_records_to_table(
                "verification_application", records=apps, columns=APP_COLUMNS
            )
            await conn.copy_records_to_table(
                "verification_task", records=tasks, columns=TASK_COLUMNS
            )
            apps.clear()
            tasks.clear()

        for record, its_tasks in generate(now, desa):
            apps.append(record)
            tasks.extend(its_tasks)
            total_tasks += len(its_tasks)
            if len(apps) >= batch:
                await flush()
        await flush()
        # The desa's staff, for the inbox's Plt lookup (none hold a Plt role).
        await copy_staff(conn, now, desa)
        # The kabupaten view's rollup of the decided steps, as migration 0020 makes it from the
        # tasks (the projection keeps it one step at a time).
        rollup_started = time.perf_counter()
        await conn.execute(REBUILD_POSTGRESQL)
        print(f"rolled_up_seconds={time.perf_counter() - rollup_started:.1f}")
        # As autovacuum leaves a table in use: statistics, and the visibility map that lets
        # PostgreSQL answer from an index alone.
        await conn.execute("VACUUM ANALYZE")
        print(
            f"loaded applications={APPLICATIONS} tasks={total_tasks} desa={len(desa)} "
            f"seconds={time.perf_counter() - started:.1f}"
        )
    finally:
        await conn.close()


async def copy_staff(conn: asyncpg.Connection, now: datetime, desa: list[str]) -> None:
    await conn.copy_records_to_table(
        "staff",
        records=[
            (f"{role}.{code}", "$argon2id$bench", role, code, "", "", True, now, 1, "")
            for code in desa
            for role in ("kasi_pemerintahan", "kasi_kesra", "sekdes", "kades")
        ],
        columns=(
            "username",
            "password_hash",
            "role",
            "desa_code",
            "kabupaten_code",
            "kecamatan_code",
            "active",
            "created_at",
            "session_version",
            "full_name",
        ),  # fmt: skip
    )


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def timed(runs: int, once: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    for i in range(min(5, runs)):  # warm the pool and the server's caches
        await once(i)
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        await once(i)
        samples.append((time.perf_counter() - started) * 1000)
    return quantiles(samples)


async def measure(
    database_url: str,
    dsn: str,
    runs: int,
    summary_runs: int,
    explain: bool,
    desa: list[str],
    only: str | None = None,
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    conn = await asyncpg.connect(dsn)
    try:
        # The desa in the middle by open tasks: a Kasi and a Sekdes there.
        where = desa[len(desa) // 2]
        staff = {
            role: Staff(
                id=1, username=f"{role}.{where}", password_hash="", role=role, desa_code=where
            )
            for role in ("kasi_pemerintahan", "sekdes")
        }
        held = [
            r["application_id"]
            for r in await conn.fetch(
                "SELECT application_id FROM verification_task WHERE desa_code = $1 "
                "AND role = 'kasi_pemerintahan' ORDER BY random() LIMIT 500",
                where,
            )
        ]
        inbox_sizes: dict[str, int] = {}

        async def inbox(i: int) -> object:
            who = staff["kasi_pemerintahan" if i % 2 == 0 else "sekdes"]
            async with sessions() as session:
                tasks = await tasks_for(session, who, await roles_held(session, who))
            inbox_sizes[who.role] = len(tasks)
            return tasks

        async def detail(i: int) -> object:
            who = staff["kasi_pemerintahan"]
            async with sessions() as session:
                return await task_of(session, who, await roles_held(session, who), held[i % 500])

        today = datetime.now(UTC).date()
        filters = Filters(Period.last_days(today))
        ui = TemporalUi("http://temporal-ui", "default")
        shown: dict[str, int] = {}

        async def summary(_: int) -> object:
            async with sessions() as session:
                result = await kabupaten_summary(session, KABUPATEN, filters, ui)
            shown.update(masuk=result.total.masuk, overdue=len(result.overdue))
            return result

        cases: list[tuple[str, Callable[[int], Awaitable[object]], float]] = [
            ("inbox", inbox, 20.0),
            ("task_detail", detail, 20.0),
            ("kabupaten_summary", summary, 200.0),
        ]
        cases = [case for case in cases if only in (None, case[0])]
        load_before = os.getloadavg()
        for name, once, target in cases:
            count = runs if name != "kabupaten_summary" else summary_runs
            p50, p95 = await timed(count, once)
            verdict = "ok" if p95 <= target else "OVER"
            print(
                f"{name}_p50_ms={p50:.1f} {name}_p95_ms={p95:.1f} runs={count} target_p95_ms={target:.0f} {verdict}"
            )
        print(
            f"inbox_tasks={inbox_sizes} summary_masuk={shown.get('masuk')} "
            f"summary_overdue={shown.get('overdue')} desa={where}"
        )
        load_after = os.getloadavg()
        print(
            f"load_average_1min before={load_before[0]:.1f} after={load_after[0]:.1f} "
            f"cores={os.cpu_count()} (other work on the machine slows every figure)"
        )
        if explain:
            for name, once, _ in cases:
                await show_plans(engine, conn, name, once)
    finally:
        await conn.close()
        await engine.dispose()


async def show_plans(
    engine: Any, conn: asyncpg.Connection, name: str, once: Callable[[int], Awaitable[object]]
) -> None:
    """EXPLAIN ANALYZE of every statement one run of `name` sends, as the code sent it."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await once(0)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    print(f"\n### {name}")
    for statement, parameters in sent:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", *parameters)
        print("\n" + " ".join(statement.split()))
        print("\n".join(r[0] for r in rows))


async def main_async(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        if args.drop:
            await admin.execute(f'DROP DATABASE IF EXISTS "{args.drop}" WITH (FORCE)')
            print(f"dropped {args.drop}")
            return
        database = args.reuse or f"smartdesa_bench_inbox_{uuid.uuid4().hex[:8]}"
        if not args.reuse:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    dsn = make_url(ADMIN_DSN).set(database=database).render_as_string(hide_password=False)
    url = make_url(dsn).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    desa = sorted(d.code for d in all_desa().values() if d.kabupaten_code == KABUPATEN)[:DESA_COUNT]
    try:
        if args.reuse:
            engine = create_engine(url)
            await upgrade(engine, "verification")  # a new index migration, while iterating
            await engine.dispose()
        else:
            await load(url, dsn, datetime.now(UTC), desa)
        await measure(url, dsn, args.runs, args.summary_runs, args.explain, desa, args.only)
    finally:
        if args.keep or args.reuse:
            print(f"kept database {database}: --reuse {database}, then --drop {database}")
        else:
            admin = await asyncpg.connect(ADMIN_DSN)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await admin.close()
            print(f"dropped {database}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--summary-runs", type=int, default=50)
    parser.add_argument("--only", choices=("inbox", "task_detail", "kabupaten_summary"))
    parser.add_argument("--keep", action="store_true", help="leave the loaded database")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure a database --keep left")
    parser.add_argument("--drop", metavar="DATABASE", help="drop a database --keep left")
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
