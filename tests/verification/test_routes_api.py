"""Routes and the working calendar as data: defaults for every letter type, a desa's own route
and calendar through the staff API, and DirectoryService.GetRoute answering with them."""

import grpc
import pytest
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import InternalAuth
from common.rpc import VERIFICATION, WORKER, client_channel
from services.verification.models import RouteOverride
from tests.support.catalogue import SEED
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI

# Add a first check by the operator; the Sekdes signs a.n. the Kepala Desa.
OPERATOR_FIRST = {
    "steps": [
        {"role": "operator", "deadline_working_hours": 4},
        {"role": "kasi_pemerintahan", "deadline_working_hours": 8, "skippable": True},
        {"role": "sekdes", "deadline_working_hours": 16},
    ],
    "signer_role": "sekdes",
    "on_behalf_of_role": "kades",
}


async def _get_route(service: Service, desa_code: str, letter_type: str) -> directory_pb2.Route:
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        route: directory_pb2.Route = await directory_pb2_grpc.DirectoryServiceStub(
            channel
        ).GetRoute(
            directory_pb2.GetRouteRequest(desa_code=desa_code, letter_type=letter_type), timeout=5
        )
        return route


async def test_every_letter_type_has_a_default_route(service: Service) -> None:
    headers = await service.login("operator.pamanukan")
    response = await service.http.get("/api/v1/routes", headers=headers)
    assert response.status_code == 200, response.text
    routes = {r["letter_type"]: r for r in response.json()}
    # Every type residents may request, each with the catalogue's route, named as it names it.
    assert set(routes) == {code for code, d in SEED.items() if d.online}
    for code, route in routes.items():
        default = SEED[code].route
        assert route["name"] == SEED[code].name
        assert [(s["role"], s["deadline_working_hours"]) for s in route["steps"]] == [
            (s.role, s.hours) for s in default.steps
        ], code
        assert not any(s["skippable"] for s in route["steps"])
        assert (route["signer_role"], route["on_behalf_of_role"], route["customized"]) == (
            default.signer,
            "",
            False,
        )

    # The workflow's route: the desa's steps, then the kecamatan's, as the kabupaten sends SKTM
    # through the kecamatan (verification migration 0016's seed).
    sktm = await _get_route(service, PAMANUKAN, "SKTM")
    assert [(s.role, s.deadline_working_hours, s.skippable) for s in sktm.steps] == [
        ("kasi_kesra", 8, False),
        ("sekdes", 8, False),
        ("kades", 8, False),
        ("kasi_pelayanan_kecamatan", 8, False),
        ("camat", 8, False),
    ]
    assert (sktm.signer_role, sktm.on_behalf_of_role) == ("kades", "")
    assert (sktm.calendar.start_hour, sktm.calendar.end_hour) == (8, 16)
    assert list(sktm.calendar.workdays) == [1, 2, 3, 4, 5]
    assert list(sktm.calendar.local_days_off) == []
    assert (sktm.max_revision_rounds, sktm.resubmit_days) == (3, 14)


async def test_sekdes_changes_a_route_for_their_desa_only(service: Service) -> None:
    headers = await service.login("sekdes.pamanukan")
    response = await service.http.put("/api/v1/routes/sku", json=OPERATOR_FIRST, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["letter_type"] == "SKU"
    assert body["customized"] is True
    assert body["updated_by"] == "sekdes.pamanukan"
    assert [s["role"] for s in body["steps"]] == ["operator", "kasi_pemerintahan", "sekdes"]

    route = await _get_route(service, PAMANUKAN, "SKU")
    assert [(s.role, s.deadline_working_hours, s.skippable) for s in route.steps] == [
        ("operator", 4, False),
        ("kasi_pemerintahan", 8, True),
        ("sekdes", 16, False),
    ]
    assert (route.signer_role, route.on_behalf_of_role) == ("sekdes", "kades")
    # Another desa and another letter type keep the default.
    other_desa = await _get_route(service, RANCASARI, "SKU")
    assert [s.role for s in other_desa.steps] == ["kasi_pemerintahan", "sekdes", "kades"]
    other_type = await _get_route(service, PAMANUKAN, "SKD")
    assert other_type.signer_role == "kades"
    # Everyone in the desa reads it.
    kasi = await service.login("pemerintahan.pamanukan")
    read = await service.http.get("/api/v1/routes/SKU", headers=kasi)
    assert read.json()["steps"] == body["steps"]

    # Back to the default.
    reset = await service.http.delete("/api/v1/routes/SKU", headers=headers)
    assert reset.status_code == 200
    assert reset.json()["customized"] is False
    route = await _get_route(service, PAMANUKAN, "SKU")
    assert [s.role for s in route.steps] == ["kasi_pemerintahan", "sekdes", "kades"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": []}, "Rute harus memiliki paling sedikit satu langkah."),
        (
            {"steps": [{"role": "lurah"}, {"role": "kades"}], "signer_role": "kades"},
            "Langkah 1: peran 'lurah' tidak dikenal",
        ),
        (
            {"steps": [{"role": "sekdes", "deadline_working_hours": 0}, {"role": "kades"}]},
            "Langkah 1: tenggat harus lebih dari 0 jam kerja.",
        ),
        (
            {"steps": [{"role": "kades"}, {"role": "kades"}]},
            "Setiap peran hanya boleh muncul satu kali dalam rute.",
        ),
        ({"signer_role": "kades"}, "Penanda tangan harus peran pada langkah terakhir rute."),
        ({"on_behalf_of_role": "operator"}, "hanya dapat menandatangani a.n. peran yang lebih"),
        ({"signer_role": "bupati"}, "Penanda tangan 'bupati' tidak dikenal"),
    ],
)
async def test_invalid_routes_are_refused_and_nothing_is_stored(
    service: Service, change: dict[str, object], message: str
) -> None:
    headers = await service.login("kades.pamanukan")
    response = await service.http.put(
        "/api/v1/routes/SKD", json={**OPERATOR_FIRST, **change}, headers=headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    async with service.runtime.sessions() as session:
        assert await session.get(RouteOverride, 1) is None
    route = await _get_route(service, PAMANUKAN, "SKD")
    assert [s.role for s in route.steps] == ["kasi_pemerintahan", "sekdes", "kades"]


async def test_who_may_change_routes(service: Service) -> None:
    url = "/api/v1/routes/SKD"
    for username in ("pemerintahan.pamanukan", "operator.pamanukan"):
        response = await service.http.put(
            url, json=OPERATOR_FIRST, headers=await service.login(username)
        )
        assert response.status_code == 403, username
        assert "Sekretaris Desa atau Kepala Desa" in response.json()["detail"]
    # The Kades lets the operator change routes; the operator may then, but not the settings.
    kades = await service.login("kades.pamanukan")
    settings = (await service.http.get("/api/v1/settings", headers=kades)).json()
    allowed = {
        **{k: settings[k] for k in ("start_hour", "end_hour", "workdays", "local_days_off")},
        "max_revision_rounds": settings["max_revision_rounds"],
        "resubmit_days": settings["resubmit_days"],
        "operator_may_edit_routes": True,
    }
    assert (await service.http.put("/api/v1/settings", json=allowed, headers=kades)).is_success
    operator = await service.login("operator.pamanukan")
    response = await service.http.put(url, json=OPERATOR_FIRST, headers=operator)
    assert response.status_code == 200, response.text
    response = await service.http.put("/api/v1/settings", json=allowed, headers=operator)
    assert response.status_code == 403
    # The Rancasari Kades changes Rancasari's route, never Pamanukan's.
    rancasari = await service.login("kades.rancasari")
    response = await service.http.put(
        url,
        json={"steps": [{"role": "kades"}], "signer_role": "kades"},
        headers=rancasari,
    )
    assert response.status_code == 200
    assert [s.role for s in (await _get_route(service, PAMANUKAN, "SKD")).steps] == [
        "operator",
        "kasi_pemerintahan",
        "sekdes",
    ]
    assert [s.role for s in (await _get_route(service, RANCASARI, "SKD")).steps] == ["kades"]
    # No token, a kabupaten account, an unknown letter type.
    assert (await service.http.get("/api/v1/routes")).status_code == 401
    kabupaten = await service.login("diskominfo.subang")
    response = await service.http.get("/api/v1/routes", headers=kabupaten)
    assert response.status_code == 403
    response = await service.http.get("/api/v1/routes/XYZ", headers=kades)
    assert (response.status_code, response.json()["detail"]) == (
        404,
        "Jenis surat 'XYZ' tidak dikenal.",
    )


async def test_calendar_and_revision_rules_reach_get_route(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    body = {
        "start_hour": 7,
        "end_hour": 15,
        "workdays": [1, 2, 3, 4, 5, 6],
        "local_days_off": ["2026-12-24", "2026-08-20"],
        "max_revision_rounds": 2,
        "resubmit_days": 7,
    }
    response = await service.http.put("/api/v1/settings", json=body, headers=sekdes)
    assert response.status_code == 200, response.text
    assert response.json()["local_days_off"] == ["2026-08-20", "2026-12-24"]
    assert response.json()["customized"] is True

    route = await _get_route(service, PAMANUKAN, "SKD")
    assert (route.calendar.start_hour, route.calendar.end_hour) == (7, 15)
    assert list(route.calendar.workdays) == [1, 2, 3, 4, 5, 6]
    assert list(route.calendar.local_days_off) == ["2026-08-20", "2026-12-24"]
    assert (route.max_revision_rounds, route.resubmit_days) == (2, 7)
    # Rancasari keeps the default calendar.
    assert (await _get_route(service, RANCASARI, "SKD")).calendar.start_hour == 8

    for bad, message in (
        ({"start_hour": 16, "end_hour": 8}, "jam mulai harus sebelum jam selesai"),
        ({"workdays": []}, "Paling sedikit satu hari kerja"),
        ({"workdays": [0, 8]}, "Hari kerja ditulis 1 (Senin) sampai 7 (Minggu)."),
        ({"local_days_off": ["24-12-2026"]}, "bukan tanggal"),
        ({"resubmit_days": 0}, "antara 1 dan 90 hari"),
    ):
        response = await service.http.put("/api/v1/settings", json={**body, **bad}, headers=sekdes)
        assert response.status_code == 422, bad
        assert message in response.json()["detail"]
    assert (await _get_route(service, PAMANUKAN, "SKD")).calendar.start_hour == 7
    kasi = await service.login("pemerintahan.pamanukan")
    assert (await service.http.put("/api/v1/settings", json=body, headers=kasi)).status_code == 403


async def test_unknown_letter_type_is_not_found_over_grpc(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _get_route(service, PAMANUKAN, "SKX")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
