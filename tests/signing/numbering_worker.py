"""Run as a separate OS process by test_numbering. It says "ready" and waits for a line on
stdin first, so that the test can start all workers at the same moment.

`numbers <db url> <desa code> <count>`: take `count` numbers from the counter, one transaction
each, and print the sequences as JSON.

`letters <settings json> <worker name> <count> <in flight>`: open the signing service's runtime
with the given settings (a shared database and data folder), issue `count` letters, `in flight`
at a time (mixed desa and letter types, plus the applications named "shared-*" that every worker
issues too), and print [application_id, letter_id, number, kode, sequence] per letter as JSON."""

import asyncio
import json
import sys
from datetime import UTC, datetime

from common.db import create_engine, session_factory
from services.signing.config import Settings
from services.signing.issuing import IssueRequest
from services.signing.models import Letter
from services.signing.numbering import allocate_number
from services.signing.runtime import open_runtime
from tests.signing.conftest import PAMANUKAN, RANCASARI, skd_request

SHARED_APPLICATIONS = 10


def _wait_for_go() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()


async def numbers(url: str, desa_code: str, count: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:  # open the database before the start signal
        await session.connection()
    _wait_for_go()
    taken = []
    for _ in range(count):
        async with sessions() as session:
            number = await allocate_number(session, desa_code, "470", datetime.now(UTC))
            await session.commit()
        taken.append(number.sequence)
    await engine.dispose()
    sys.stdout.write(json.dumps(taken) + "\n")


async def letters(settings_json: str, worker: str, count: int, in_flight: int) -> None:
    settings = Settings.model_validate_json(settings_json)
    async with open_runtime(settings) as runtime:
        issuer = runtime.issuer
        requests = [
            skd_request(
                f"{worker}-{i}",
                PAMANUKAN if i % 4 else RANCASARI,
                letter_type="SKU" if i % 3 == 0 else "SKD",
            )
            for i in range(count)
        ]
        requests += [skd_request(f"shared-{i}") for i in range(SHARED_APPLICATIONS)]
        slots = asyncio.Semaphore(in_flight)

        async def issue(request: IssueRequest) -> Letter:
            async with slots:
                return await issuer.issue(request)

        _wait_for_go()
        issued = await asyncio.gather(*(issue(r) for r in requests))
    rows = [
        [r.application_id, x.id, x.number, x.kode_klasifikasi, x.sequence]
        for r, x in zip(requests, issued, strict=True)
    ]
    sys.stdout.write(json.dumps(rows) + "\n")


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "numbers":
        asyncio.run(numbers(args[0], args[1], int(args[2])))
    else:
        asyncio.run(letters(args[0], args[1], int(args[2]), int(args[3])))
