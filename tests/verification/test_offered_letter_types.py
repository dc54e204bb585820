"""Which letter types a desa offers: every type until the desa switches one off through the
staff API; DirectoryService.ListOfferedLetterTypes tells intake."""

from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, client_channel
from tests.support.catalogue import SEED
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI

# Every type the catalogue lets residents request online, in its order (SPPD is made at the
# office, so no desa offers it to residents).
ALL = [code for code, d in SEED.items() if d.online]
assert "SKBM" in ALL and "SPPD" not in ALL


async def _offered(service: Service, desa_code: str) -> list[str]:
    auth = InternalAuth.from_settings(service.runtime.settings, INTAKE)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        response = await directory_pb2_grpc.DirectoryServiceStub(channel).ListOfferedLetterTypes(
            directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code), timeout=5
        )
        return list(response.letter_types)


async def test_every_type_is_offered_until_the_desa_switches_one_off(service: Service) -> None:
    assert await _offered(service, PAMANUKAN) == ALL
    headers = await service.login("sekdes.pamanukan")
    routes = (await service.http.get("/api/v1/routes", headers=headers)).json()
    assert all(r["offered"] for r in routes)

    r = await service.http.put(
        "/api/v1/routes/skbm/offered", json={"offered": False}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["letter_type"], r.json()["offered"]) == ("SKBM", False)
    assert await _offered(service, PAMANUKAN) == [c for c in ALL if c != "SKBM"]
    assert await _offered(service, RANCASARI) == ALL  # another desa is unaffected
    route = (await service.http.get("/api/v1/routes/SKBM", headers=headers)).json()
    assert route["offered"] is False

    r = await service.http.put(
        "/api/v1/routes/SKBM/offered", json={"offered": True}, headers=headers
    )
    assert r.json()["offered"] is True
    assert await _offered(service, PAMANUKAN) == ALL


async def test_only_route_editors_switch_letter_types(service: Service) -> None:
    kasi = await service.login("pemerintahan.pamanukan")
    r = await service.http.put("/api/v1/routes/SKD/offered", json={"offered": False}, headers=kasi)
    assert r.status_code == 403
    assert r.json()["type"].endswith("/route-editor-only")
    sekdes = await service.login("sekdes.pamanukan")
    r = await service.http.put(
        "/api/v1/routes/XYZ/offered", json={"offered": False}, headers=sekdes
    )
    assert r.status_code == 404
    assert await _offered(service, PAMANUKAN) == ALL
