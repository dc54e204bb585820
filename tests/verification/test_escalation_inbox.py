"""The inbox with deadlines and escalation, fed through NATS into the running service: overdue
first, an escalated task in the supervisor's inbox too, cancelled and expired tasks gone, and the
kabupaten operator's read-only list of overdue letters across its desa."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext
from sqlmodel import select

from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REMINDED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
)
from common.events import CloudEvent, public_subject
from common.messaging import publish
from services.verification.models import Task
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event


async def _publish(js: JetStreamContext, event: CloudEvent, desa_code: str = PAMANUKAN) -> None:
    await publish(js, public_subject(desa_code, event.name), event)


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def _inbox(service: Service, headers: dict[str, str], ids: set[str]) -> list[dict[str, Any]]:
    response = await service.http.get("/api/v1/tasks", headers=headers)
    assert response.status_code == 200, response.text
    return [t for t in response.json() if t["application_id"] in ids]


async def _task(service: Service, app_id: str) -> Task | None:
    async with service.runtime.sessions() as session:
        return (await session.exec(select(Task).where(Task.application_id == app_id))).first()


async def _applied(service: Service, app_id: str, check: Any) -> None:
    async def done() -> bool:
        task = await _task(service, app_id)
        return task is not None and bool(check(task))

    await eventually(done)


async def test_overdue_first_and_escalated_to_the_supervisor(
    service: Service, js: JetStreamContext
) -> None:
    now = datetime.now(UTC)
    later, overdue, escalated = (str(uuid.uuid4()) for _ in range(3))
    ids = {later, overdue, escalated}
    t0 = now - timedelta(hours=3)
    for app_id, deadline in (
        (later, now + timedelta(hours=2)),
        (overdue, now - timedelta(hours=1)),
        (escalated, now + timedelta(hours=1)),
    ):
        await _publish(
            js,
            application_event(
                APPLICATION_STEP_ASSIGNED,
                app_id,
                step_role="kasi_pemerintahan",
                deadline=deadline,
                time=t0,
            ),
        )
    supervisor_deadline = now + timedelta(hours=8)
    await _publish(
        js,
        application_event(
            APPLICATION_ESCALATED,
            escalated,
            step_role="kasi_pemerintahan",
            deadline=supervisor_deadline,
            escalated_to_role="sekdes",
            escalation_level=1,
            time=t0 + timedelta(minutes=1),
        ),
    )
    await _applied(service, escalated, lambda t: t.escalation_level == 1)

    kasi = await service.login("pemerintahan.pamanukan")
    tasks = await _inbox(service, kasi, ids)
    assert [t["application_id"] for t in tasks] == [overdue, escalated, later]
    assert [t["overdue"] for t in tasks] == [True, True, False]
    assert tasks[2]["deadline"] == _z(now + timedelta(hours=2))
    assert (tasks[1]["escalated_to_role"], tasks[1]["escalation_level"]) == ("sekdes", 1)
    assert {t["acting_as"] for t in tasks} == {"kasi_pemerintahan"}

    sekdes = await service.login("sekdes.pamanukan")
    [task] = await _inbox(service, sekdes, ids)
    assert task["application_id"] == escalated
    assert task["step"] == {"index": 0, "role": "kasi_pemerintahan"}
    assert (task["acting_as"], task["deadline"]) == ("sekdes", _z(supervisor_deadline))
    # The supervisor may open it; the Kades (nobody escalated to him yet) may not.
    service.intake.add(escalated, PAMANUKAN)
    detail = await service.http.get(f"/api/v1/tasks/{escalated}", headers=sekdes)
    assert detail.status_code == 200, detail.text
    assert detail.json()["task"]["escalation_level"] == 1
    kades = await service.login("kades.pamanukan")
    assert (await service.http.get(f"/api/v1/tasks/{escalated}", headers=kades)).status_code == 404

    # A reminder may carry the current deadline.
    moved = now + timedelta(hours=5)
    await _publish(
        js,
        application_event(
            APPLICATION_REMINDED, later, step_role="kasi_pemerintahan", deadline=moved
        ),
    )
    await _applied(service, later, lambda t: t.reminders == 1)
    [reminded] = await _inbox(service, kasi, {later})
    assert (reminded["deadline"], reminded["overdue"]) == (_z(moved), False)

    # A second deadline passes: the kabupaten is told, and the Sekdes keeps the task.
    await _publish(
        js,
        application_event(
            APPLICATION_ESCALATED,
            escalated,
            step_role="kasi_pemerintahan",
            escalated_to_role="kabupaten_operator",
            escalation_level=2,
            time=t0 + timedelta(minutes=2),
        ),
    )
    await _applied(service, escalated, lambda t: t.escalation_level == 2)
    [task] = await _inbox(service, sekdes, ids)
    assert (task["acting_as"], task["escalated_to_role"], task["escalation_level"]) == (
        "sekdes",
        "kabupaten_operator",
        2,
    )

    # Cancelled by the resident: gone from every inbox.
    await _publish(js, application_event(APPLICATION_CANCELLED, escalated, status="cancelled"))
    await _applied(service, escalated, lambda t: t.status == "cancelled")
    assert escalated not in [t["application_id"] for t in await _inbox(service, kasi, ids)]
    assert await _inbox(service, sekdes, ids) == []


async def test_expiry_ends_a_task_waiting_on_the_resident(
    service: Service, js: JetStreamContext
) -> None:
    app_id = str(uuid.uuid4())
    t0 = datetime.now(UTC) - timedelta(days=20)
    await _publish(
        js,
        application_event(APPLICATION_STEP_ASSIGNED, app_id, step_role="sekdes", time=t0),
    )
    await _publish(
        js,
        application_event(
            APPLICATION_REVISION_REQUESTED,
            app_id,
            step_role="sekdes",
            decision="revise",
            status="revision_requested",
            time=t0 + timedelta(hours=1),
        ),
    )
    await _publish(
        js,
        application_event(
            APPLICATION_EXPIRED, app_id, status="expired", time=t0 + timedelta(days=14)
        ),
    )
    await _applied(service, app_id, lambda t: t.status == "expired")


async def test_kabupaten_operator_lists_overdue_letters_across_its_desa(
    service: Service, js: JetStreamContext
) -> None:
    now = datetime.now(UTC)
    pamanukan_late, rancasari_late, on_time, kades_level2 = (str(uuid.uuid4()) for _ in range(4))
    ids = {pamanukan_late, rancasari_late, on_time, kades_level2}
    t0 = now - timedelta(days=2)
    for app_id, desa, deadline in (
        (pamanukan_late, PAMANUKAN, now - timedelta(hours=3)),
        (rancasari_late, RANCASARI, now - timedelta(hours=1)),
        (on_time, PAMANUKAN, now + timedelta(hours=3)),
        (kades_level2, PAMANUKAN, now + timedelta(hours=6)),
    ):
        await _publish(
            js,
            application_event(
                APPLICATION_STEP_ASSIGNED,
                app_id,
                desa_code=desa,
                step_index=2,
                step_role="kades",
                deadline=deadline,
                time=t0,
                letter_type="SKTM",
            ),
            desa,
        )
    await _publish(
        js,
        application_event(
            APPLICATION_ESCALATED,
            kades_level2,
            step_index=2,
            step_role="kades",
            escalated_to_role="kabupaten_operator",
            escalation_level=2,
            deadline=now + timedelta(hours=6),
            time=t0 + timedelta(hours=1),
        ),
    )
    await _applied(service, kades_level2, lambda t: t.escalation_level == 2)
    await _applied(service, rancasari_late, lambda t: t.status == "open")

    diskominfo = await service.login("diskominfo.subang")
    response = await service.http.get("/api/v1/kabupaten/overdue-tasks", headers=diskominfo)
    assert response.status_code == 200, response.text
    listed = [t for t in response.json() if t["application_id"] in ids]
    assert [t["application_id"] for t in listed] == [pamanukan_late, rancasari_late, kades_level2]
    first = listed[0]
    assert first == {
        "application_id": pamanukan_late,
        "desa_code": PAMANUKAN,
        "kecamatan_code": "32.13.11",
        "letter_type": "SKTM",
        "step_index": 2,
        "step_role": "kades",
        "assigned_at": _z(t0),
        "deadline": _z(now - timedelta(hours=3)),
        "escalated_to_role": None,
        "escalation_level": 0,
        "kind": "decision",
    }
    assert (listed[2]["escalated_to_role"], listed[2]["escalation_level"]) == (
        "kabupaten_operator",
        2,
    )
    by_desa = await service.http.get(
        "/api/v1/kabupaten/overdue-tasks", params={"desa_code": RANCASARI}, headers=diskominfo
    )
    assert {t["application_id"] for t in by_desa.json()} & ids == {rancasari_late}
    elsewhere = await service.http.get(
        "/api/v1/kabupaten/overdue-tasks", params={"kecamatan_code": "32.13.12"}, headers=diskominfo
    )
    assert {t["application_id"] for t in elsewhere.json()} & ids == set()

    # No desa inbox for it, and a step not escalated to it does not exist for it (its own
    # inbox: tests/verification/test_kabupaten_inbox.py); no kabupaten list for desa staff.
    assert (await service.http.get("/api/v1/tasks", headers=diskominfo)).status_code == 403
    assert (
        await service.http.post(
            f"/api/v1/tasks/{pamanukan_late}/decision",
            json={"decision": "approve", "step": 2},
            headers=diskominfo,
        )
    ).status_code == 404
    kades = await service.login("kades.pamanukan")
    response = await service.http.get("/api/v1/kabupaten/overdue-tasks", headers=kades)
    assert response.status_code == 403
    assert response.json()["detail"] == "Fitur ini hanya untuk petugas kabupaten."
