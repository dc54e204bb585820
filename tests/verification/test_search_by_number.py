"""Search by the application number (issue 15, item 2: "the same one staff and Diskominfo
search by"), through NATS into the running service: the API and the staff pages' "Cari nomor
permohonan" find only what the asker may already open, accept the number as it is read out,
and give one answer for a number nobody has and one that is not theirs."""

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from nats.js import JetStreamContext
from sqlmodel import select

from common.domain.errors import NotFound
from common.domain.events import APPLICATION_ESCALATED, APPLICATION_STEP_ASSIGNED
from common.events import public_subject
from common.messaging import publish
from services.verification import staff_tasks
from services.verification.models import Staff, Task
from tests.support.waiting import eventually
from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOT_FOUND = "Nomor permohonan tidak ditemukan."


async def _step(
    service: Service,
    js: JetStreamContext,
    number: str,
    desa: str = PAMANUKAN,
    role: str = "kasi_pemerintahan",
    escalated_to: str = "",
    late: bool = False,
) -> str:
    """An application numbered `number` whose step waits on `role`: past its deadline when
    `late` (or escalated), escalated to `escalated_to` when given."""
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, desa, {"att-ktp": ("KTP", "image/png", PNG)}, number=number)
    t0 = datetime.now(UTC) - timedelta(days=2 if late or escalated_to else 0)
    level = 2 if escalated_to else 0
    deadline = t0 + timedelta(days=1)
    assigned = application_event(
        APPLICATION_STEP_ASSIGNED,
        app_id,
        desa_code=desa,
        step_role=role,
        application_number=number,
        deadline=deadline,
        time=t0,
    )
    await publish(js, public_subject(desa, assigned.name), assigned)
    if escalated_to:
        escalated = application_event(
            APPLICATION_ESCALATED,
            app_id,
            desa_code=desa,
            step_role=role,
            application_number=number,
            deadline=deadline,
            escalated_to_role=escalated_to,
            escalation_level=level,
            time=t0 + timedelta(days=1, hours=1),
        )
        await publish(js, public_subject(desa, escalated.name), escalated)

    async def projected() -> bool:
        async with service.runtime.sessions() as session:
            task = (await session.exec(select(Task).where(Task.application_id == app_id))).first()
        return task is not None and task.escalation_level == level

    await eventually(projected)
    return app_id


async def _staff(service: Service, username: str) -> Staff:
    async with service.runtime.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.username == username))).one()
        session.expunge(staff)
        return staff


@asynccontextmanager
async def _signed_in(service: Service, username: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(
            "/masuk", data=await async_sign_in_form(client, username=username, password=PASSWORD)
        )
        assert r.status_code == 303, r.text
        yield client


async def _search(client: httpx.AsyncClient, page: str, number: str) -> httpx.Response:
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    assert "Cari nomor permohonan" in shown.text
    match = CSRF.search(shown.text)
    assert match is not None
    return await client.post(f"{page}/cari", data={"csrf_token": match.group(1), "nomor": number})


async def test_the_api_finds_for_kabupaten_accounts_only_what_they_may_open(
    service: Service, js: JetStreamContext
) -> None:
    escalated = await _step(service, js, "SKU-2026-000201", escalated_to="kabupaten_operator")
    await _step(service, js, "SKU-2026-000202", late=True)
    diskominfo = await service.login("diskominfo.subang")

    found = await service.http.get("/api/v1/tasks/by-number/ sku-2026-000201 ", headers=diskominfo)
    assert found.status_code == 200, found.text
    assert found.json()["application"]["id"] == escalated
    # A late step not escalated to them, and a number nobody has: the same 404.
    for number in ("SKU-2026-000202", "SKU-2026-999999"):
        missing = await service.http.get(f"/api/v1/tasks/by-number/{number}", headers=diskominfo)
        assert missing.status_code == 404, number
        assert missing.json()["detail"] == NOT_FOUND
    # DPMD's viewer may open no application (as GET /api/v1/tasks/{id}), found or not.
    dpmd = await service.login("dpmd.subang")
    for number in ("SKU-2026-000201", "SKU-2026-999999"):
        refused = await service.http.get(f"/api/v1/tasks/by-number/{number}", headers=dpmd)
        assert refused.status_code == 403, number


async def test_the_use_case_leads_each_account_where_it_may_see_the_application(
    service: Service, js: JetStreamContext
) -> None:
    ours = await _step(service, js, "SKU-2026-000301")
    late = await _step(service, js, "SKU-2026-000302", desa=RANCASARI, late=True)
    escalated = await _step(service, js, "SKU-2026-000303", escalated_to="kabupaten_operator")
    kasi, other_desa, operator, viewer = [
        await _staff(service, u)
        for u in (
            "pemerintahan.pamanukan",
            "pemerintahan.rancasari",
            "diskominfo.subang",
            "dpmd.subang",
        )
    ]
    async with service.runtime.sessions() as session:
        found = await staff_tasks.find_by_number(session, kasi, "  sku-2026-000301 ")
        assert (found.application_id, found.overdue) == (ours, None)
        assert found.desk is not None and found.desk.staff.desa_code == PAMANUKAN
        # The operator opens the escalated one; the late one only shows in the overdue list.
        found = await staff_tasks.find_by_number(session, operator, "SKU-2026-000303")
        assert found.desk is not None and found.desk.kabupaten
        assert found.application_id == escalated
        found = await staff_tasks.find_by_number(session, operator, "sku-2026-000302")
        assert found.desk is None and found.overdue is not None
        assert found.overdue.application_id == late
        found = await staff_tasks.find_by_number(session, viewer, "SKU-2026-000303")
        assert found.desk is None and found.overdue is not None
        assert found.overdue.application_id == escalated
        # Not late: not in the kabupaten's view, so not found for either kabupaten account;
        # another desa's staff neither.
        for staff, number in (
            (viewer, "SKU-2026-000301"),
            (operator, "SKU-2026-000301"),
            (other_desa, "SKU-2026-000301"),
            (kasi, "SKU-2026-999999"),
        ):
            try:
                await staff_tasks.find_by_number(session, staff, number)
            except NotFound as exc:
                assert exc.message == NOT_FOUND
            else:
                raise AssertionError((staff.username, number))


async def test_the_search_forms_lead_to_the_page_or_say_not_found(
    service: Service, js: JetStreamContext
) -> None:
    ours = await _step(service, js, "SKU-2026-000401")
    escalated = await _step(service, js, "SKU-2026-000402", escalated_to="kabupaten_operator")

    async with _signed_in(service, "pemerintahan.pamanukan") as kasi:
        r = await _search(kasi, "/kotak-masuk", " sku-2026-000401 ")
        assert (r.status_code, r.headers["location"]) == (303, f"/permohonan/{ours}")
        assert (await kasi.get(r.headers["location"])).status_code == 200
        r = await _search(kasi, "/kotak-masuk", "SKU-2026-999999")
        assert r.status_code == 404
        assert NOT_FOUND in r.text and 'value="SKU-2026-999999"' in r.text
        r = await _search(kasi, "/kotak-masuk", "")
        assert r.status_code == 422 and "Isi nomor permohonan" in r.text
        # Without the CSRF token nothing is searched.
        r = await kasi.post("/kotak-masuk/cari", data={"nomor": "SKU-2026-000401"})
        assert r.status_code == 403
        # The kabupaten's search is not for desa staff.
        inbox = await kasi.get("/kotak-masuk")
        token = CSRF.search(inbox.text)
        assert token is not None
        r = await kasi.post(
            "/kabupaten/cari", data={"csrf_token": token.group(1), "nomor": "SKU-2026-000401"}
        )
        assert r.status_code == 403 and "hanya untuk petugas kabupaten" in r.text

    async with _signed_in(service, "pemerintahan.rancasari") as other:
        r = await _search(other, "/kotak-masuk", "SKU-2026-000401")
        assert r.status_code == 404 and NOT_FOUND in r.text

    async with _signed_in(service, "diskominfo.subang") as operator:
        for page in ("/kotak-masuk", "/kabupaten"):
            r = await _search(operator, page, "sku-2026-000402")
            assert (r.status_code, r.headers["location"]) == (303, f"/permohonan/{escalated}")
        r = await _search(operator, "/kabupaten", "SKU-2026-000401")
        assert r.status_code == 404 and NOT_FOUND in r.text

    async with _signed_in(service, "dpmd.subang") as viewer:
        r = await _search(viewer, "/kabupaten", "SKU-2026-000402")
        assert r.status_code == 303
        assert r.headers["location"] == (
            f"/kabupaten?kecamatan=32.13.11&desa={PAMANUKAN}#surat-{escalated}"
        )
        view = await viewer.get(r.headers["location"])
        assert view.status_code == 200 and f'id="surat-{escalated}"' in view.text
        assert (await viewer.get(f"/permohonan/{escalated}")).status_code in (403, 404)
