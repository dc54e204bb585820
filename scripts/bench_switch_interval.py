"""How long one SQLite statement through aiosqlite takes while the event loop is busy, at
several GIL switch intervals (a benchmark, not a test; CommonSettings.gil_switch_interval_ms).

Each statement runs on aiosqlite's thread: the thread needs the GIL to start it and again to
hand the result back, and the event loop's thread, busy with other requests, keeps the GIL for
up to the switch interval each time another thread waits for it. Three coroutines here keep the
loop busy (2 ms of CPU each, then a yield), as a loaded service's requests do; the statement
itself takes microseconds.

    .venv/bin/python -m scripts.bench_switch_interval [--statements 300]
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite

BUSY_COROUTINES = 3
BUSY_SLICE_S = 0.002


async def _busy(stop: asyncio.Event) -> None:
    while not stop.is_set():
        until = time.perf_counter() + BUSY_SLICE_S
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0)


async def _statement_ms(path: Path, statements: int) -> list[float]:
    async with aiosqlite.connect(path) as db:
        await db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        stop = asyncio.Event()
        busy = [asyncio.create_task(_busy(stop)) for _ in range(BUSY_COROUTINES)]
        took = []
        for _ in range(statements):
            start = time.perf_counter()
            await db.execute("SELECT count(*) FROM t")
            took.append(1000 * (time.perf_counter() - start))
        stop.set()
        await asyncio.gather(*busy)
    return sorted(took)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        for interval_ms in (5.0, 1.0, 0.5):
            sys.setswitchinterval(interval_ms / 1000)
            took = asyncio.run(_statement_ms(path, args.statements))
            p50, p95 = took[len(took) // 2], took[int(0.95 * len(took))]
            print(
                f"switch_interval {interval_ms:.1f} ms: statement p50 {p50:.1f} ms p95 {p95:.1f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
