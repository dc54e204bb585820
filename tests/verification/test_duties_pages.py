"""The staff pages over intake's complaints and survey answers (/pengaduan, /kepuasan): the
real PublicDutiesService of intake on its own SQLite database, served beside the intake peer
on the gRPC port verification calls, with staff signed in through the pages."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from nats.js import JetStreamContext
from smartdesa.v1 import intake_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.db import create_engine, create_tables, session_factory
from common.rpc import INTAKE, GrpcServer
from common.temporal_client import TemporalConnection
from services.intake.complaints import NewComplaint, file_complaint
from services.intake.duties_models import ComplaintEntry, SurveyAnswer
from services.intake.duties_servicer import PublicDutiesServicer, register_duties
from services.intake.models import TABLES
from services.intake.satisfaction import MIN_ANSWERS_SHOWN
from services.verification.config import Settings
from services.verification.models import PersonalDataAccess
from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service
from tests.verification.intake_peer import IntakePeer

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"
BODY = "Petugas loket meminta uang untuk surat domisili, padahal gratis."


@pytest.fixture
async def intake_sessions(data_dir: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'intake-duties.db'}")
    await create_tables(engine, TABLES)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def intake_peer(
    base_settings: Settings,
    js: JetStreamContext,
    intake_sessions: async_sessionmaker[AsyncSession],
    temporal_env: WorkflowEnvironment,
    data_dir: Path,
) -> AsyncIterator[tuple[IntakePeer, int]]:
    peer = IntakePeer(js)
    duties = PublicDutiesServicer(
        intake_sessions,
        TemporalConnection.of(temporal_env.client),
        attachments_root=data_dir / "intake-files",
    )

    def register(server: grpc.aio.Server) -> None:
        intake_pb2_grpc.add_IntakeServiceServicer_to_server(peer, server)
        register_duties(duties)(server)

    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(base_settings, INTAKE),
        ["smartdesa.v1.IntakeService", "smartdesa.v1.PublicDutiesService"],
        register,
    )
    await server.start()
    try:
        yield peer, server.port
    finally:
        await server.stop(0)


async def _signed_in(service: Service, username: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url="http://test")
    form = await async_sign_in_form(http, username=username, password=PASSWORD)
    assert (await http.post("/masuk", data=form)).status_code == 303
    return http


async def _complaint(sessions: async_sessionmaker[AsyncSession], desa: str = PAMANUKAN) -> str:
    async with sessions() as session:
        filed = await file_complaint(
            session, Path("/nonexistent"), NewComplaint(desa, "layanan", BODY), 40
        )
        await session.commit()
        return filed.complaint.id


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def test_the_desa_answers_a_complaint_and_every_read_is_recorded(
    service: Service, intake_sessions: async_sessionmaker[AsyncSession]
) -> None:
    complaint_id = await _complaint(intake_sessions)
    other_id = await _complaint(intake_sessions, RANCASARI)

    kasi = await _signed_in(service, "pemerintahan.pamanukan")
    inbox = await kasi.get("/pengaduan")
    assert inbox.status_code == 200
    assert complaint_id in inbox.text and other_id not in inbox.text
    page = await kasi.get(f"/pengaduan/{complaint_id}")
    assert BODY in page.text
    assert "Kirim jawaban" not in page.text  # a Kasi reads, the operator/Sekdes/Kades answer
    assert (await kasi.get(f"/pengaduan/{other_id}")).status_code == 404

    operator = await _signed_in(service, "operator.pamanukan")
    page = await operator.get(f"/pengaduan/{complaint_id}")
    assert "Kirim jawaban" in page.text
    short = await operator.post(
        f"/pengaduan/{complaint_id}/jawab", data={"jawaban": "ok", "csrf_token": _csrf(page.text)}
    )
    assert short.status_code == 422
    assert "Tulis jawaban" in short.text
    answer = "Sudah kami periksa; uangnya dikembalikan dan petugas ditegur."
    done = await operator.post(
        f"/pengaduan/{complaint_id}/jawab",
        data={"jawaban": answer, "csrf_token": _csrf(page.text)},
    )
    assert done.status_code == 303
    after = await operator.get(f"/pengaduan/{complaint_id}")
    assert answer in after.text and "Kirim jawaban" not in after.text

    async with intake_sessions() as session:
        rows = (
            await session.exec(
                select(ComplaintEntry)
                .where(ComplaintEntry.complaint_id == complaint_id)
                .order_by(col(ComplaintEntry.id))
            )
        ).all()
    assert [(r.kind, r.actor) for r in rows] == [
        ("filed", "pelapor"),
        ("seen", "pemerintahan.pamanukan"),
        ("seen", "operator.pamanukan"),
        ("seen", "operator.pamanukan"),  # the page shown again beside the refused answer
        ("answered", "operator.pamanukan"),
        ("seen", "operator.pamanukan"),
    ]

    kabupaten = await _signed_in(service, "diskominfo.subang")
    listed = await kabupaten.get("/pengaduan")
    assert complaint_id in listed.text and other_id in listed.text
    for http in (kasi, operator, kabupaten):
        await http.aclose()


async def test_the_index_shows_from_enough_answers(
    service: Service, intake_sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with intake_sessions() as session:
        for _ in range(MIN_ANSWERS_SHOWN):
            session.add(
                SurveyAnswer(
                    desa_code=PAMANUKAN,
                    letter_type="SKD",
                    period="2026-11",
                    u1=4,
                    u2=4,
                    u3=3,
                    u4=4,
                    u5=4,
                    u6=4,
                    u7=4,
                    u8=3,
                    u9=4,
                    comment="",
                )
            )
        session.add(
            SurveyAnswer(
                desa_code=RANCASARI,
                letter_type="SKU",
                period="2026-11",
                u1=1,
                u2=1,
                u3=1,
                u4=1,
                u5=1,
                u6=1,
                u7=1,
                u8=1,
                u9=1,
                comment="",
            )
        )
        await session.commit()

    kades = await _signed_in(service, "kades.pamanukan")
    page = await kades.get("/kepuasan", params={"periode": "2026-11"})
    assert page.status_code == 200
    # (7 × 4 + 2 × 3) / 9 × 25 = 94.44: A, Sangat Baik.
    assert "94,44" in page.text and "Sangat Baik" in page.text
    assert "Rancasari" not in page.text  # another desa's answers are not theirs
    refused = await kades.get("/kepuasan", params={"periode": "November"})
    assert refused.status_code == 422 and "TTTT-BB" in refused.text

    kabupaten = await _signed_in(service, "diskominfo.subang")
    page = await kabupaten.get("/kepuasan", params={"periode": "2026"})
    assert "94,44" in page.text
    # Rancasari's one answer is counted but not shown as a figure.
    row = re.search(r"<td>Rancasari</td><td>Semua surat</td><td class=\"angka\">1</td>", page.text)
    assert row, page.text
    assert "<strong>25,00</strong>" not in page.text
    for http in (kades, kabupaten):
        await http.aclose()


async def test_the_attachment_is_downloaded_and_every_read_is_in_the_access_log(
    service: Service, intake_sessions: async_sessionmaker[AsyncSession], data_dir: Path
) -> None:
    """The desa's staff download it; the kabupaten not before escalation; each read of the
    complaint (page and attachment) is a row of the residents' access log, by complaint id."""
    async with intake_sessions() as session:
        filed = await file_complaint(
            session,
            data_dir / "intake-files",
            NewComplaint(PAMANUKAN, "layanan", BODY, attachment=_tiny_png()),
            40,
        )
        await session.commit()
    complaint_id, number = filed.complaint.id, filed.complaint.tracking_number

    kasi = await _signed_in(service, "pemerintahan.pamanukan")
    page = await kasi.get(f"/pengaduan/{complaint_id}")
    assert f'href="/pengaduan/{complaint_id}/lampiran"' in page.text
    download = await kasi.get(f"/pengaduan/{complaint_id}/lampiran")
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == 'attachment; filename="lampiran"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.content[:4] == b"\x89PNG"

    other = await _signed_in(service, "pemerintahan.rancasari")
    assert (await other.get(f"/pengaduan/{complaint_id}/lampiran")).status_code == 404
    kabupaten = await _signed_in(service, "diskominfo.subang")
    assert (await kabupaten.get(f"/pengaduan/{complaint_id}/lampiran")).status_code == 403

    async with service.runtime.sessions() as session:
        rows = (
            await session.exec(
                select(PersonalDataAccess).where(PersonalDataAccess.complaint_id == complaint_id)
            )
        ).all()
    assert sorted((r.kind, r.reader_role, r.reader_desa_code, r.purpose) for r in rows) == [
        ("complaint", "kasi_pemerintahan", PAMANUKAN, number),
        ("complaint_attachment", "kasi_pemerintahan", PAMANUKAN, number),
    ]

    # The read-only DPMD viewer reads the complaint, but is offered no download and refused one.
    dpmd = await _signed_in(service, "dpmd.subang")
    page = await dpmd.get(f"/pengaduan/{complaint_id}")
    assert page.status_code == 200 and "/lampiran" not in page.text
    refused = await dpmd.get(f"/pengaduan/{complaint_id}/lampiran")
    assert refused.status_code == 403 and "Pemantau Kabupaten" in refused.text


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()
