"""Benchmark of the cost per letter (issue 18, not a test): full letter journeys through the
public HTTP APIs beside a bare Temporal chain of the same shape, in one run, on one Temporal
server.

It starts the dev stack of scripts/devstack.py on free ports with a temporary data folder (as
`make bench-memory` does), then:

1. **bare chains:** a worker process of scripts/bare_chain.py on the stack's Temporal server,
   and `--chains` chains of the letter's shape (9 activities, 3 Updates, 3 timers) with
   `--in-flight` at a time;
2. **journeys:** `--journeys` Surat Keterangan Domisili journeys with `--in-flight` at a time,
   each as the phone and the staff client make it: OTP sign-in (the code read from the dev
   sink), application, KTP and KK uploads, submit, then Kasi Pemerintahan, Sekdes and Kades
   approve through the staff API, until the letter is issued.

Each phase starts with a warm-up of `--in-flight` runs that is not counted.

The decision-to-next-inbox latency is taken the way the staff client sees it: each of the three
staff members keeps the inbox page's event stream (`/kotak-masuk/kejadian`) open and fetches
`GET /api/v1/tasks` on each notice, as the page does; the latency runs from the decision's
response to the first fetch that lists the next step's task.

CPU seconds per journey per process come from /proc/<pid>/stat (utime + stime of the process
and of every process it started, live or reaped) before and after the counted journeys. On a
busy machine throughput and latency say little; CPU per journey still says where the work goes.

`--profile DIR` records every service and the worker with py-spy during the counted journeys
(`--profile-format raw` gives collapsed stacks for grep; speedscope or flamegraph otherwise).

`--postgres` runs every service on its own fresh PostgreSQL database on 127.0.0.1:5432 (the
production profile; SMARTDESA_TEST_POSTGRES_DSN names another server), dropped at the end.

    .venv/bin/python -m scripts.bench_journeys [--journeys 60] [--chains 200] [--in-flight 10]
        [--postgres]
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import httpx
from temporalio.client import Client

from scripts import bare_chain
from scripts.bench_memory import CLK_TCK, _descendants
from scripts.devstack import HOST, PORT_VARIABLES, DevStack, Ports
from scripts.journey import CLIENT_LIMITS, Endpoints, Journey, sample_pdf, sample_png

if TYPE_CHECKING:
    from tests.support.postgres import PostgresDatabases

# Kasi Pemerintahan, Sekdes, Kades: the three steps of an SKD in Pamanukan (the dev seed).
SERVICES = ("intake", "verification", "signing", "notification")  # Endpoints' order
STAFF = ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")
PASSWORD = "kata-sandi-bench"
WAIT = 180.0  # most a journey waits for one thing before the run fails
OTP_POLL_SECONDS = 0.5

# `--trace FILE`: one JSON line per decision, notice and fetch, with wall-clock times (to lay
# beside the services' spans: SMARTDESA_OTLP_ENDPOINT).
_trace_file: TextIO | None = None
_trace_lock = threading.Lock()


def _trace(**fields: object) -> None:
    if _trace_file is not None:
        with _trace_lock:
            _trace_file.write(json.dumps(fields) + "\n")


FIELDS = {"nama": "Siti Aminah", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "P"}


# -- CPU ------------------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    """utime + stime + cutime + cstime: the process and its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(f) for f in fields[11:15])


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process with every process it started."""
    return {
        name: sum(_ticks(p) for p in [pid, *_descendants(pid)]) / CLK_TCK
        for name, pid in roots.items()
    }


# -- the inbox, as the staff client sees it ------------------------------------------------


@dataclass
class InboxWatch:
    """One staff member's open inbox page: the event stream, and a fetch of the list on each
    notice. Records when each (application, step) task was first listed."""

    base: str
    token: str
    seen: dict[tuple[str, int], float] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    fetches: int = 0
    _stale: threading.Event = field(default_factory=threading.Event)
    _stop: bool = False

    def start(self) -> None:
        connected = threading.Event()
        threading.Thread(target=self._listen, args=(connected,), daemon=True).start()
        threading.Thread(target=self._refresh, daemon=True).start()
        if not connected.wait(30):
            raise RuntimeError("the inbox event stream did not open")

    def _listen(self, connected: threading.Event) -> None:
        """Reads the event stream; a notice marks the list stale."""
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = httpx.Timeout(30, read=None)
        with httpx.Client(base_url=self.base, headers=headers, timeout=timeout) as client:
            while not self._stop:
                try:
                    with client.stream("GET", "/kotak-masuk/kejadian") as stream:
                        if stream.status_code != 200:
                            raise RuntimeError(f"inbox events answered {stream.status_code}")
                        for line in stream.iter_lines():
                            connected.set()
                            if line == "event: tugas":
                                self._stale.set()
                                _trace(kind="notice", page=self.token[-6:], at=time.time())
                            if self._stop:
                                return
                except httpx.TransportError:
                    time.sleep(0.5)

    def _refresh(self) -> None:
        """Fetches the list when it is stale: notices that come during a fetch make one more
        fetch, as the page's burst rule does (the page also waits 300 ms first; this does not,
        so the figures are the system's, not the page's)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(
            base_url=self.base, headers=headers, timeout=WAIT, limits=CLIENT_LIMITS
        ) as client:
            while not self._stop:
                if self._stale.wait(1.0):
                    self._stale.clear()
                    self.fetch(client)

    def fetch(self, client: httpx.Client) -> None:
        started = time.time()
        r = client.get("/api/v1/tasks")
        r.raise_for_status()
        now = time.monotonic()
        self.fetches += 1
        new = []
        with self.changed:
            for task in r.json():
                key = (task["application_id"], task["step"]["index"])
                if key not in self.seen:
                    new.append(key)
                self.seen.setdefault(key, now)
            self.changed.notify_all()
        _trace(kind="fetch", page=self.token[-6:], start=started, end=time.time(), new=new)

    def wait(self, application_id: str, step: int) -> float:
        """When the task was first listed; a fetch of our own only if no notice came for long
        (a lost notice must not hang the run, and must show in the figures)."""
        key = (application_id, step)
        deadline = time.monotonic() + WAIT
        with self.changed:
            while key not in self.seen:
                if not self.changed.wait(timeout=5.0):
                    headers = {"Authorization": f"Bearer {self.token}"}
                    with httpx.Client(base_url=self.base, headers=headers, timeout=WAIT) as client:
                        self.fetch(client)  # the condition's lock is re-entrant
                if time.monotonic() > deadline:
                    raise TimeoutError(f"step {step} of {application_id} never reached the inbox")
            return self.seen[key]

    def stop(self) -> None:
        self._stop = True


# -- one journey ----------------------------------------------------------------------------


@dataclass
class Timings:
    submit_to_inbox: list[float] = field(default_factory=list)
    decision_to_inbox: list[float] = field(default_factory=list)
    answer_to_inbox: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


# One offset per run: residents of one run never share a NIK (a second phone for a NIK is
# refused a code) and a kept data folder's next run starts elsewhere.
_RUN_SALT = uuid.uuid4().int


def _resident(n: int) -> tuple[str, str]:
    """A valid NIK of Kecamatan Pamanukan (a woman born 15-08-1990) and a phone, unique per run."""
    k = (_RUN_SALT + n) % 9998
    return f"321311550890{k + 1:04d}", f"0813{(_RUN_SALT // 10**4 + n) % 10**8:08d}"


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Requests:
    """The requests the phones and the staff's decisions make, by service and route (ids
    folded): what the bench itself asks of the services, beside what a letter needs (the three
    inbox pages count apart)."""

    ports: dict[int, str]
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, request: httpx.Request) -> None:
        service = self.ports.get(request.url.port or 0, "?")
        key = f"{service:<12} {request.method} {_UUID.sub('{id}', request.url.path)}"
        with self.lock:
            self.counts[key] += 1


_requests: Requests | None = None  # set for the counted journeys


def one_journey(
    ep: Endpoints, staff: list[tuple[str, InboxWatch]], timings: Timings, n: int
) -> None:
    journey = Journey(ep, timeout=WAIT)
    if _requests is not None:
        journey.http.event_hooks["request"].append(_requests.hook)
    try:
        nik, phone = _resident(n)
        # A real phone is sent its code; reading the dev sink is the bench's own cost, charged
        # to notification: the phone is new to the run, and looks every half second.
        token = journey.resident_sign_in(nik, phone, new_phone=True, every=OTP_POLL_SECONDS)
        app_id = journey.create_application(token, f"Bench {n}", FIELDS)
        for kind, name, content in (
            ("KTP", "ktp.png", sample_png()),
            ("KK", "kk.pdf", sample_pdf()),
        ):
            r = journey.upload(token, app_id, kind, name, content)
            assert r.status_code == 201, r.text
        # From the click (the request sent) to the first fetch that lists the next task: what
        # the next assignee waits. From the answer is printed beside it (earlier stops' figure).
        asked = time.monotonic()
        r = journey.submit(token, app_id)
        assert r.status_code == 202, r.text
        told = time.monotonic()
        for step, (staff_token, watch) in enumerate(staff):
            seen = watch.wait(app_id, step)
            with timings.lock:
                if step:
                    timings.decision_to_inbox.append(max(0.0, seen - asked))
                    timings.answer_to_inbox.append(max(0.0, seen - told))
                else:
                    timings.submit_to_inbox.append(max(0.0, seen - asked))
            trace_id = uuid.uuid4().hex
            sent = time.time()
            asked = time.monotonic()
            r = journey.decide(
                staff_token,
                app_id,
                "approve",
                step=step,
                traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01" if _trace_file else None,
            )
            assert r.status_code == 200, r.text
            told = time.monotonic()
            _trace(
                kind="decide",
                app=app_id,
                step=step,
                sent=sent,
                answered=time.time(),
                trace=trace_id,
            )
        deadline = time.monotonic() + WAIT
        while True:
            body = journey.application(token, app_id).json()
            if body["status"] == "issued":
                break
            assert time.monotonic() < deadline, f"{app_id} not issued: {body['status']}"
            time.sleep(1.0)  # the phone is told by WhatsApp; this look is the bench's own
    finally:
        journey.close()


def run_parallel(count: int, in_flight: int, one: Callable[[int], None], first: int = 0) -> float:
    """Runs `one(n)` for `count` values with `in_flight` at a time; the wall seconds taken."""
    start = time.monotonic()
    with ThreadPoolExecutor(in_flight) as pool:
        for future in [pool.submit(one, first + n) for n in range(count)]:
            future.result()
    return time.monotonic() - start


# -- bare chains -----------------------------------------------------------------------------


async def _chains(address: str, task_queue: str, count: int, in_flight: int, first: int) -> float:
    client = await Client.connect(address)
    gate = asyncio.Semaphore(in_flight)
    prefix = uuid.uuid4().hex[:8]

    async def chain(n: int) -> None:
        async with gate:
            handle = await client.start_workflow(
                bare_chain.WORKFLOW, f"a{n}", id=f"bench-bare-{prefix}-{n}", task_queue=task_queue
            )
            for step in range(bare_chain.STEPS):
                await handle.execute_update("decide", step)
            await handle.result()

    start = time.monotonic()
    await asyncio.gather(*(chain(first + n) for n in range(count)))
    return time.monotonic() - start


def run_chains(address: str, task_queue: str, count: int, in_flight: int, first: int) -> float:
    return asyncio.run(_chains(address, task_queue, count, in_flight, first))


# -- the run ---------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _start_profiles(roots: dict[str, int], folder: Path, fmt: str) -> list[subprocess.Popen[bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"raw": "txt", "speedscope": "json", "flamegraph": "svg"}[fmt]
    spy = str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", "100",
             "--format", fmt, "-o", str(folder / f"{name}.{suffix}")],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / f"{name}.py-spy.log", "wb"),  # noqa: SIM115 - the child's
        )
        for name, pid in roots.items()
        if name not in ("nats", "temporal")
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=60, help="counted journeys")
    parser.add_argument("--chains", type=int, default=200, help="counted bare chains")
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--profile", type=Path, help="record each service with py-spy into DIR")
    parser.add_argument(
        "--profile-format", default="raw", choices=("raw", "speedscope", "flamegraph")
    )
    parser.add_argument("--skip-chains", action="store_true", help="journeys only")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument(
        "--trace", type=Path, help="write each decision, notice and fetch to FILE (JSON lines)"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="every service on its own fresh PostgreSQL database (the production profile), "
        "dropped afterwards; the dev profile's SQLite otherwise",
    )
    args = parser.parse_args()
    global _trace_file
    if args.trace:
        _trace_file = args.trace.open("w", buffering=1)
        # Every process of the stack writes its spans there (common/tracing.py).
        spans_dir = args.trace.with_suffix(".spans")
        shutil.rmtree(spans_dir, ignore_errors=True)
        spans_dir.mkdir(parents=True)
        os.environ["SMARTDESA_SPANS_DIR"] = str(spans_dir.resolve())

    # Every resident of the run signs in from this one address: the sign-in limits (tested in
    # tests/intake) would otherwise refuse them. Staff use their own password.
    os.environ["SMARTDESA_DEMO_PASSWORD"] = PASSWORD
    # A decision waits for the workflow at most this long before it answers 503 (15 s in
    # production): on a machine shared with other work the warm-up alone can exceed that.
    os.environ.setdefault("SMARTDESA_DECISION_TIMEOUT_SECONDS", "120")
    for key in ("PER_PHONE", "PER_NIK", "PER_CLIENT"):
        os.environ[f"SMARTDESA_INTAKE_CODE_LIMITS_{key}"] = '[{"count": 100000, "seconds": 900}]'
    databases = _postgres_databases() if args.postgres else None
    data_dir = Path(tempfile.mkdtemp(prefix="smartdesa-bench-journeys-"))
    ports = Ports(**{f: _free() for f in PORT_VARIABLES})
    stack = DevStack(data_dir, ports)
    ep = Endpoints(*(f"http://{HOST}:{port}" for port in (
        ports.intake_http, ports.verification_http, ports.signing_http, ports.notification_http)))  # fmt: skip
    bare: subprocess.Popen[bytes] | None = None
    failed = True
    try:
        stack.start_all()
        roots = {c.name: c.process.pid for c in stack.children if c.process is not None}
        address = f"{HOST}:{ports.temporal}"
        chains_s = chain_cpu = None
        if not args.skip_chains:
            task_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
            bare = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scripts.bare_chain",
                    "--address",
                    address,
                    "--task-queue",
                    task_queue,
                ],
                stdout=subprocess.PIPE,
            )
            assert bare.stdout is not None
            bare.stdout.readline()  # polling
            run_chains(address, task_queue, args.in_flight, args.in_flight, 0)  # warm-up
            chain_roots = {"temporal": roots["temporal"], "bare-worker": bare.pid}
            before, client_before = cpu_seconds(chain_roots), _own_cpu()
            chains_s = run_chains(address, task_queue, args.chains, args.in_flight, args.in_flight)
            after = cpu_seconds(chain_roots)
            chain_cpu = {k: (after[k] - before[k]) / args.chains for k in before}
            chain_cpu["client"] = (_own_cpu() - client_before) / args.chains
            bare.send_signal(signal.SIGINT)
            bare.wait(30)

        signer = Journey(ep)
        staff = [
            (token := signer.staff_token(user, PASSWORD), InboxWatch(ep.verification, token))
            for user in STAFF
        ]
        signer.close()
        for _token, watch in staff:
            watch.start()
        timings = Timings()
        run_parallel(args.in_flight, args.in_flight, lambda n: one_journey(ep, staff, timings, n))
        timings = Timings()
        global _requests
        urls = (ep.intake, ep.verification, ep.signing, ep.notification)
        _requests = Requests(
            {int(url.rsplit(":", 1)[1]): name for name, url in zip(SERVICES, urls, strict=True)}
        )
        fetches_before = sum(w.fetches for _t, w in staff)
        profiles = _start_profiles(roots, args.profile, args.profile_format) if args.profile else []
        if profiles:
            time.sleep(2)  # py-spy attached
        # What the stack burns with nothing to do (polling loops, heartbeats): on a slow
        # machine journeys take longer, and this share of the figures grows with them.
        idle_before = cpu_seconds(roots)
        time.sleep(args.idle_seconds)
        idle_after = cpu_seconds(roots)
        idle_rate = {k: (idle_after[k] - idle_before[k]) / args.idle_seconds for k in roots}
        client_before = _own_cpu()
        before = cpu_seconds(roots)
        pg_before = _backend_ticks(databases) if databases is not None else {}
        journeys_s = run_parallel(
            args.journeys,
            args.in_flight,
            lambda n: one_journey(ep, staff, timings, n),
            args.in_flight,
        )
        after = cpu_seconds(roots)
        pg_after = _backend_ticks(databases) if databases is not None else {}
        client_s = (_own_cpu() - client_before) / args.journeys
        fetches = sum(w.fetches for _t, w in staff) - fetches_before
        for spy in profiles:
            spy.send_signal(signal.SIGINT)
        for spy in profiles:
            spy.wait(60)
        for _token, watch in staff:
            watch.stop()
        failed = False
    finally:
        if bare is not None and bare.poll() is None:
            bare.kill()
        stack.stop()
        if databases is not None:
            asyncio.run(databases.drop_all())
        if failed:
            print(f"failed; logs kept in {stack.logs_dir}", file=sys.stderr)
        elif not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    per_journey = {k: (after[k] - before[k]) / args.journeys for k in before}
    load = os.getloadavg()
    print(f"database {'PostgreSQL' if args.postgres else 'SQLite'}")
    print(
        f"in flight {args.in_flight}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores"
    )
    jps = args.journeys / journeys_s
    print(f"journeys_per_s {jps:.2f}   ({args.journeys} in {journeys_s:.1f} s)")
    if chains_s is not None:
        cps = args.chains / chains_s
        print(f"bare_chains_per_s {cps:.2f}   ({args.chains} in {chains_s:.1f} s)")
        print(f"ratio {jps / cps:.3f}")
    d = timings.decision_to_inbox
    print(f"decision_to_inbox_p50_ms {1000 * _percentile(d, 0.5):.0f}")
    print(f"decision_to_inbox_p95_ms {1000 * _percentile(d, 0.95):.0f}   ({len(d)} decisions)")
    a = timings.answer_to_inbox
    print(
        f"answer_to_inbox_p50_ms {1000 * _percentile(a, 0.5):.0f}   p95 {1000 * _percentile(a, 0.95):.0f}"
    )
    s = timings.submit_to_inbox
    print(
        f"submit_to_inbox_p50_ms {1000 * _percentile(s, 0.5):.0f}   p95 {1000 * _percentile(s, 0.95):.0f}"
    )
    print(f"inbox fetches per journey (3 open inbox pages) {fetches / args.journeys:.1f}")
    assert _requests is not None
    print("other requests per journey (the phone's, the decisions):")
    for key, count in sorted(_requests.counts.items(), key=lambda kv: -kv[1]):
        print(f"  {count / args.journeys:5.1f}  {key}")
    idle = {k: idle_rate[k] * journeys_s / args.journeys for k in per_journey}
    print("cpu_s_per_journey, by process (with its children); net = less the idle rate:")
    print(f"  {'process':<14} {'cpu_s':>7} {'net_s':>7} {'idle_cpu_per_s':>15}")
    for name, seconds in sorted(per_journey.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<14} {seconds:>7.3f} {seconds - idle[name]:>7.3f} {idle_rate[name]:>15.3f}")
    total, total_idle = sum(per_journey.values()), sum(idle.values())
    print(
        f"  {'total':<14} {total:>7.3f} {total - total_idle:>7.3f} {sum(idle_rate.values()):>15.3f}"
    )
    print(f"  (the bench's own client, on the same cores: {client_s:.3f} s per journey)")
    if databases is not None:
        pg_s = sum(t - pg_before.get(pid, 0) for pid, t in pg_after.items()) / CLK_TCK
        print(
            f"  (PostgreSQL's backends of the four databases: {pg_s / args.journeys:.3f} s per "
            "journey, not in the total; backends that ended during the run are not counted)"
        )
    if chain_cpu is not None:
        print("cpu_s_per_bare_chain: " + ", ".join(f"{k} {v:.3f}" for k, v in chain_cpu.items()))
        # On a machine whose cores are the limit, throughput goes as 1 / CPU per unit: this
        # ratio does not depend on what else runs there (the throughput ratio does).
        cpu_ratio = sum(chain_cpu.values()) / (total + client_s)
        print(
            f"cpu_ratio {cpu_ratio:.3f}   (CPU per bare chain / CPU per journey, clients included)"
        )
    if args.profile:
        print(f"profiles in {args.profile}")
    return 0


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _postgres_databases() -> "PostgresDatabases":
    """One fresh database per service on the machine's server (as tests/e2e/
    test_journey_postgres.py runs the stack), named in the environment the stack inherits;
    each service's migrations make its schema at start."""
    from common.migrations import SERVICES
    from tests.support.postgres import PostgresDatabases

    databases = PostgresDatabases()

    async def create() -> None:
        for service in SERVICES:
            url = await databases.create(f"bench_{service}")
            os.environ[f"SMARTDESA_{service.upper()}_DATABASE_URL"] = url

    asyncio.run(create())
    return databases


def _backend_ticks(databases: "PostgresDatabases") -> dict[int, int]:
    """CPU ticks so far of each PostgreSQL backend serving the run's databases (the server runs
    on this machine; its backends are not the stack's children)."""
    import asyncpg

    async def pids() -> list[int]:
        conn = await asyncpg.connect(databases.admin_dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])",
                databases.created,
            )
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    return {pid: _ticks(pid) for pid in asyncio.run(pids())}


def _free() -> int:
    from tests.support.processes import free_port

    return free_port()


if __name__ == "__main__":
    sys.exit(main())
