"""`make dead-letters`: what the consumers gave up on (the SMARTDESA_DLQ stream), newest last.
SMARTDESA_NATS_URL picks the server (default: the dev stack's); `--body` prints public bodies."""

import argparse
import asyncio

from common.config import CommonSettings
from common.dead_letters import read_dead_letters
from common.events import PUBLIC_STREAM
from common.messaging import connect, ensure_streams


async def main(limit: int, body: bool) -> None:
    nc = await connect(CommonSettings().nats_url, "dead-letters")
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        letters = await read_dead_letters(js, limit)
    finally:
        await nc.close()
    if not letters:
        print("Tidak ada dead letter.")
    for d in letters:
        print(
            f"#{d.dlq_sequence} {d.at} {d.reason} after {d.deliveries} deliveries by {d.consumer}: "
            f"{d.stream} seq {d.stream_seq} {d.subject or '-'} {d.ce_type or '(not a CloudEvent)'} "
            f"{d.ce_id or ''} [{d.original}]"
        )
        if body and d.stream == PUBLIC_STREAM and d.body:
            print(f"    {d.body.decode(errors='replace')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--body", action="store_true", help="print public events' bodies")
    args = parser.parse_args()
    asyncio.run(main(args.limit, args.body))
