"""Benchmark of the OpenSID penduduk import: a made-up 10,000-row spreadsheet (scripts/
opensid_sample.py) imported into an empty register, then the same file again (every row
unchanged), on a fresh SQLite database as the dev profile has it. Prints the seconds of each;
the target is under 30 s for the first. Speed is measured here, never asserted in a test.

    .venv/bin/python -m scripts.bench_import [--rows 10000] [--format xlsx|csv]
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from common.db import create_engine, session_factory
from common.migrations import upgrade
from scripts.opensid_sample import rows, to_csv, to_xlsx
from services.verification.population.importer import import_register

DESA = "32.13.11.2004"


async def bench(count: int, kind: str) -> None:
    table = list(rows(count))
    content = to_xlsx(table) if kind == "xlsx" else to_csv(table)
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(scratch) / 'verification.db'}")
        await upgrade(engine, "verification")
        sessions = session_factory(engine)
        for label in ("first_import", "reimport"):
            started = time.perf_counter()
            async with sessions() as session:
                result = await import_register(
                    session, DESA, f"penduduk.{kind}", content, actor="bench"
                )
            seconds = time.perf_counter() - started
            print(
                f"{label}_seconds={seconds:.1f} rows={count} format={kind} "
                f"created={result.created} updated={result.updated} "
                f"unchanged={result.unchanged} rejected={len(result.rejected)}"
            )
        await engine.dispose()
    print(f"load_average_1min={os.getloadavg()[0]:.1f} (the machine's other work slows it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    args = parser.parse_args()
    asyncio.run(bench(args.rows, args.format))


if __name__ == "__main__":
    main()
