"""Run as a separate OS process by test_numbering: take `count` numbers from the counter in the
given SQLite database, one transaction each, and print the sequences as JSON. It says "ready"
and waits for a line on stdin first, so that the test can start all workers at the same moment."""

import asyncio
import json
import sys
from datetime import UTC, datetime

from common.db import create_engine, session_factory
from services.signing.numbering import allocate_number


async def main(url: str, desa_code: str, count: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:  # open the database before the start signal
        await session.connection()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    taken = []
    for _ in range(count):
        async with sessions() as session:
            number = await allocate_number(session, desa_code, "470", datetime.now(UTC))
            await session.commit()
        taken.append(number.sequence)
    await engine.dispose()
    sys.stdout.write(json.dumps(taken) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
