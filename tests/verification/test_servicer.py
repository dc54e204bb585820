import grpc
import pytest
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import InternalAuth
from common.rpc import VERIFICATION, WORKER, client_channel
from services.verification.models import Staff
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI


def _stub(channel: grpc.aio.Channel) -> directory_pb2_grpc.DirectoryServiceStub:
    return directory_pb2_grpc.DirectoryServiceStub(channel)


def _channel(service: Service) -> grpc.aio.Channel:
    """A channel as the worker has one: authenticated with an internal token."""
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    return client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION)


async def test_get_route_of_skd(service: Service) -> None:
    async with _channel(service) as channel:
        route = await _stub(channel).GetRoute(
            directory_pb2.GetRouteRequest(desa_code=PAMANUKAN, letter_type="SKD"), timeout=5
        )

    assert [s.role for s in route.steps] == ["kasi_pemerintahan", "sekdes", "kades"]
    assert route.signer_role == "kades"


async def test_get_route_refuses_unknown_type_and_empty_arguments(service: Service) -> None:
    async with _channel(service) as channel:
        stub = _stub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.GetRoute(
                directory_pb2.GetRouteRequest(desa_code=PAMANUKAN, letter_type="XYZ"), timeout=5
            )
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await stub.GetRoute(directory_pb2.GetRouteRequest(desa_code=PAMANUKAN), timeout=5)

    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_role_holders_lists_active_staff_of_that_desa_only(service: Service) -> None:
    async with service.runtime.sessions() as session:
        session.add(
            Staff(
                username="kades.lama.pamanukan",
                password_hash="x",
                role="kades",
                desa_code=PAMANUKAN,
                active=False,
            )
        )
        await session.commit()

    async with _channel(service) as channel:
        stub = _stub(channel)
        kades_pamanukan = await stub.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=PAMANUKAN, role="kades"), timeout=5
        )
        kasi_rancasari = await stub.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=RANCASARI, role="kasi_pemerintahan"),
            timeout=5,
        )
        sekdes_rancasari = await stub.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=RANCASARI, role="sekdes"), timeout=5
        )

    assert [(h.username, h.role) for h in kades_pamanukan.holders] == [("kades.pamanukan", "kades")]
    assert [h.username for h in kasi_rancasari.holders] == ["pemerintahan.rancasari"]
    assert list(sekdes_rancasari.holders) == []


async def test_calls_without_an_internal_token_are_refused(service: Service) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc_server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await directory_pb2_grpc.DirectoryServiceStub(ch).GetRoute(
                directory_pb2.GetRouteRequest(desa_code=PAMANUKAN, letter_type="SKD"), timeout=5
            )

    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
