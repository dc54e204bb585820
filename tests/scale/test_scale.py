"""The scale profile (`make test-scale`, docs/testing.md "The scale profile"): two replicas of
every service and two approval workers on PostgreSQL, a three-node NATS JetStream cluster with
every stream replicated three times, and the Temporal dev server. Letters are driven through
the public APIs, a few in flight at once, while one replica of each service is killed
(SIGKILL), then one NATS node, then a worker; then each is started again. Afterwards nothing
may be lost or doubled: applications, tasks, letters, numbers, events, outbox rows, messages.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from sqlalchemy.engine.url import make_url

from common.events import PUBLIC_ROOT, PUBLIC_STREAM, CloudEvent, event_name
from common.migrations import SERVICES
from scripts.journey import Endpoints, FailoverTransport, Journey, sample_pdf, sample_png
from tests.e2e.test_journey import NIK_A, PASSWORD, PHONE_A
from tests.scale.stack import ScaleStack
from tests.support.postgres import PostgresDatabases, run_in_thread
from tests.support.web import sign_in_form

pytestmark = [pytest.mark.scale, pytest.mark.e2e]

IN_FLIGHT = 3  # journeys at once: the machine has 2 cores
OUTBOX_SERVICES = ("intake", "signing")
PER_PHASE = 6  # journeys that must finish within each phase of faults
STEPS = (("pemerintahan", 0), ("sekdes", 1), ("kades", 2))
WAIT = 180.0  # a step across a fault (NATS leader election, a workflow task timing out)


@pytest.fixture(scope="module")
def database_urls(postgres: PostgresDatabases) -> dict[str, str]:
    return {service: run_in_thread(postgres.create(f"scale_{service}")) for service in SERVICES}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, database_urls: dict[str, str]
) -> Iterator[ScaleStack]:
    env = {f"SMARTDESA_{s.upper()}_DATABASE_URL": url for s, url in database_urls.items()}
    env["SMARTDESA_DEMO_PASSWORD"] = PASSWORD
    for key in ("PER_PHONE", "PER_NIK", "PER_CLIENT"):
        env[f"SMARTDESA_INTAKE_CODE_LIMITS_{key}"] = '[{"count": 1000, "seconds": 900}]'
    scale = ScaleStack(tmp_path_factory.mktemp("scale") / "data", env)
    try:
        scale.start_all()
        yield scale
    finally:
        scale.stop()


@dataclass
class Drive:
    """Journeys in flight on threads until told to stop; what each one left."""

    journey: Journey
    tokens: dict[str, str]
    done: list[dict[str, Any]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    phase: str = "starting"

    def finished(self) -> int:
        with self.lock:
            return len(self.done)

    def loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                self.counter += 1
                n = self.counter
                phase = self.phase
            try:
                result = one_journey(self.journey, self.tokens, n)
            except BaseException as exc:  # recorded, the test fails on it at the end
                with self.lock:
                    exc.add_note(f"journey {n} began in phase: {phase}")
                    self.errors.append(exc)
                return
            with self.lock:
                self.done.append(result)

    def wait_for(self, count: int, what: str) -> None:
        self.phase = what
        deadline = time.monotonic() + 20 * 60
        while self.finished() < count:
            assert not self.errors, (what, self.errors)
            assert time.monotonic() < deadline, f"{what}: only {self.finished()} of {count}"
            time.sleep(0.5)


def _until(what: str, probe: Callable[[], Any], within: float = WAIT) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {within:.0f}s")
        time.sleep(0.3)


def _write(
    attempt: Callable[[], httpx.Response],
    happened: Callable[[], bool],
    done_after_cutoff: tuple[int, ...] = (),
) -> None:
    """A write whose reply may be lost when the replica that took it is killed mid-way (a
    phone's request does the same): after a cut-off it is asked whether the write happened
    before it is made again, so nothing is doubled; `done_after_cutoff` are the answers that
    say a repeat found it done (a decision's 409). A 503 ("coba lagi nanti": a write the
    service passed on to a replica that died under it) is met as a resident meets it: by
    trying again, after the same check."""
    cut_off = False
    for _ in range(5):
        try:
            r = attempt()
        except httpx.TransportError:
            r = None
        if r is None or r.status_code == 503:
            if happened():
                return
            cut_off = True
            continue
        if cut_off and r.status_code in done_after_cutoff:
            return
        assert r.status_code in (200, 201, 202), r.text
        return
    raise AssertionError("a write failed five times in a row")


def one_journey(journey: Journey, tokens: dict[str, str], n: int) -> dict[str, Any]:
    resident = tokens["resident"]
    purpose = f"Uji skala {n}"
    fields = {"nama": "Budi Santoso", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "L"}

    def mine() -> list[dict[str, Any]]:
        r = journey.http.get(f"{journey.ep.intake}/api/v1/applications", headers=_bearer(resident))
        assert r.status_code == 200, r.text
        return [a for a in r.json() if a["purpose"] == purpose]

    def app() -> dict[str, Any]:
        r = journey.application(resident, app_id)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    app_id = ""
    for _ in range(5):
        try:
            app_id = journey.create_application(resident, purpose, fields)
            break
        except httpx.TransportError:
            found = mine()
            if found:
                app_id = found[0]["id"]
                break
    assert app_id, f"{purpose} could not be created"

    for kind, name, content in (("KTP", "ktp.png", sample_png()), ("KK", "kk.pdf", sample_pdf())):
        _write(
            partial(journey.upload, resident, app_id, kind, name, content),
            partial(lambda k: any(a["kind"] == k for a in app()["attachments"]), kind),
        )
    _write(lambda: journey.submit(resident, app_id), lambda: app()["status"] != "draft")
    for role, step in STEPS:
        token = tokens[role]

        def task(token: str = token, step: int = step) -> bool | None:
            return (
                any(
                    t["application_id"] == app_id and t["step"]["index"] == step
                    for t in journey.tasks(token)
                )
                or None
            )

        _until(f"step {step} of {app_id}", task)
        _write(
            partial(journey.decide, token, app_id, "approve", step=step),
            # Whether it took is known only to the workflow: a repeat answers 409 if it did.
            lambda: False,
            done_after_cutoff=(409,),
        )

    def issued() -> dict[str, Any] | None:
        body = app()
        return body if body["status"] == "issued" else None

    application = _until(f"{app_id} issued", issued)
    return {"app_id": app_id, "number": application["letter"]["number"]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def watch_inbox(port: int) -> threading.Event:
    """A staff member's inbox page's server-sent events on one verification replica; the
    event is set when that replica tells it of a change of tasks."""
    told = threading.Event()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=httpx.Timeout(10, read=60))
    form = sign_in_form(client, username="pemerintahan.pamanukan", password=PASSWORD)
    signed_in = client.post("/masuk", data=form)
    assert signed_in.status_code == 303, signed_in.text
    connected = threading.Event()

    def listen() -> None:
        try:
            with client.stream("GET", "/kotak-masuk/kejadian") as stream:
                for line in stream.iter_lines():
                    connected.set()
                    if line == "event: tugas":
                        told.set()
                        return
        except httpx.HTTPError:
            return
        finally:
            client.close()

    threading.Thread(target=listen, daemon=True).start()
    assert connected.wait(30), f"the inbox stream on {port} did not open"
    return told


def test_nothing_is_lost_or_doubled_while_parts_are_killed(
    stack: ScaleStack, database_urls: dict[str, str]
) -> None:
    started = time.monotonic()
    transport = FailoverTransport(stack.http_replicas())
    first = {s: r[0].http for s, r in stack.replicas.items()}
    journey = Journey(
        Endpoints(**{s: f"http://127.0.0.1:{port}" for s, port in first.items()}),
        transport=transport,
    )
    tokens = {"resident": journey.resident_sign_in(NIK_A, PHONE_A)}
    for role, _step in STEPS:
        tokens[role] = journey.staff_token(f"{role}.pamanukan", PASSWORD)
    drive = Drive(journey, tokens)
    told = [watch_inbox(r.http) for r in stack.replicas["verification"]]
    phases: list[tuple[str, float]] = []

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        runs: list[Future[None]] = [pool.submit(drive.loop) for _ in range(IN_FLIGHT)]
        try:
            target = PER_PHASE
            drive.wait_for(target, "all running")
            # Either replica's open inbox page was told of the new tasks (core NATS fan-out).
            assert all(event.wait(60) for event in told), [e.is_set() for e in told]
            phases.append(("all running", time.monotonic() - started))

            killed = [f"{service}-1" for service in stack.replicas]
            for name in killed:
                stack.kill(name)
            target += PER_PHASE
            drive.wait_for(target, "one replica of each service killed")
            phases.append(("a replica of each service killed", time.monotonic() - started))

            stack.kill("nats-0")
            target += PER_PHASE
            drive.wait_for(target, "a NATS node killed")
            phases.append(("a NATS node killed", time.monotonic() - started))

            stack.kill("worker-1")
            target += PER_PHASE
            drive.wait_for(target, "a worker killed")
            phases.append(("a worker killed", time.monotonic() - started))

            restarted = [stack.restart(name) for name in ("nats-0", *killed, "worker-1")]
            stack.wait_ready(restarted, timeout=300)
            told = [watch_inbox(r.http) for r in stack.replicas["verification"]]
            target += PER_PHASE
            drive.wait_for(target, "everything restarted")
            assert all(event.wait(60) for event in told), [e.is_set() for e in told]
            phases.append(("everything restarted", time.monotonic() - started))
        finally:
            drive.stopping.set()
            for run in runs:
                run.result()
    journey.close()
    assert not drive.errors, drive.errors
    print("\nscale profile phases (s since start):", phases)  # noqa: T201 - its report

    done = drive.done
    app_ids = {d["app_id"] for d in done}
    numbers = [d["number"] for d in done]
    assert len(app_ids) == len(done) and len(set(numbers)) == len(numbers)
    run_in_thread(_check_databases(database_urls, app_ids, numbers))
    run_in_thread(_check_stream(stack.nats_urls, database_urls, app_ids))
    duplicates = sum(
        path.read_text(errors="replace").count("was already in")
        for path in (stack.logs_dir).glob("*.log")
    )
    print(  # noqa: T201 - the profile's report
        f"scale profile: {len(done)} letters in {time.monotonic() - started:.0f}s; "
        f"outbox re-publishes dropped by the stream: {duplicates}"
    )


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query)
        return rows
    finally:
        await conn.close()


def _outbox_urls(urls: dict[str, str]) -> dict[str, str]:
    """The services that publish through an outbox (verification and notification consume)."""
    return {service: urls[service] for service in OUTBOX_SERVICES}


def _gap_free(sequences: list[int], last: int, what: str) -> None:
    assert sorted(sequences) == list(range(1, last + 1)), (what, sorted(sequences), last)


async def _check_databases(urls: dict[str, str], app_ids: set[str], numbers: list[str]) -> None:
    # Intake: each driven application once, issued with its letter's number; the application
    # numbers of each type and year run 1..last without a gap.
    apps = await _fetch(
        urls["intake"],
        "SELECT id, status, letter_number, number, letter_type, purpose FROM letter_application",
    )
    driven = [a for a in apps if a["purpose"].startswith("Uji skala")]
    assert {a["id"] for a in driven} == app_ids and len(driven) == len(app_ids)
    assert all(a["status"] == "issued" for a in driven), Counter(a["status"] for a in driven)
    assert sorted(a["letter_number"] for a in driven) == sorted(numbers)
    counters = await _fetch(
        urls["intake"], "SELECT letter_type, year, last FROM application_number_counter"
    )
    for counter in counters:
        tails = [
            int(a["number"].rsplit("-", 1)[1])
            for a in apps
            if a["number"]
            and a["number"].startswith(f"{counter['letter_type']}-{counter['year']}-")
        ]
        _gap_free(tails, counter["last"], f"application numbers {counter['letter_type']}")

    # Verification: three steps per application, each once, all closed.
    tasks = await _fetch(
        urls["verification"], "SELECT application_id, step_index, status FROM verification_task"
    )
    steps = Counter(t["application_id"] for t in tasks if t["application_id"] in app_ids)
    assert steps == dict.fromkeys(app_ids, 3), steps

    # Signing: one valid letter per application; every register's sequence without a gap.
    letters = await _fetch(
        urls["signing"],
        "SELECT application_id, number, status, desa_code, kode_klasifikasi, year, sequence FROM letter",
    )
    ours = [row for row in letters if row["application_id"] in app_ids]
    assert len(ours) == len(app_ids) and {row["number"] for row in ours} == set(numbers)
    assert all(row["status"] == "valid" for row in ours)
    for counter in await _fetch(
        urls["signing"], "SELECT desa_code, kode_klasifikasi, year, value FROM number_counter"
    ):
        key = (counter["desa_code"], counter["kode_klasifikasi"], counter["year"])
        sequences = [
            row["sequence"]
            for row in letters
            if (row["desa_code"], row["kode_klasifikasi"], row["year"]) == key
        ]
        _gap_free(sequences, counter["value"], f"letter numbers {key}")

    # Notification: the resident was told of each letter exactly once on WhatsApp.
    messages = await _fetch(
        urls["notification"], "SELECT channel, to_address, body FROM notification_dev_message"
    )
    for number in numbers:
        told = [m for m in messages if number in m["body"] and m["channel"] == "whatsapp"]
        assert len(told) == 1, (number, told)

    # Every outbox row was relayed.
    for service, url in _outbox_urls(urls).items():
        pending = await _fetch(url, "SELECT id FROM outbox_event WHERE published_at IS NULL")
        assert pending == [], (service, pending)


async def _check_stream(nats_urls: list[str], urls: dict[str, str], app_ids: set[str]) -> None:
    """The public stream, read from the cluster after everything: each outbox event exactly
    once, and each application's events once each (three steps assigned)."""
    outbox: set[str] = set()
    for url in _outbox_urls(urls).values():
        rows = await _fetch(
            url, f"SELECT id FROM outbox_event WHERE nats_subject LIKE '{PUBLIC_ROOT}.%'"
        )
        outbox |= {r["id"] for r in rows}
    nc = await nats.connect(servers=nats_urls)
    try:
        js = nc.jetstream(timeout=20)
        info = await js.stream_info(PUBLIC_STREAM)
        assert info.config.num_replicas == 3
        sub = await js.subscribe(f"{PUBLIC_ROOT}.>", stream=PUBLIC_STREAM, ordered_consumer=True)
        ids: list[str] = []
        per_application: Counter[tuple[str, str]] = Counter()
        total = info.state.messages
        while len(ids) < total:
            msg = await sub.next_msg(timeout=20)
            event = CloudEvent.from_message(msg.headers, msg.data)
            ids.append(event.id)
            if event.subject in app_ids:
                per_application[(event.subject, event_name(event.type))] += 1
        await sub.unsubscribe()
    finally:
        await nc.close()
    repeated = [i for i, c in Counter(ids).items() if c > 1]
    assert not repeated, repeated
    published = set(ids)
    assert outbox <= published, sorted(outbox - published)[:5]
    for app_id in app_ids:
        assert per_application[(app_id, "application.submitted")] == 1, app_id
        assert per_application[(app_id, "application.step_assigned")] == 3, app_id
        assert per_application[(app_id, "letter.issued")] == 1, app_id
