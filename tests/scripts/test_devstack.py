"""The dev stack's port check and readiness check (scripts/devstack.py)."""

import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.devstack import PORT_VARIABLES, DevStack, Ports, _healthy
from tests.support import processes
from tests.support.processes import free_port


@pytest.fixture
def not_http_server() -> Iterator[int]:
    """A loopback server that greets in another protocol, as a NATS server does."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:  # the one connection the check makes
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b'INFO {"server_id":"X","version":"2.15.1"}\r\n')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    thread.join(timeout=5)
    listener.close()


def test_a_port_answered_in_another_protocol_is_not_ready(not_http_server: int) -> None:
    # A free port another process took before the service bound it: the check says "not
    # ready" (the service then fails to bind and the stack reports its exit), not a crash.
    assert _healthy(f"http://127.0.0.1:{not_http_server}/healthz") is False


def test_a_port_held_by_another_process_stops_the_stack_before_anything_starts(
    tmp_path: Path,
) -> None:
    ports = Ports(**{name: free_port() for name in PORT_VARIABLES})
    with socket.create_server(("127.0.0.1", ports.verification_grpc)):
        stack = DevStack(tmp_path, ports)
        with pytest.raises(RuntimeError) as refused:
            stack.start_all()
    assert f"{ports.verification_grpc} (SMARTDESA_VERIFICATION_GRPC_PORT)" in str(refused.value)
    assert str(ports.intake_grpc) not in str(refused.value)  # only the port that is held
    assert stack.children == []


def test_the_default_ports_lie_below_the_ephemeral_range() -> None:
    # A default inside it (50051 once) may be held by any outgoing connection at start.
    first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(default < first_ephemeral for _var, default in PORT_VARIABLES.values())


def test_a_port_named_twice_stops_the_stack_before_anything_starts(tmp_path: Path) -> None:
    ports = Ports(**{name: free_port() for name in PORT_VARIABLES})
    twice = Ports(**{**ports.__dict__, "signing_http": ports.intake_http})
    stack = DevStack(tmp_path, twice)
    with pytest.raises(RuntimeError) as refused:
        stack.start_all()
    named = f"{ports.intake_http} (SMARTDESA_INTAKE_HTTP_PORT, SMARTDESA_SIGNING_HTTP_PORT)"
    assert named in str(refused.value)
    assert stack.children == []


def test_free_port_never_hands_out_a_port_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = free_port(), free_port()
    processes._handed_out.discard(second)  # as if never handed out
    # The random pick repeats `first` (nothing listens on it, so it passes the bind check).
    picks = iter([first, second])
    monkeypatch.setattr(random, "randrange", lambda _start, _stop: next(picks))
    assert processes.free_port() == second
