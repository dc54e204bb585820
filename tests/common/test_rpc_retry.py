"""A replica killed mid-call (a pod's SIGKILL): a read is asked again of the other replica, a
write is not, since the dead one may have done it (common/rpc.py `_READ_PREFIXES`)."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

from common.auth import InternalAuth
from common.rpc import SIGNING, WORKER, GrpcServer, client_channel, read_methods
from tests.support.stand_ins import CatalogueStandIn

SECRET = b"rahasia-uji-coba-ulang-" * 3

# The replica that dies: it takes every call and never answers, until it is killed.
_DYING_REPLICA = textwrap.dedent(
    """
    import asyncio, sys
    from common.auth import InternalAuth
    from common.rpc import SIGNING, GrpcServer
    from smartdesa.v1 import catalogue_pb2_grpc

    class Stuck(catalogue_pb2_grpc.CatalogueServiceServicer):
        async def GetLetterType(self, request, context):
            print("took", flush=True)
            await asyncio.Event().wait()

        PublishLetterType = GetLetterType

    async def main():
        server = GrpcServer(
            "127.0.0.1:0", InternalAuth(sys.argv[1].encode(), SIGNING),
            ["smartdesa.v1.CatalogueService"],
            lambda s: catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(Stuck(), s),
        )
        await server.start()
        print(server.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


class Answers(CatalogueStandIn):
    async def GetLetterType(
        self, request: catalogue_pb2.GetLetterTypeRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.LetterTypeDefinition:
        return catalogue_pb2.LetterTypeDefinition(code=request.code)

    async def PublishLetterType(
        self, request: catalogue_pb2.PublishLetterTypeRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.PublishLetterTypeResponse:
        return catalogue_pb2.PublishLetterTypeResponse()


@pytest.fixture
def dying() -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", _DYING_REPLICA, SECRET.decode()],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    yield process, port
    process.kill()
    process.wait()


@pytest.fixture
async def answering() -> AsyncIterator[int]:
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth(SECRET, SIGNING),
        ["smartdesa.v1.CatalogueService"],
        lambda s: catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(Answers(), s),
    )
    await server.start()
    yield server.port
    await server.stop(0)


async def _call_while_killing(
    dying: tuple[subprocess.Popen[str], int], answering: int, write: bool
) -> object:
    process, port = dying
    # Like a Service with two pods behind it: the dying replica is the one connected first.
    target = f"ipv4:127.0.0.1:{port},127.0.0.1:{answering}"
    channel = client_channel(target, InternalAuth(SECRET, WORKER), SIGNING)
    try:
        stub = catalogue_pb2_grpc.CatalogueServiceStub(channel)
        if write:
            call = stub.PublishLetterType(catalogue_pb2.PublishLetterTypeRequest(), timeout=30)
        else:
            call = stub.GetLetterType(catalogue_pb2.GetLetterTypeRequest(code="SKD"), timeout=30)
        assert process.stdout is not None
        took = await asyncio.to_thread(process.stdout.readline)
        assert took.strip() == "took"
        process.send_signal(signal.SIGKILL)
        return await call
    finally:
        await channel.close()


async def test_a_read_in_flight_is_answered_by_the_other_replica(
    dying: tuple[subprocess.Popen[str], int], answering: int
) -> None:
    answer = await _call_while_killing(dying, answering, write=False)
    assert isinstance(answer, catalogue_pb2.LetterTypeDefinition)
    assert answer.code == "SKD"


async def test_a_write_in_flight_is_not_made_again(
    dying: tuple[subprocess.Popen[str], int], answering: int
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _call_while_killing(dying, answering, write=True)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.unit
def test_only_reads_are_retried() -> None:
    methods = {method for _service, method in read_methods()}
    assert {"GetLetterType", "GetResident", "FindByPhone", "ListRoleHolders"} <= methods
    writes = {"PublishLetterType", "IssueLetter", "FileWalkIn", "InstallSigner", "RecordProgress"}
    assert not writes & methods
