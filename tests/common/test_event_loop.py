"""The event loop of the processes (common/event_loop.py): uvloop by default, asyncio's own loop
and h11 when configured."""

import asyncio
import sys
from collections.abc import Iterator

import grpc
import pytest
import uvloop

from common.auth import InternalAuth
from common.config import CommonSettings
from common.event_loop import loop_factory, run, uvicorn_options
from common.rpc import INTAKE, WORKER, GrpcServer, client_channel

SECRET = b"s" * 32


def _echo_service(server: grpc.aio.Server) -> None:
    async def echo(request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
        return request

    handler = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Echo", {"Echo": handler}),)
    )


async def _call_through_grpc() -> tuple[type[asyncio.AbstractEventLoop], bytes]:
    """A service's gRPC server and another's authenticated channel, as between the worker and
    intake (the tracing and token interceptors on both sides)."""
    server = GrpcServer("127.0.0.1:0", InternalAuth(SECRET, INTAKE), ["test.Echo"], _echo_service)
    await server.start()
    channel = client_channel(f"127.0.0.1:{server.port}", InternalAuth(SECRET, WORKER), INTAKE)
    try:
        echo = channel.unary_unary("/test.Echo/Echo")
        answers = await asyncio.gather(*(echo(b"%d" % n, timeout=30) for n in range(20)))
    finally:
        await channel.close()
        await server.stop(0)
    assert answers == [b"%d" % n for n in range(20)]
    return type(asyncio.get_running_loop()), answers[-1]


def test_the_worker_runs_on_uvloop_and_calls_the_services_over_grpc_aio() -> None:
    loop, last = run(_call_through_grpc(), CommonSettings())
    assert issubclass(loop, uvloop.Loop)
    assert last == b"19"


@pytest.mark.unit
def test_asyncio_and_h11_when_configured() -> None:
    settings = CommonSettings(event_loop="asyncio", http_parser="h11")
    assert uvicorn_options(settings) == {"loop": "asyncio", "http": "h11"}
    loop = loop_factory(settings)()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert uvicorn_options(CommonSettings()) == {"loop": "uvloop", "http": "httptools"}


@pytest.fixture
def switch_interval() -> Iterator[None]:
    """Puts the process's own switch interval back after the test."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("switch_interval")
def test_the_processes_hand_the_gil_over_sooner_unless_told_not_to() -> None:
    sys.setswitchinterval(0.005)
    uvicorn_options(CommonSettings(gil_switch_interval_ms=0.5))
    assert sys.getswitchinterval() == pytest.approx(0.0005)

    sys.setswitchinterval(0.005)
    run(asyncio.sleep(0), CommonSettings(gil_switch_interval_ms=1))  # the worker's way in
    assert sys.getswitchinterval() == pytest.approx(0.001)

    sys.setswitchinterval(0.005)
    uvicorn_options(CommonSettings(gil_switch_interval_ms=0))  # 0: Python's own default
    assert sys.getswitchinterval() == pytest.approx(0.005)
