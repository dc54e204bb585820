"""Plt periods: granted and ended by the desa's Sekdes or Kades, listed by DirectoryService as
acting holders while they run, and giving the Plt the role's inbox."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from smartdesa.v1 import directory_pb2, directory_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.db import create_engine, create_tables, session_factory
from common.domain.events import APPLICATION_STEP_ASSIGNED
from common.events import public_subject
from common.messaging import publish
from common.rpc import VERIFICATION, WORKER, client_channel
from services.verification.accounts import (
    current_account,
    current_account_and_roles,
    principal_of,
    sign_out,
)
from services.verification.models import TABLES, PltAssignment, Staff
from services.verification.plt import roles_held
from services.verification.task_inbox import open_task_in_desa
from tests.support.postgres import engine_url
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event


async def _holders(service: Service, role: str) -> list[tuple[str, bool]]:
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        response = await stub.ListRoleHolders(
            directory_pb2.ListRoleHoldersRequest(desa_code=PAMANUKAN, role=role), timeout=5
        )
    return [(h.username, h.acting) for h in response.holders]


def _iso(value: datetime) -> str:
    return value.isoformat()


async def grant(service: Service, granter: str, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await service.http.post(
        "/api/v1/plt", json=body, headers=await service.login(granter)
    )
    return response.status_code, response.json()


async def assigned(service: Service, js: JetStreamContext, role: str) -> str:
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    event = application_event(APPLICATION_STEP_ASSIGNED, app_id, step_role=role)
    await publish(js, public_subject(PAMANUKAN, event.name), event)

    async def projected() -> bool:
        async with service.runtime.sessions() as session:
            return await open_task_in_desa(session, app_id, PAMANUKAN) is not None

    await eventually(projected)
    return app_id


async def test_plt_holds_the_role_for_its_period(service: Service, js: JetStreamContext) -> None:
    pemerintahan_task = await assigned(service, js, "kasi_pemerintahan")
    kesra_task = await assigned(service, js, "kasi_kesra")
    kesra = await service.login("kesra.pamanukan")

    async def inbox() -> dict[str, str]:
        response = await service.http.get("/api/v1/tasks", headers=kesra)
        return {t["application_id"]: t["acting_as"] for t in response.json()}

    assert pemerintahan_task not in await inbox()
    assert (
        await service.http.get(f"/api/v1/tasks/{pemerintahan_task}", headers=kesra)
    ).status_code == 404

    ends_at = datetime.now(UTC) + timedelta(days=3)
    status, plt = await grant(
        service,
        "sekdes.pamanukan",
        username="kesra.pamanukan",
        role="kasi_pemerintahan",
        ends_at=_iso(ends_at),
        reason="Kasi Pemerintahan cuti",
    )
    assert status == 201, plt
    assert (plt["username"], plt["role"], plt["granted_by"], plt["current"]) == (
        "kesra.pamanukan",
        "kasi_pemerintahan",
        "sekdes.pamanukan",
        True,
    )
    assert plt["role_label"] == "Kasi Pemerintahan"
    assert await _holders(service, "kasi_pemerintahan") == [
        ("pemerintahan.pamanukan", False),
        ("kesra.pamanukan", True),
    ]
    me = (await service.http.get("/api/v1/auth/me", headers=kesra)).json()
    assert (me["role"], [a["role"] for a in me["acting"]]) == ("kasi_kesra", ["kasi_pemerintahan"])
    tasks = await inbox()
    assert tasks[pemerintahan_task] == "kasi_pemerintahan"
    assert tasks[kesra_task] == "kasi_kesra"
    detail = await service.http.get(f"/api/v1/tasks/{pemerintahan_task}", headers=kesra)
    assert detail.status_code == 200

    listed = await service.http.get("/api/v1/plt", headers=await service.login("kades.pamanukan"))
    assert [p["id"] for p in listed.json()] == [plt["id"]]

    ended = await service.http.post(
        f"/api/v1/plt/{plt['id']}/end", headers=await service.login("kades.pamanukan")
    )
    assert ended.status_code == 200
    assert (ended.json()["current"], ended.json()["ended_by"]) == (False, "kades.pamanukan")
    assert await _holders(service, "kasi_pemerintahan") == [("pemerintahan.pamanukan", False)]
    assert pemerintahan_task not in await inbox()
    headers = await service.login("sekdes.pamanukan")
    assert (await service.http.get("/api/v1/plt", headers=headers)).json() == []
    history = await service.http.get("/api/v1/plt?include_past=true", headers=headers)
    assert [p["id"] for p in history.json()] == [plt["id"]]


async def test_an_upcoming_plt_is_not_yet_a_holder(service: Service) -> None:
    now = datetime.now(UTC)
    status, plt = await grant(
        service,
        "kades.pamanukan",
        username="sekdes.pamanukan",
        role="kades",
        starts_at=_iso(now + timedelta(days=1)),
        ends_at=_iso(now + timedelta(days=5)),
    )
    assert status == 201, plt
    assert plt["current"] is False
    assert await _holders(service, "kades") == [("kades.pamanukan", False)]
    # A naive time is read as WIB.
    status, naive = await grant(
        service,
        "kades.pamanukan",
        username="operator.pamanukan",
        role="kasi_pelayanan",
        starts_at="2030-01-06T08:00:00",
        ends_at="2030-01-10T16:00:00",
    )
    assert status == 201, naive
    assert naive["starts_at"] == "2030-01-06T01:00:00Z"


async def test_who_may_grant_what(service: Service) -> None:
    later = _iso(datetime.now(UTC) + timedelta(days=2))
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (
            "pemerintahan.pamanukan",
            {"username": "kesra.pamanukan", "role": "operator"},
            403,
            "Hanya Sekretaris Desa atau Kepala Desa",
        ),
        (
            "sekdes.pamanukan",
            {"username": "kesra.pamanukan", "role": "kades"},
            403,
            "Anda tidak dapat menetapkan Plt Kepala Desa",
        ),
        (
            "sekdes.pamanukan",
            {"username": "kesra.pamanukan", "role": "lurah"},
            422,
            "Peran 'lurah' tidak dikenal",
        ),
        (
            "kades.pamanukan",
            {"username": "pemerintahan.rancasari", "role": "kasi_kesra"},
            422,
            "tidak ada di desa Anda",
        ),
        (
            "kades.pamanukan",
            {"username": "kades.pamanukan", "role": "sekdes"},
            422,
            "diri sendiri",
        ),
        (
            "kades.pamanukan",
            {"username": "kesra.pamanukan", "role": "kasi_kesra"},
            422,
            "sudah memegang peran",
        ),
        (
            "kades.pamanukan",
            {
                "username": "kesra.pamanukan",
                "role": "sekdes",
                "starts_at": later,
                "ends_at": _iso(datetime.now(UTC) + timedelta(days=1)),
            },
            422,
            "Akhir masa Plt harus setelah awalnya.",
        ),
        (
            "kades.pamanukan",
            {
                "username": "kesra.pamanukan",
                "role": "sekdes",
                "starts_at": "2020-01-01T00:00:00Z",
                "ends_at": "2020-02-01T00:00:00Z",
            },
            422,
            "sudah lewat",
        ),
    ]
    for granter, body, status, message in cases:
        got_status, got = await grant(service, granter, **{"ends_at": later, **body})
        assert (got_status, message in got["detail"]) == (status, True), (body, got)

    status, first = await grant(
        service, "kades.pamanukan", username="kesra.pamanukan", role="sekdes", ends_at=later
    )
    assert status == 201
    status, again = await grant(
        service, "kades.pamanukan", username="kesra.pamanukan", role="sekdes", ends_at=later
    )
    assert status == 409, again
    # Another desa's Kades neither sees nor ends it.
    rancasari = await service.login("kades.rancasari")
    assert (await service.http.get("/api/v1/plt", headers=rancasari)).json() == []
    response = await service.http.post(f"/api/v1/plt/{first['id']}/end", headers=rancasari)
    assert response.status_code == 404
    assert await _holders(service, "sekdes") == [
        ("sekdes.pamanukan", False),
        ("kesra.pamanukan", True),
    ]


async def test_directory_requires_desa_and_role(service: Service) -> None:
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    async with client_channel(target, auth, VERIFICATION) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListRoleHolders(
                directory_pb2.ListRoleHoldersRequest(desa_code=PAMANUKAN), timeout=5
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_kabupaten_operator_holds_its_role_for_every_desa_of_the_kabupaten(
    service: Service,
) -> None:
    # DPMD's viewer (dpmd.subang, kabupaten_viewer) is no escalation target: never listed.
    assert await _holders(service, "kabupaten_operator") == [("diskominfo.subang", False)]
    assert await _holders(service, "kabupaten_viewer") == []


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(
    request: pytest.FixtureRequest, data_dir: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await engine_url(request, data_dir, "plt"))
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_one_query_gives_the_account_its_session_and_the_roles_it_holds_now(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """api.deps.signed_in: the account, the signed-out check and the Plt periods in force in one
    query; the same answers as current_account and roles_held."""
    now = datetime.now(UTC)
    async with sessions() as session:
        staff = Staff(
            username="sekdes.x",
            password_hash="-",
            role="sekdes",
            desa_code=PAMANUKAN,
            full_name="S",
        )
        session.add(staff)
        principal = replace(principal_of(staff), session_id=str(uuid.uuid4()))
        periods = (
            ("kades", now - timedelta(days=1), now + timedelta(days=1), None),  # in force
            ("kasi_kesra", now - timedelta(days=2), now + timedelta(days=2), None),  # in force
            ("kasi_pemerintahan", now + timedelta(hours=1), now + timedelta(days=1), None),  # later
            ("kasi_pelayanan", now - timedelta(days=3), now - timedelta(days=1), None),  # over
            ("sekdes", now - timedelta(days=1), now + timedelta(days=1), None),  # own role
            ("operator", now - timedelta(days=1), now + timedelta(days=1), now),  # ended early
        )
        for role, starts, ends, ended in periods:
            session.add(
                PltAssignment(
                    desa_code=PAMANUKAN,
                    username="sekdes.x",
                    role=role,
                    starts_at=starts,
                    ends_at=ends,
                    ended_at=ended,
                    granted_by="kades.x",
                )
            )
        # The same username's period in another desa is not theirs here.
        session.add(
            PltAssignment(
                desa_code=RANCASARI,
                username="sekdes.x",
                role="kasi_pelayanan",
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                granted_by="kades.y",
            )
        )
        await session.commit()

    async with sessions() as session:
        found = await current_account_and_roles(session, principal)
        assert found is not None
        account, roles = found
        assert account.username == "sekdes.x"
        assert roles == ["sekdes", "kasi_kesra", "kades"]  # own first, then oldest period first
        assert roles == await roles_held(session, account)
        assert await current_account(session, principal) is not None

    # Signed out, a token without an id, another session version, an unknown account: refused.
    async with sessions() as session:
        await sign_out(session, principal, 3600)
    for refused in (
        principal,
        replace(principal, session_id=None),
        replace(principal, session_id=str(uuid.uuid4()), session_version=7),
        replace(principal, subject="nobody", session_id=str(uuid.uuid4())),
    ):
        async with sessions() as session:
            assert await current_account_and_roles(session, refused) is None
            assert await current_account(session, refused) is None
    async with sessions() as session:
        fresh = replace(principal, session_id=str(uuid.uuid4()))
        assert await current_account_and_roles(session, fresh) is not None
