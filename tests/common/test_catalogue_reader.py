"""The catalogue reader intake and verification share (common/catalogue_reader.py), against a
small real gRPC CatalogueService stand-in that counts what it is asked: versions are kept for
good, the current list for its TTL, and a miss re-reads the list at most once a second from
the last miss's re-read. The services' own tests run it against signing's real catalogue
(tests/intake/test_catalogue_versions.py, tests/verification/test_new_type_requested.py)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

from common.catalogue_reader import CatalogueReader
from common.domain.errors import Unavailable

pytestmark = pytest.mark.unit


def _definition(code: str, version: int, online: bool = True) -> catalogue_pb2.LetterTypeDefinition:
    return catalogue_pb2.LetterTypeDefinition(
        code=code, version=version, name=f"{code} v{version}", online=online,
        template_version=f"{code}-v{version}",
    )  # fmt: skip


@dataclass
class Stand:
    """Every version of every type; the last of each is current. Serves only the two rpcs the
    reader calls (the others answer UNIMPLEMENTED)."""

    versions: dict[str, list[catalogue_pb2.LetterTypeDefinition]] = field(default_factory=dict)
    lists: list[bool] = field(default_factory=list)  # online_only of each ListLetterTypes
    gets: list[tuple[str, int]] = field(default_factory=list)
    down: bool = False

    def publish(self, code: str, online: bool = True) -> None:
        kept = self.versions.setdefault(code, [])
        kept.append(_definition(code, len(kept) + 1, online))

    async def ListLetterTypes(
        self, request: catalogue_pb2.ListCatalogueRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListCatalogueResponse:
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        self.lists.append(request.online_only)
        current = [v[-1] for v in self.versions.values()]
        return catalogue_pb2.ListCatalogueResponse(
            letter_types=[d for d in current if d.online or not request.online_only]
        )

    async def GetLetterType(
        self, request: catalogue_pb2.GetLetterTypeRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.LetterTypeDefinition:
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        self.gets.append((request.code, request.version))
        kept = self.versions.get(request.code, [])
        if not 0 < request.version <= len(kept):
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such version")
        return kept[request.version - 1]


class Gone(Unavailable):
    def __init__(self) -> None:
        super().__init__("catalogue-unavailable", "Katalog tidak dapat dibaca.")


@dataclass
class Setup:
    stand: Stand
    stub: catalogue_pb2_grpc.CatalogueServiceStub
    now: list[float]

    def reader(self, online_only: bool = False) -> CatalogueReader[str]:
        return CatalogueReader(
            self.stub,
            lambda m: m.template_version,
            Gone,
            online_only=online_only,
            ttl_seconds=10,
            clock=lambda: self.now[0],
        )


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    stand = Stand()
    stand.publish("SKD")
    stand.publish("SKU")
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "smartdesa.v1.CatalogueService",
                {
                    "ListLetterTypes": grpc.unary_unary_rpc_method_handler(
                        stand.ListLetterTypes,
                        request_deserializer=catalogue_pb2.ListCatalogueRequest.FromString,
                        response_serializer=catalogue_pb2.ListCatalogueResponse.SerializeToString,
                    ),
                    "GetLetterType": grpc.unary_unary_rpc_method_handler(
                        stand.GetLetterType,
                        request_deserializer=catalogue_pb2.GetLetterTypeRequest.FromString,
                        response_serializer=catalogue_pb2.LetterTypeDefinition.SerializeToString,
                    ),
                },
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Setup(stand, catalogue_pb2_grpc.CatalogueServiceStub(channel), [0.0])
    finally:
        await server.stop(None)


async def test_the_current_list_is_kept_for_its_ttl_then_read_again(setup: Setup) -> None:
    reader = setup.reader()
    assert dict(await reader.current()) == {"SKD": "SKD-v1", "SKU": "SKU-v1"}
    setup.stand.publish("SKD")
    setup.now[0] = 9.9
    assert await reader.find("SKD") == "SKD-v1"  # within the TTL: the list read before
    assert len(setup.stand.lists) == 1
    setup.now[0] = 10.0
    assert await reader.find("SKD") == "SKD-v2"
    assert len(setup.stand.lists) == 2
    reader.forget_current()
    await reader.current()
    assert len(setup.stand.lists) == 3


async def test_versions_are_kept_for_good_and_the_list_fills_them(setup: Setup) -> None:
    reader = setup.reader()
    await reader.current()
    assert await reader.version("SKD", 1) == "SKD-v1"
    assert setup.stand.gets == []  # listed as current: already kept
    setup.stand.publish("SKD")
    assert await reader.version("SKD", 2) == "SKD-v2"
    assert await reader.version("SKD", 2) == "SKD-v2"
    assert setup.stand.gets == [("SKD", 2)]
    assert await reader.version("SKD", 9) is None
    assert await reader.version("SKD", 0) is None  # not a version: current is find's
    assert setup.stand.gets == [("SKD", 2), ("SKD", 9)]
    setup.stand.down = True
    assert await reader.version("SKD", 1) == "SKD-v1"  # kept, signing not asked


async def test_a_miss_rereads_the_list_once_a_second_from_the_last_miss(setup: Setup) -> None:
    reader = setup.reader()
    await reader.current()
    setup.stand.publish("SKTERNAK")
    setup.now[0] = 0.5
    # Published a moment after the list was read: found at once, not after the TTL.
    assert await reader.find("SKTERNAK") == "SKTERNAK-v1"
    assert len(setup.stand.lists) == 2
    setup.now[0] = 1.2
    assert await reader.find("NGAWUR") is None  # within a second of the last miss's re-read
    assert len(setup.stand.lists) == 2
    setup.now[0] = 1.5
    assert await reader.find("NGAWUR") is None
    assert len(setup.stand.lists) == 3


async def test_online_only_lists_only_what_residents_may_request(setup: Setup) -> None:
    setup.stand.publish("SPPD", online=False)
    online = setup.reader(online_only=True)
    assert list(await online.current()) == ["SKD", "SKU"]
    assert await online.find("SPPD") is None
    assert setup.stand.lists == [True, True]
    assert list(await online.everything()) == ["SKD", "SKU", "SPPD"]  # the backfill's list
    assert await online.version("SPPD", 1) == "SPPD-v1"  # a kept version, online or not
    assert list(await setup.reader().current()) == ["SKD", "SKU", "SPPD"]


async def test_without_signing_the_service_error_is_raised_not_a_stale_list(
    setup: Setup,
) -> None:
    reader = setup.reader()
    await reader.current()
    setup.stand.down = True
    setup.now[0] = 5.0
    assert await reader.find("SKD") == "SKD-v1"  # within the TTL
    setup.now[0] = 10.0
    with pytest.raises(Gone):
        await reader.current()
    with pytest.raises(Gone):
        await reader.version("SKD", 7)
    with pytest.raises(Gone):
        await reader.everything()
