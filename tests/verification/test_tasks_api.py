import uuid

from nats.js import JetStreamContext

from common.domain.events import APPLICATION_STEP_ASSIGNED
from common.events import public_subject
from common.messaging import publish
from services.verification.task_inbox import open_task_in_desa
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PDF = b"%PDF-1.7\n" + b"0" * 40


async def _assigned(
    service: Service,
    js: JetStreamContext,
    role: str = "kasi_pemerintahan",
    desa_code: str = PAMANUKAN,
    step_index: int = 0,
    number: str = "",
) -> str:
    """An application in intake with a step assigned to `role`, visible in the inbox."""
    app_id = str(uuid.uuid4())
    service.intake.add(
        app_id,
        desa_code,
        {"att-ktp": ("KTP", "image/jpeg", JPEG), "att-kk": ("KK", "application/pdf", PDF)},
        number=number,
    )
    event = application_event(
        APPLICATION_STEP_ASSIGNED,
        app_id,
        desa_code=desa_code,
        step_index=step_index,
        step_role=role,
        application_number=number,
    )
    await publish(js, public_subject(desa_code, event.name), event)

    async def projected() -> bool:
        async with service.runtime.sessions() as session:
            return await open_task_in_desa(session, app_id, desa_code) is not None

    await eventually(projected)
    return app_id


async def test_task_detail_shows_the_application_from_intake(
    service: Service, js: JetStreamContext
) -> None:
    app_id = await _assigned(service, js)

    response = await service.http.get(
        f"/api/v1/tasks/{app_id}", headers=await service.login("pemerintahan.pamanukan")
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["application"] == {
        "id": app_id,
        "number": "",  # the fake intake's application is from before numbers
        "desa_code": PAMANUKAN,
        "letter_type": "SKD",
        "purpose": "Persyaratan melamar pekerjaan",
        "fields": {"alamat": "Dusun Krajan RT 001 RW 002"},
        "nik": "3213114509870001",
        "status": "in_review",
        "submitted_at": "2026-11-02T01:30:00Z",
        "channel": "portal",  # unset by the fake intake: as intake's default
    }
    assert body["attachments"] == [
        {
            "id": "att-ktp",
            "kind": "KTP",
            "content_type": "image/jpeg",
            "size_bytes": len(JPEG),
            "url": f"/api/v1/tasks/{app_id}/attachments/att-ktp",
        },
        {
            "id": "att-kk",
            "kind": "KK",
            "content_type": "application/pdf",
            "size_bytes": len(PDF),
            "url": f"/api/v1/tasks/{app_id}/attachments/att-kk",
        },
    ]
    assert body["task"] == {
        "step": {"index": 0, "role": "kasi_pemerintahan"},
        "kind": "decision",
        "reason": None,
        "status": "open",
        "deadline": None,
        "overdue": False,
        "escalated_to_role": None,
        "escalation_level": 0,
    }


async def test_attachment_bytes_come_with_their_content_type(
    service: Service, js: JetStreamContext
) -> None:
    app_id = await _assigned(service, js)
    headers = await service.login("pemerintahan.pamanukan")

    detail = (await service.http.get(f"/api/v1/tasks/{app_id}", headers=headers)).json()
    response = await service.http.get(detail["attachments"][1]["url"], headers=headers)

    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == "inline"
    missing = await service.http.get(
        f"/api/v1/tasks/{app_id}/attachments/tidak-ada", headers=headers
    )
    assert missing.status_code == 404


async def test_another_desa_or_role_gets_404(service: Service, js: JetStreamContext) -> None:
    app_id = await _assigned(service, js)

    for username in ("pemerintahan.rancasari", "sekdes.pamanukan", "kades.rancasari"):
        headers = await service.login(username)
        detail = await service.http.get(f"/api/v1/tasks/{app_id}", headers=headers)
        attachment = await service.http.get(
            f"/api/v1/tasks/{app_id}/attachments/att-ktp", headers=headers
        )
        for response in (detail, attachment):
            assert response.status_code == 404, username
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"] == "Tugas untuk permohonan ini tidak ditemukan."


async def test_intake_must_agree_on_the_desa(service: Service, js: JetStreamContext) -> None:
    app_id = await _assigned(service, js)
    # Intake says the application belongs to another desa than the event said.
    service.intake.add(app_id, RANCASARI)

    response = await service.http.get(
        f"/api/v1/tasks/{app_id}", headers=await service.login("pemerintahan.pamanukan")
    )

    assert response.status_code == 404


async def test_an_application_intake_does_not_know_is_404(
    service: Service, js: JetStreamContext
) -> None:
    app_id = await _assigned(service, js)
    del service.intake.applications[app_id]

    response = await service.http.get(
        f"/api/v1/tasks/{app_id}", headers=await service.login("pemerintahan.pamanukan")
    )

    assert response.status_code == 404
    assert response.json()["detail"] == "Permohonan tidak ditemukan."


async def test_staff_find_an_application_by_the_number_the_resident_reads_out(
    service: Service, js: JetStreamContext
) -> None:
    app_id = await _assigned(service, js, number="SKD-2026-000123")
    headers = await service.login("pemerintahan.pamanukan")
    [row] = (await service.http.get("/api/v1/tasks", headers=headers)).json()
    assert (row["application_id"], row["application_number"]) == (app_id, "SKD-2026-000123")
    # As read out over the phone: lower case, with spaces around it.
    found = await service.http.get("/api/v1/tasks/by-number/skd-2026-000123 ", headers=headers)
    assert found.status_code == 200, found.text
    assert found.json()["application"]["id"] == app_id
    assert found.json()["application"]["number"] == "SKD-2026-000123"
    # Nobody else's: another desa's staff, and a number nobody has, are the same 404.
    for who, number in (
        ("pemerintahan.rancasari", "SKD-2026-000123"),
        ("pemerintahan.pamanukan", "SKD-2026-999999"),
    ):
        missing = await service.http.get(
            f"/api/v1/tasks/by-number/{number}", headers=await service.login(who)
        )
        assert missing.status_code == 404, (who, number)
