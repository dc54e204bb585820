"""GET /api/v1/kabupaten/summary in the running service, fed through NATS: the kabupaten's
staff (Diskominfo's operator, DPMD's read-only viewer) read it, desa staff are refused, and
filters it cannot show get an Indonesian problem."""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from nats.js import JetStreamContext
from sqlmodel import select

from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
)
from common.events import CloudEvent, public_subject
from common.messaging import publish
from services.verification.models import ApplicationRecord, Task
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event


async def _publish(js: JetStreamContext, event: CloudEvent, desa_code: str = PAMANUKAN) -> None:
    await publish(js, public_subject(desa_code, event.name), event)


async def test_kabupaten_staff_read_the_summary_and_desa_staff_are_refused(
    service: Service, js: JetStreamContext
) -> None:
    now = datetime.now(UTC)
    decided, late = str(uuid.uuid4()), str(uuid.uuid4())
    t0 = now - timedelta(hours=30)
    for app_id, code in ((decided, PAMANUKAN), (late, RANCASARI)):
        await _publish(
            js, application_event(APPLICATION_SUBMITTED, app_id, desa_code=code, time=t0), code
        )
        await _publish(
            js,
            application_event(
                APPLICATION_STEP_ASSIGNED,
                app_id,
                desa_code=code,
                step_role="kasi_pemerintahan",
                deadline=now - timedelta(hours=1) if app_id == late else now + timedelta(hours=8),
                time=t0 + timedelta(seconds=1),
            ),
            code,
        )
    await _publish(
        js,
        application_event(
            APPLICATION_DECIDED,
            decided,
            step_role="kasi_pemerintahan",
            decision="approve",
            time=t0 + timedelta(hours=2),
        ),
    )

    async def projected() -> bool:
        async with service.runtime.sessions() as session:
            records = (await session.exec(select(ApplicationRecord))).all()
            done = (await session.exec(select(Task).where(Task.status == "done"))).all()
        return len(records) == 2 and len(done) == 1

    await eventually(projected)

    diskominfo = await service.login("diskominfo.subang")
    response = await service.http.get("/api/v1/kabupaten/summary", headers=diskominfo)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["total"] == {
        "masuk": 2,
        "diproses": 1,
        "terlambat": 1,
        "terbit": 0,
        "ditolak": 0,
        "dibatalkan": 0,
        "kedaluwarsa": 0,
    }
    desa = {row["code"]: row for row in summary["desa"]}
    assert set(desa) == {PAMANUKAN, RANCASARI}
    assert desa[RANCASARI]["name"] == "Rancasari"
    assert desa[RANCASARI]["counts"]["terlambat"] == 1
    link = urlsplit(desa[PAMANUKAN]["temporal_url"])
    assert (link.scheme, link.netloc, link.path) == (
        "http",
        "127.0.0.1:8233",
        "/namespaces/default/workflows",
    )
    assert parse_qs(link.query)["query"] == [f'DesaCode = "{PAMANUKAN}"']
    [kasi] = summary["steps"]
    assert (kasi["role"], kasi["decided"]) == ("kasi", 1)
    assert kasi["median_hours"] is not None and abs(kasi["median_hours"] - 2.0) < 0.01
    [overdue] = summary["overdue"]
    assert (overdue["application_id"], overdue["desa"]) == (late, "Rancasari")
    assert parse_qs(urlsplit(overdue["temporal_url"]).query)["query"] == [
        f'WorkflowId = "surat-{late}"'
    ]

    # The page shows the same, the overdue letter with its workflow's link.
    page = await service.http.get("/kabupaten", headers=diskominfo)
    assert page.status_code == 200, page.text
    assert f'data-permohonan="{late}"' in page.text
    assert f'href="{overdue["temporal_url"]}"' in page.text
    assert "Kasi Pemerintahan" in page.text

    # DPMD's viewer reads the same numbers; the filters narrow them.
    dpmd = await service.login("dpmd.subang")
    same = await service.http.get("/api/v1/kabupaten/summary", headers=dpmd)
    assert same.status_code == 200, same.text
    assert same.json()["total"] == summary["total"]
    one_desa = await service.http.get(
        "/api/v1/kabupaten/summary", params={"desa": PAMANUKAN}, headers=dpmd
    )
    assert one_desa.json()["total"]["masuk"] == 1
    elsewhere = await service.http.get(
        "/api/v1/kabupaten/summary", params={"kecamatan": "32.13.09"}, headers=dpmd
    )
    assert elsewhere.json()["total"]["masuk"] == 0
    assert elsewhere.json()["overdue"] == []
    before = await service.http.get(
        "/api/v1/kabupaten/summary",
        params={"from": "2025-01-01", "to": "2025-01-31"},
        headers=dpmd,
    )
    assert before.json()["total"]["masuk"] == 0
    # Both kabupaten accounts only read: no desa inbox, no decisions.
    assert (await service.http.get("/api/v1/tasks", headers=dpmd)).status_code == 403
    assert (
        await service.http.get("/api/v1/kabupaten/overdue-tasks", headers=dpmd)
    ).status_code == 200

    backwards = await service.http.get(
        "/api/v1/kabupaten/summary",
        params={"from": "2026-11-30", "to": "2026-11-01"},
        headers=diskominfo,
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"] == "Tanggal akhir tidak boleh sebelum tanggal awal."
    foreign = await service.http.get(
        "/api/v1/kabupaten/summary", params={"kecamatan": "32.14.01"}, headers=diskominfo
    )
    assert foreign.status_code == 422

    kasi_token = await service.login("pemerintahan.pamanukan")
    refused = await service.http.get("/api/v1/kabupaten/summary", headers=kasi_token)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/kabupaten-staff-only")
    assert (await service.http.get("/api/v1/kabupaten/summary")).status_code == 401
    refused_page = await service.http.get("/kabupaten", headers=kasi_token)
    assert refused_page.status_code == 403
    assert "Tidak diizinkan" in refused_page.text
