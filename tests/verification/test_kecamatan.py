"""The kecamatan tier in verification (issue 18): the kabupaten operator creates kecamatan
accounts with one-time password links; kecamatan staff see only their kecamatan's desa, at
their role's step, and are refused every desa endpoint; which letter types go through the
kecamatan is data the operator edits, and the route the workflow gets carries the kecamatan's
steps after the desa's."""

from datetime import UTC, datetime, timedelta

from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import InternalAuth
from common.rpc import VERIFICATION, WORKER, client_channel
from services.verification.models import TASK_OPEN, Task
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN

KEC_PAMANUKAN = "32.13.11"
SUKAMANDI = "32.13.01.2003"  # Kecamatan Sagalaherang
TYPES = "/api/v1/kabupaten/kecamatan-letter-types"
PASSWORD = "sandi-camat-baru-1"
CAMAT_NAME = "Drs. H. Asep Saepudin, M.Si."


async def _route_roles(service: Service, letter_type: str) -> list[str]:
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        route = await directory_pb2_grpc.DirectoryServiceStub(channel).GetRoute(
            directory_pb2.GetRouteRequest(desa_code=PAMANUKAN, letter_type=letter_type),
            timeout=5,
        )
    return [s.role for s in route.steps]


async def _camat(service: Service, username: str = "camat.pamanukan") -> dict[str, str]:
    operator = await service.login("diskominfo.subang")
    made = await service.http.post(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts",
        json={"username": username, "role": "camat", "full_name": CAMAT_NAME},
        headers=operator,
    )
    assert made.status_code == 201, made.text
    token = made.json()["set_password_path"].split("?t=", 1)[1]
    done = await service.http.post(
        "/api/v1/auth/set-password", json={"token": token, "new_password": PASSWORD}
    )
    assert done.status_code == 200, done.text
    return await service.login(username, PASSWORD)


def _task(application_id: str, desa_code: str, kecamatan_code: str, role: str) -> Task:
    return Task(
        application_id=application_id,
        step_index=3,
        role=role,
        desa_code=desa_code,
        letter_type="SKTM",
        status=TASK_OPEN,
        assigned_at=datetime.now(UTC),
        deadline=datetime.now(UTC) + timedelta(hours=8),
        kecamatan_code=kecamatan_code,
        kabupaten_code="32.13",
    )


async def test_kabupaten_operator_creates_kecamatan_accounts(service: Service) -> None:
    camat = await _camat(service)
    operator = await service.login("diskominfo.subang")
    listed = await service.http.get(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts", headers=operator
    )
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "username": "camat.pamanukan",
            "role": "camat",
            "full_name": CAMAT_NAME,
            "active": True,
            "password_set": True,
        }
    ]
    # One camat per kecamatan; only kecamatan roles; only the operator; only its kabupaten.
    second = await service.http.post(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts",
        json={"username": "camat.lain", "role": "camat", "full_name": "Camat Lain"},
        headers=operator,
    )
    assert second.status_code == 409 and "sudah memiliki Camat" in second.json()["detail"]
    # The camat's name is printed on their "mengetahui" stamp: no camat without one.
    nameless = await service.http.post(
        "/api/v1/kabupaten/kecamatan/32.13.01/accounts",
        json={"username": "camat.tanpa.nama", "role": "camat"},
        headers=operator,
    )
    assert nameless.status_code == 422 and "Nama lengkap Camat" in nameless.json()["detail"]
    desa_role = await service.http.post(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts",
        json={"username": "kades.palsu", "role": "kades"},
        headers=operator,
    )
    assert desa_role.status_code == 422 and "Jabatan kecamatan" in desa_role.json()["detail"]
    viewer = await service.login("dpmd.subang")
    refused = await service.http.post(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts",
        json={"username": "sekcam.pamanukan", "role": "sekcam"},
        headers=viewer,
    )
    assert refused.status_code == 403
    elsewhere = await service.http.post(
        "/api/v1/kabupaten/kecamatan/32.14.01/accounts",
        json={"username": "camat.purwakarta", "role": "camat"},
        headers=operator,
    )
    assert elsewhere.status_code == 404
    # A kecamatan account is no desa staff: desa endpoints refuse it.
    desa_inbox = await service.http.get("/api/v1/tasks", headers=camat)
    assert desa_inbox.status_code == 403


async def test_kecamatan_inbox_shows_only_its_desa_at_its_role(service: Service) -> None:
    async with service.runtime.sessions() as session:
        session.add(_task("app-kec-mine", PAMANUKAN, KEC_PAMANUKAN, "camat"))
        session.add(_task("app-kec-kasi", PAMANUKAN, KEC_PAMANUKAN, "kasi_pelayanan_kecamatan"))
        session.add(_task("app-kec-other", SUKAMANDI, "32.13.01", "camat"))
        # A task whose event names the wrong kecamatan: the desa code decides.
        session.add(_task("app-kec-forged", SUKAMANDI, KEC_PAMANUKAN, "camat"))
        await session.commit()
    camat = await _camat(service)
    inbox = await service.http.get("/api/v1/kecamatan/tasks", headers=camat)
    assert inbox.status_code == 200, inbox.text
    assert [t["application_id"] for t in inbox.json()] == ["app-kec-mine"]
    assert inbox.json()[0]["acting_as"] == "camat"
    for other in ("app-kec-other", "app-kec-forged", "app-kec-kasi"):
        seen = await service.http.get(f"/api/v1/tasks/{other}", headers=camat)
        assert seen.status_code == 404, other
    desa_staff = await service.login("kades.pamanukan")
    assert (
        await service.http.get("/api/v1/kecamatan/tasks", headers=desa_staff)
    ).status_code == 403


async def test_letter_types_through_the_kecamatan_are_data(service: Service) -> None:
    operator = await service.login("diskominfo.subang")
    seeded = await service.http.get(TYPES, headers=operator)
    assert [t["letter_type"] for t in seeded.json()] == ["SKNIKAH", "SKPP", "SKTM"]
    assert [s["role"] for s in seeded.json()[2]["steps"]] == ["kasi_pelayanan_kecamatan", "camat"]
    assert (await _route_roles(service, "SKTM"))[-2:] == ["kasi_pelayanan_kecamatan", "camat"]
    assert await _route_roles(service, "SKD") == ["kasi_pemerintahan", "sekdes", "kades"]

    bad = await service.http.put(
        f"{TYPES}/SKD",
        json={"steps": [{"role": "kades", "deadline_working_hours": 8}]},
        headers=operator,
    )
    assert bad.status_code == 422 and "bukan jabatan kecamatan" in bad.json()["detail"]
    unknown = await service.http.put(f"{TYPES}/NOPE", json={}, headers=operator)
    assert unknown.status_code == 422 and "tidak ada di katalog" in unknown.json()["detail"]
    kades = await service.login("kades.pamanukan")
    assert (await service.http.put(f"{TYPES}/SKD", json={}, headers=kades)).status_code == 403

    put = await service.http.put(
        f"{TYPES}/SKD",
        json={"steps": [{"role": "sekcam", "deadline_working_hours": 4}, {"role": "camat"}]},
        headers=operator,
    )
    assert put.status_code == 200, put.text
    assert await _route_roles(service, "SKD") == [
        "kasi_pemerintahan",
        "sekdes",
        "kades",
        "sekcam",
        "camat",
    ]
    gone = await service.http.delete(f"{TYPES}/SKD", headers=operator)
    assert gone.status_code == 204
    assert await _route_roles(service, "SKD") == ["kasi_pemerintahan", "sekdes", "kades"]
    assert (await service.http.delete(f"{TYPES}/SKD", headers=operator)).status_code == 404


async def test_reminders_and_escalations_find_the_kecamatan_staff(service: Service) -> None:
    await _camat(service)
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        here = await stub.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=PAMANUKAN, role="camat"), timeout=5
        )
        elsewhere = await stub.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=SUKAMANDI, role="camat"), timeout=5
        )
    assert [h.username for h in here.holders] == ["camat.pamanukan"]
    assert list(elsewhere.holders) == []


async def test_the_operator_lists_kecamatan_renames_relinks_and_needs_a_camat_to_install(
    service: Service,
) -> None:
    await _camat(service)
    operator = await service.login("diskominfo.subang")
    listed = await service.http.get("/api/v1/kabupaten/kecamatan", headers=operator)
    assert listed.status_code == 200
    pamanukan = next(k for k in listed.json() if k["code"] == KEC_PAMANUKAN)
    assert pamanukan["name"] == "Pamanukan" and pamanukan["accounts"] == {"camat": 1}
    assert pamanukan["desa_count"] > 1
    accounts = f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts"
    renamed = await service.http.patch(
        f"{accounts}/camat.pamanukan",
        json={"full_name": "  Hj. Nining  Suryani "},
        headers=operator,
    )
    assert renamed.status_code == 200 and renamed.json()["full_name"] == "Hj. Nining Suryani"
    blank = await service.http.patch(
        f"{accounts}/camat.pamanukan", json={"full_name": " "}, headers=operator
    )
    assert blank.status_code == 422
    link = await service.http.post(f"{accounts}/camat.pamanukan/password-link", headers=operator)
    assert link.status_code == 201 and link.json()["set_password_path"].startswith("/akun/")
    missing = await service.http.post(f"{accounts}/kades.pamanukan/password-link", headers=operator)
    assert missing.status_code == 404
    # The camat's certificate needs an active camat with a name (printed on the stamp).
    pem = {"certificate_pem": "x", "key_pem": "y"}
    no_camat = await service.http.put(
        "/api/v1/kabupaten/kecamatan/32.13.01/signers/camat", json=pem, headers=operator
    )
    assert no_camat.status_code == 409 and "akun Camat" in no_camat.json()["detail"]
    elsewhere = await service.http.put(
        "/api/v1/kabupaten/kecamatan/32.14.01/signers/camat", json=pem, headers=operator
    )
    assert elsewhere.status_code == 404
    viewer = await service.login("dpmd.subang")
    refused = await service.http.put(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/signers/camat", json=pem, headers=viewer
    )
    assert refused.status_code == 403


async def _route(service: Service, letter_type: str) -> directory_pb2.Route:
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        route: directory_pb2.Route = await directory_pb2_grpc.DirectoryServiceStub(
            channel
        ).GetRoute(
            directory_pb2.GetRouteRequest(desa_code=PAMANUKAN, letter_type=letter_type),
            timeout=5,
        )
    return route


async def test_a_letter_type_goes_through_the_kecamatan_for_some_purposes(
    service: Service,
) -> None:
    """The operator names the purposes (keperluan) for which SKTM goes through the kecamatan;
    the route carries them for the worker, which applies them to the application's purpose
    (tests/workflows/test_activities.py). No purposes: every purpose."""
    operator = await service.login("diskominfo.subang")
    assert (await service.http.get(TYPES, headers=operator)).json()[2]["purposes"] == []
    assert list((await _route(service, "SKTM")).kecamatan_purposes) == []

    put = await service.http.put(
        f"{TYPES}/SKTM",
        json={"purposes": ["Beasiswa", "  biaya   berobat "]},
        headers=operator,
    )
    assert put.status_code == 200, put.text
    assert put.json()["purposes"] == ["Beasiswa", "biaya berobat"]
    assert [s["role"] for s in put.json()["steps"]] == ["kasi_pelayanan_kecamatan", "camat"]
    listed = (await service.http.get(TYPES, headers=operator)).json()
    assert next(t for t in listed if t["letter_type"] == "SKTM")["purposes"] == [
        "Beasiswa",
        "biaya berobat",
    ]
    route = await _route(service, "SKTM")
    assert list(route.kecamatan_purposes) == ["Beasiswa", "biaya berobat"]
    assert [s.role for s in route.steps][-2:] == ["kasi_pelayanan_kecamatan", "camat"]
    # A type not through the kecamatan carries neither purposes nor a kecamatan calendar.
    skd = await _route(service, "SKD")
    assert list(skd.kecamatan_purposes) == [] and not skd.HasField("kecamatan_calendar")

    for bad, words in (
        (["beasiswa", "BEASISWA"], "tidak boleh berulang"),
        (["  --  "], "tidak boleh kosong"),
        (["x" * 101], "paling banyak 100 karakter"),
    ):
        refused = await service.http.put(f"{TYPES}/SKTM", json={"purposes": bad}, headers=operator)
        assert refused.status_code == 422, refused.text
        assert words in refused.json()["detail"]
    # A PUT without purposes: every purpose again.
    again = await service.http.put(f"{TYPES}/SKTM", json={}, headers=operator)
    assert again.status_code == 200 and again.json()["purposes"] == []
    assert list((await _route(service, "SKTM")).kecamatan_purposes) == []


async def test_kecamatan_steps_count_in_the_kecamatan_calendar(service: Service) -> None:
    """The kabupaten sets a default calendar for its kecamatan offices and may give one
    kecamatan its own; the route's kecamatan calendar follows, the desa's stays its own."""
    operator = await service.login("diskominfo.subang")
    default = await service.http.get("/api/v1/kabupaten/kecamatan-calendar", headers=operator)
    assert default.status_code == 200, default.text
    assert default.json()["source"] == "default" and len(default.json()["hours"]) == 5
    own = f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/calendar"
    assert (await service.http.get(own, headers=operator)).json()["source"] == "default"

    week = [{"weekday": d, "start": "07:30", "end": "15:00"} for d in range(1, 6)]
    put = await service.http.put(
        "/api/v1/kabupaten/kecamatan-calendar",
        json={"hours": week, "local_days_off": ["2026-12-28"]},
        headers=operator,
    )
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "kabupaten" and put.json()["code"] == "32.13"
    shown = (await service.http.get(own, headers=operator)).json()
    assert (shown["source"], shown["local_days_off"]) == ("kabupaten", ["2026-12-28"])
    route = await _route(service, "SKTM")
    assert [d.start_minute for d in route.kecamatan_calendar.days] == [450] * 5
    assert list(route.kecamatan_calendar.local_days_off) == ["2026-12-28"]
    assert [d.start_minute for d in route.calendar.days] == [480] * 5  # the desa's own

    friday_short = [*week[:4], {"weekday": 5, "start": "07:30", "end": "11:00"}]
    mine = await service.http.put(
        own, json={"hours": friday_short, "local_days_off": []}, headers=operator
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["source"] == "kecamatan" and mine.json()["updated_by"] == "diskominfo.subang"
    route = await _route(service, "SKTM")
    assert route.kecamatan_calendar.days[4].end_minute == 660
    assert list(route.kecamatan_calendar.local_days_off) == []

    # Refusals: bad hours, another kabupaten's kecamatan, a desa account.
    bad = await service.http.put(
        own,
        json={"hours": [{"weekday": 1, "start": "15:00", "end": "08:00"}]},
        headers=operator,
    )
    assert bad.status_code == 422, bad.text
    no_date = await service.http.put(
        own, json={"hours": week, "local_days_off": ["besok"]}, headers=operator
    )
    assert no_date.status_code == 422
    assert "Hari libur kecamatan 'besok' bukan tanggal" in no_date.json()["detail"]
    elsewhere = "/api/v1/kabupaten/kecamatan/32.14.01/calendar"
    assert (await service.http.get(elsewhere, headers=operator)).status_code == 404
    kades = await service.login("kades.pamanukan")
    refused = await service.http.put(own, json={"hours": week}, headers=kades)
    assert refused.status_code == 403

    gone = await service.http.delete(own, headers=operator)
    assert gone.status_code == 204
    assert (await service.http.get(own, headers=operator)).json()["source"] == "kabupaten"
    assert (await service.http.delete(own, headers=operator)).status_code == 404
