"""The dev stack's readiness check (scripts/devstack.py)."""

import socket
import threading
from collections.abc import Iterator

import pytest

from scripts.devstack import _healthy


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
