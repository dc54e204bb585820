"""Benchmark of the idle dev stack's memory (not a test): starts the dev stack of
scripts/devstack.py on free ports with a temporary data folder (so it never meets a running
`make run` or a test suite), waits until every service answers /healthz and the stack is idle,
then prints the PSS of each of its own processes and the total, and stops the stack cleanly.

Counted: the four services and the approval worker, each with every process it started (the
signing service's forkserver and pool workers, multiprocessing's resource tracker, ...), one line
per process, named `<service>` or `<service>/<what>`. Not counted: Temporal and NATS.

PSS (proportional set size, /proc/<pid>/smaps_rollup) divides each shared page among the
processes that map it, so the per-process figures add up without counting a page twice; RSS is
printed beside it for comparison (it counts shared pages in every process).

    .venv/bin/python -m scripts.bench_memory [--settle 5] [--keep]
"""

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.devstack import PORT_VARIABLES, DevStack, Ports
from tests.support.processes import free_port

# The stack counts as idle once no counted process used more CPU than this in `--settle`
# seconds (start-up work such as migrations, seeding and first connections is over).
IDLE_CPU_SECONDS = 0.05
CLK_TCK = 100  # os.sysconf("SC_CLK_TCK") on Linux


@dataclass(frozen=True)
class Measured:
    name: str
    pid: int
    pss_kb: int
    rss_kb: int


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (from every thread's children list)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    stack = _children(pid)
    while stack:
        child = stack.pop(0)
        out.append(child)
        stack += _children(child)
    return out


def _role(pid: int) -> str:
    """What a child process of a service is, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = b" ".join(argv).decode(errors="replace")
    if "forkserver" in text and "main(" in text:
        return "forkserver"
    if "resource_tracker" in text:
        return "resource-tracker"
    return "child"


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _rollup(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in kB from /proc/<pid>/smaps_rollup."""
    pss = rss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key == "Pss":
            pss = int(rest.split()[0])
        elif key == "Rss":
            rss = int(rest.split()[0])
    return pss, rss


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _processes(stack: DevStack) -> list[tuple[str, int]]:
    """(name, pid) of every counted process: the services, the worker and their children."""
    found: list[tuple[str, int]] = []
    for child in stack.children:
        if child.name in ("nats", "temporal") or child.process is None:
            continue
        found.append((child.name, child.process.pid))
        for pid in _descendants(child.process.pid):
            # A process forked by the forkserver (a pool worker, an upload checker) keeps its
            # command line, so it is told apart by its parent.
            role = "pool-worker" if _role(_parent(pid)) == "forkserver" else _role(pid)
            found.append((f"{child.name}/{role}", pid))
    return found


def _wait_idle(stack: DevStack, settle: float, timeout: float) -> float:
    """Seconds waited until no counted process used CPU for `settle` seconds."""
    start = time.monotonic()
    while True:
        pids = [pid for _name, pid in _processes(stack)]
        before = {pid: _cpu_ticks(pid) for pid in pids}
        time.sleep(settle)
        stack.check_alive()
        busiest = max((_cpu_ticks(p) - t for p, t in before.items()), default=0) / CLK_TCK
        if busiest <= IDLE_CPU_SECONDS or time.monotonic() - start > timeout:
            return time.monotonic() - start


def measure(stack: DevStack) -> list[Measured]:
    rows: list[Measured] = []
    for name, pid in _processes(stack):
        try:
            pss, rss = _rollup(pid)
        except OSError:  # exited between listing and reading
            continue
        rows.append(Measured(name, pid, pss, rss))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settle", type=float, default=5.0, help="idle window, seconds")
    parser.add_argument("--timeout", type=float, default=120.0, help="most to wait for idle")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="smartdesa-bench-memory-"))
    ports = Ports(**{field: free_port() for field in PORT_VARIABLES})
    stack = DevStack(data_dir, ports)
    failed = True
    try:
        stack.start_all()
        waited = _wait_idle(stack, args.settle, args.timeout)
        rows = measure(stack)
        failed = False
    finally:
        stack.stop()
        if failed:  # the logs say why
            print(f"failed; logs kept in {stack.logs_dir}", file=sys.stderr)
        elif not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"idle after {waited:.0f} s (data folder {data_dir})")
    print(f"{'process':<28} {'pid':>8} {'pss_mb':>8} {'rss_mb':>8}")
    for row in rows:
        print(f"{row.name:<28} {row.pid:>8} {row.pss_kb / 1024:>8.1f} {row.rss_kb / 1024:>8.1f}")
    total_pss = sum(r.pss_kb for r in rows) / 1024
    total_rss = sum(r.rss_kb for r in rows) / 1024
    print(f"{'total':<28} {'':>8} {total_pss:>8.1f} {total_rss:>8.1f}")
    print(f"total_pss_mb {total_pss:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
