"""python -m examples.kecamatan_dashboard --kecamatan 32.13.11 [--follow]"""

import argparse
import asyncio
import contextlib
from pathlib import Path

import nats

from examples.kecamatan_dashboard.dashboard import Dashboard, Store, render


async def main(args: argparse.Namespace) -> None:
    nc = await nats.connect(args.nats_url, name="kecamatan-dashboard")
    store = Store(Path(args.state))
    dashboard = Dashboard(nc.jetstream(), store, args.kecamatan, args.durable)
    try:
        await dashboard.start()
        await dashboard.catch_up()
        print(render(args.kecamatan, store.counts()), flush=True)
        if args.follow:
            await dashboard.follow(lambda table: print(table, flush=True))
    finally:
        await dashboard.stop()
        await nc.close()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Letters per desa and step in one kecamatan.")
    parser.add_argument("--kecamatan", required=True, help="Kemendagri code, e.g. 32.13.11")
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4322")
    parser.add_argument("--state", default="kecamatan-dashboard.db", help="SQLite state file")
    parser.add_argument("--durable", help="consumer name (default dashboard-kecamatan-<code>)")
    parser.add_argument("--follow", action="store_true", help="keep running, print on change")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args()))
