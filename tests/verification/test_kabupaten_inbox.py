"""The kabupaten operator's inbox (issue 15, item 7), fed through NATS into the running
service: only the steps escalated to them in their kabupaten (a Kades step past its deadline,
any step past its second one), with desa and kecamatan by name and no personal data; only
the kabupaten operator has it; they may open and decide those tasks (the workflow judges the
decision), and nothing else."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext
from sqlmodel import select

from common.domain.events import APPLICATION_ESCALATED, APPLICATION_STEP_ASSIGNED
from common.events import CloudEvent, public_subject
from common.messaging import publish
from services.verification.models import Task
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
DISKOMINFO = "diskominfo.subang"


async def _publish(js: JetStreamContext, event: CloudEvent, desa_code: str) -> None:
    await publish(js, public_subject(desa_code, event.name), event)


async def _task(service: Service, app_id: str) -> Task | None:
    async with service.runtime.sessions() as session:
        return (await session.exec(select(Task).where(Task.application_id == app_id))).first()


async def _step(
    service: Service,
    js: JetStreamContext,
    desa: str,
    role: str,
    step_index: int,
    escalated_to: str = "",
    level: int = 0,
) -> str:
    """An application in intake (with a resident's name) whose step waits on `role`,
    escalated to `escalated_to` at `level` when given."""
    app_id = str(uuid.uuid4())
    app = service.intake.add(app_id, desa, {"att-ktp": ("KTP", "image/png", PNG)})
    app.fields["nama"] = "Siti Aminah"
    t0 = datetime.now(UTC) - timedelta(days=2)
    await _publish(
        js,
        application_event(
            APPLICATION_STEP_ASSIGNED,
            app_id,
            desa_code=desa,
            step_index=step_index,
            step_role=role,
            deadline=t0 + timedelta(hours=8),
            time=t0,
        ),
        desa,
    )
    if escalated_to:
        await _publish(
            js,
            application_event(
                APPLICATION_ESCALATED,
                app_id,
                desa_code=desa,
                step_index=step_index,
                step_role=role,
                escalated_to_role=escalated_to,
                escalation_level=level,
                deadline=t0 + timedelta(hours=8),
                time=t0 + timedelta(hours=9),
            ),
            desa,
        )

    async def projected() -> bool:
        task = await _task(service, app_id)
        return task is not None and task.escalation_level == level

    await eventually(projected)
    return app_id


def _code(problem: dict[str, Any]) -> str:
    return str(problem["type"]).rsplit("/", 1)[-1]


async def _listed(service: Service, headers: dict[str, str], ids: set[str]) -> list[Any]:
    response = await service.http.get("/api/v1/kabupaten/tasks", headers=headers)
    assert response.status_code == 200, response.text
    return [t for t in response.json() if t["application_id"] in ids]


async def test_only_steps_escalated_to_the_kabupaten_are_in_its_inbox(
    service: Service, js: JetStreamContext
) -> None:
    kades_late = await _step(service, js, PAMANUKAN, "kades", 2, "kabupaten_operator", 1)
    kasi_twice = await _step(
        service, js, RANCASARI, "kasi_pemerintahan", 0, "kabupaten_operator", 2
    )
    to_sekdes = await _step(service, js, PAMANUKAN, "kasi_pemerintahan", 0, "sekdes", 1)
    kades_waiting = await _step(service, js, PAMANUKAN, "kades", 2)
    ids = {kades_late, kasi_twice, to_sekdes, kades_waiting}

    diskominfo = await service.login(DISKOMINFO)
    listed = await _listed(service, diskominfo, ids)
    assert {t["application_id"] for t in listed} == {kades_late, kasi_twice}
    row = next(t for t in listed if t["application_id"] == kades_late)
    assert (row["desa_code"], row["desa_name"]) == (PAMANUKAN, "Pamanukan")
    assert (row["kecamatan_code"], row["kecamatan_name"]) == ("32.13.11", "Pamanukan")
    assert (row["acting_as"], row["escalation_level"]) == ("kabupaten_operator", 1)
    # No personal data in the kabupaten's list.
    assert "Siti" not in str(listed) and "3213114509870001" not in str(listed)

    # They open an escalated task (the request, its attachments, the letter preview's access).
    detail = await service.http.get(f"/api/v1/tasks/{kades_late}", headers=diskominfo)
    assert detail.status_code == 200, detail.text
    assert detail.json()["application"]["desa_code"] == PAMANUKAN
    picture = await service.http.get(
        f"/api/v1/tasks/{kades_late}/attachments/att-ktp", headers=diskominfo
    )
    assert picture.status_code == 200 and picture.content == PNG
    # ... and not one that waits on the desa (escalated to the Sekdes, or not at all).
    for other in (to_sekdes, kades_waiting):
        assert (
            await service.http.get(f"/api/v1/tasks/{other}", headers=diskominfo)
        ).status_code == 404
        assert (
            await service.http.get(f"/api/v1/applications/{other}/preview", headers=diskominfo)
        ).status_code == 404
        refused = await service.http.post(
            f"/api/v1/tasks/{other}/decision",
            json={"decision": "reject", "reason": "x", "step": 0},
            headers=diskominfo,
        )
        assert (refused.status_code, _code(refused.json())) == (404, "not-found")

    # A decision on an escalated one goes to the workflow, which judges it (none runs here).
    sent = await service.http.post(
        f"/api/v1/tasks/{kades_late}/decision",
        json={"decision": "revise", "reason": "Lengkapi pengantar RT.", "step": 2},
        headers=diskominfo,
    )
    assert (sent.status_code, _code(sent.json())) == (404, "no-workflow"), sent.text


async def test_only_the_kabupaten_operator_has_the_escalated_inbox(
    service: Service, js: JetStreamContext
) -> None:
    kades_late = await _step(service, js, PAMANUKAN, "kades", 2, "kabupaten_operator", 1)
    for username in ("kades.pamanukan", "sekdes.pamanukan", "dpmd.subang"):
        headers = await service.login(username)
        response = await service.http.get("/api/v1/kabupaten/tasks", headers=headers)
        assert response.status_code == 403, username
        assert response.json()["detail"] == "Fitur ini hanya untuk operator kabupaten."
    # DPMD's viewer reads the kabupaten view but opens and decides no task.
    dpmd = await service.login("dpmd.subang")
    assert (await service.http.get(f"/api/v1/tasks/{kades_late}", headers=dpmd)).status_code == 403
    assert (await service.http.get("/api/v1/kabupaten/tasks")).status_code == 401
    # The desa's own Kades still sees their step (escalated or not).
    kades = await service.login("kades.pamanukan")
    assert (await service.http.get(f"/api/v1/tasks/{kades_late}", headers=kades)).status_code == 200
