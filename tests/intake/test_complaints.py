"""Complaints (pengaduan) through the portal's public form, followed by number and secret,
read and answered by desa staff over PublicDutiesService (as verification calls it), with an
append-only record of who saw and answered it."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import httpx
import pytest
from smartdesa.v1 import public_duties_pb2 as pb
from smartdesa.v1 import public_duties_pb2_grpc
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, WORKER, client_channel
from services.intake.duties_models import Complaint, ComplaintEntry
from services.intake.web.routes.duties import PUBLIC_CSRF_COOKIE
from tests.intake.conftest import PAMANUKAN, Intake
from workflows.complaint import workflow_id
from workflows.complaint.activities import ComplaintActivities
from workflows.complaint.models import ComplaintState
from workflows.complaint.worker import build_worker

RANCASARI = "32.13.11.2002"
BODY = "Petugas meminta biaya untuk surat domisili, padahal katanya gratis."
OPERATOR = pb.StaffActor(
    username="op.pamanukan", role="operator", desa_code=PAMANUKAN, kabupaten_code="32.13"
)
KASI = pb.StaffActor(
    username="kasi.pamanukan",
    role="kasi_pemerintahan",
    desa_code=PAMANUKAN,
    kabupaten_code="32.13",
)
OTHER_DESA = pb.StaffActor(
    username="op.rancasari", role="operator", desa_code=RANCASARI, kabupaten_code="32.13"
)
KABUPATEN = pb.StaffActor(
    username="diskominfo", role="kabupaten_operator", desa_code="", kabupaten_code="32.13"
)
DPMD = pb.StaffActor(username="dpmd", role="kabupaten_viewer", desa_code="", kabupaten_code="32.13")


@pytest.fixture
async def duties(intake: Intake) -> AsyncIterator[public_duties_pb2_grpc.PublicDutiesServiceStub]:
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield public_duties_pb2_grpc.PublicDutiesServiceStub(channel)


@asynccontextmanager
async def complaint_worker(intake: Intake, temporal: Client) -> AsyncIterator[None]:
    settings = intake.runtime.settings
    auth = InternalAuth.from_settings(settings, WORKER)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        async with build_worker(temporal, settings, ComplaintActivities(channel)):
            yield


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def _file(
    http: httpx.AsyncClient,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    **fields: str,
) -> httpx.Response:
    form = await http.get("/pengaduan")
    assert form.status_code == 200
    data = {"desa": PAMANUKAN, "perihal": "layanan", "isi": BODY, **fields}
    data["csrf_token"] = _token(form.text)
    return await http.post("/pengaduan", data=data, files=files or {})


def _number_and_secret(page: str) -> tuple[str, str]:
    found = re.findall(r"<dd><strong>([A-Z0-9-]+)</strong></dd>", page)
    assert len(found) == 2, page
    return found[0], found[1]


async def _track(http: httpx.AsyncClient, number: str, secret: str) -> httpx.Response:
    form = await http.get("/pengaduan/lacak")
    return await http.post(
        "/pengaduan/lacak",
        data={"nomor": number, "kode": secret, "csrf_token": _token(form.text)},
    )


async def _complaint(intake: Intake, number: str) -> Complaint:
    async with intake.runtime.sessions() as session:
        found = (
            await session.exec(select(Complaint).where(Complaint.tracking_number == number))
        ).one()
        return found


async def test_anyone_files_a_complaint_and_reads_the_answer(
    intake: Intake,
    duties: public_duties_pb2_grpc.PublicDutiesServiceStub,
    temporal_env: WorkflowEnvironment,
) -> None:
    r = await _file(intake.http)
    assert r.status_code == 201, r.text
    number, secret = _number_and_secret(r.text)
    assert number.startswith("ADU-")
    assert "hanya ditampilkan sekali" in r.text
    complaint = await _complaint(intake, number)
    assert complaint.resident_id is None
    assert complaint.secret_hash != secret and secret not in complaint.secret_hash
    assert complaint.deadline_at > complaint.filed_at

    # Its workflow runs (durable as a letter's), named by the complaint's id only.
    handle = (await intake.runtime.temporal.client()).get_workflow_handle(workflow_id(complaint.id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    tracked = await _track(intake.http, number, secret)
    assert tracked.status_code == 200
    assert "Belum dijawab" in tracked.text
    assert (await _track(intake.http, number, "SALAH")).status_code == 404

    # The desa's inbox has it; another desa's does not.
    inbox = await duties.ListComplaints(pb.ListComplaintsRequest(actor=OPERATOR))
    assert [c.tracking_number for c in inbox.complaints] == [number]
    other = await duties.ListComplaints(pb.ListComplaintsRequest(actor=OTHER_DESA))
    assert list(other.complaints) == []
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.ReadComplaint(
            pb.ReadComplaintRequest(actor=OTHER_DESA, complaint_id=complaint.id)
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND

    # A Kasi reads it (recorded) but does not answer it.
    seen = await duties.ReadComplaint(
        pb.ReadComplaintRequest(actor=KASI, complaint_id=complaint.id)
    )
    assert seen.body == BODY and not seen.may_answer
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.AnswerComplaint(
            pb.AnswerComplaintRequest(actor=KASI, complaint_id=complaint.id, answer="x" * 20)
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.AnswerComplaint(
            pb.AnswerComplaintRequest(actor=OPERATOR, complaint_id=complaint.id, answer="ok")
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    answer = "Biaya itu tidak dibenarkan; petugasnya sudah ditegur dan uang dikembalikan."
    answered = await duties.AnswerComplaint(
        pb.AnswerComplaintRequest(actor=OPERATOR, complaint_id=complaint.id, answer=answer)
    )
    assert answered.summary.status == "dijawab"
    # The answer ends its workflow (run by the real worker code on the complaint queue).
    async with complaint_worker(intake, temporal_env.client):
        result = await temporal_env.client.get_workflow_handle(
            workflow_id(complaint.id), result_type=ComplaintState
        ).result()
    assert result.answered and not result.escalated

    tracked = await _track(intake.http, number, secret)
    assert answer in tracked.text
    assert "op.pamanukan" not in tracked.text  # staff are not named to the complainant

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.AnswerComplaint(
            pb.AnswerComplaintRequest(actor=OPERATOR, complaint_id=complaint.id, answer=answer)
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The record: who did what, in order, with role and desa.
    async with intake.runtime.sessions() as session:
        entries = (
            await session.exec(
                select(ComplaintEntry)
                .where(ComplaintEntry.complaint_id == complaint.id)
                .order_by(col(ComplaintEntry.id))
            )
        ).all()
    assert [(e.kind, e.actor, e.actor_role, e.actor_desa) for e in entries] == [
        ("filed", "pelapor", "", ""),
        ("seen", "kasi.pamanukan", "kasi_pemerintahan", PAMANUKAN),
        ("answered", "op.pamanukan", "operator", PAMANUKAN),
    ]


async def test_an_invalid_complaint_is_refused_with_nothing_stored(intake: Intake) -> None:
    r = await _file(intake.http, isi="terlalu pendek")
    assert r.status_code == 422
    assert "Tulis pengaduan Anda" in r.text
    assert 'aria-invalid="true"' in r.text
    r = await _file(intake.http, desa="99.99.99.9999")
    assert r.status_code == 422
    assert "Pilih desa yang dilayani" in r.text
    r = await _file(intake.http, files={"lampiran": ("x.exe", b"MZ\x90\x00" * 100, "image/png")})
    assert r.status_code == 422
    assert "JPEG, PNG, atau dokumen PDF" in r.text
    async with intake.runtime.sessions() as session:
        assert (await session.exec(select(Complaint))).all() == []
    assert not (intake.runtime.settings.attachments_dir / "pengaduan").exists() or not any(
        (intake.runtime.settings.attachments_dir / "pengaduan").iterdir()
    )


async def test_a_post_without_the_forms_token_is_refused(intake: Intake) -> None:
    await intake.http.get("/pengaduan")
    assert intake.http.cookies.get(PUBLIC_CSRF_COOKIE)
    r = await intake.http.post(
        "/pengaduan", data={"desa": PAMANUKAN, "perihal": "layanan", "isi": BODY}
    )
    assert r.status_code == 403
    async with intake.runtime.sessions() as session:
        assert (await session.exec(select(Complaint))).all() == []


async def test_an_attachment_is_checked_and_kept(intake: Intake) -> None:
    png = _tiny_png()
    r = await _file(intake.http, files={"lampiran": ("foto.png", png, "image/png")})
    assert r.status_code == 201, r.text
    number, _ = _number_and_secret(r.text)
    complaint = await _complaint(intake, number)
    assert complaint.attachment_type == "image/png"
    stored = intake.runtime.settings.attachments_dir / "pengaduan" / complaint.id / "lampiran"
    assert stored.is_file()


async def test_staff_download_the_attachment_its_desa_and_the_kabupaten_once_escalated(
    intake: Intake, duties: public_duties_pb2_grpc.PublicDutiesServiceStub
) -> None:
    png = _tiny_png()
    r = await _file(intake.http, files={"lampiran": ("Foto KTP Ani.png", png, "image/png")})
    number, _ = _number_and_secret(r.text)
    complaint = await _complaint(intake, number)
    request = pb.ReadComplaintRequest(actor=KASI, complaint_id=complaint.id)
    found = await duties.GetComplaintAttachment(request)
    assert (found.content_type, found.file_name) == ("image/png", "lampiran")
    assert found.content[:8] == b"\x89PNG\r\n\x1a\n"  # cleaned, still the picture
    # Another desa's staff: as if it did not exist. The kabupaten: not before escalation.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.GetComplaintAttachment(
            pb.ReadComplaintRequest(actor=OTHER_DESA, complaint_id=complaint.id)
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    kabupaten = pb.ReadComplaintRequest(actor=KABUPATEN, complaint_id=complaint.id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.GetComplaintAttachment(kabupaten)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (
        await duties.EscalateComplaint(pb.EscalateComplaintRequest(complaint_id=complaint.id))
    ).escalated
    assert (await duties.GetComplaintAttachment(kabupaten)).content == found.content
    # The read-only DPMD viewer never downloads it, escalated or not.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await duties.GetComplaintAttachment(
            pb.ReadComplaintRequest(actor=DPMD, complaint_id=complaint.id)
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "Pemantau Kabupaten" in (refused.value.details() or "")
    # Each download is in the complaint's record, by whom; the complainant's view leaves it out.
    async with intake.runtime.sessions() as session:
        rows = (
            await session.exec(
                select(ComplaintEntry)
                .where(ComplaintEntry.complaint_id == complaint.id)
                .where(ComplaintEntry.kind == "attachment_seen")
            )
        ).all()
    assert [(e.actor, e.actor_role) for e in rows] == [
        ("kasi.pamanukan", "kasi_pemerintahan"),
        ("diskominfo", "kabupaten_operator"),
    ]


async def test_a_signed_in_resident_sees_their_complaints(intake: Intake) -> None:
    headers = await intake.sign_in()
    token = headers["Authorization"].removeprefix("Bearer ")
    intake.http.cookies.set("sd_warga", token)
    r = await _file(intake.http, perihal="permohonan", jenis_surat="SKD")
    assert r.status_code == 201, r.text
    number, _ = _number_and_secret(r.text)
    complaint = await _complaint(intake, number)
    assert complaint.resident_id is not None
    mine = await intake.http.get("/pengaduan/saya")
    assert number in mine.text
    detail = await intake.http.get(f"/pengaduan/saya/{complaint.id}")
    assert detail.status_code == 200 and BODY in detail.text
    # Someone else's complaint is not found.
    intake.http.cookies.clear()
    other = await _file(intake.http)
    other_number, _ = _number_and_secret(other.text)
    other_complaint = await _complaint(intake, other_number)
    intake.http.cookies.set("sd_warga", token)
    assert (await intake.http.get(f"/pengaduan/saya/{other_complaint.id}")).status_code == 404


async def test_the_kabupaten_sees_the_kabupatens_complaints(
    intake: Intake, duties: public_duties_pb2_grpc.PublicDutiesServiceStub
) -> None:
    await _file(intake.http)
    await _file(intake.http, desa=RANCASARI)
    found = await duties.ListComplaints(pb.ListComplaintsRequest(actor=KABUPATEN))
    assert sorted(c.desa_code for c in found.complaints) == [RANCASARI, PAMANUKAN]
    # Before escalation the kabupaten reads but does not answer.
    first = found.complaints[0]
    detail = await duties.ReadComplaint(
        pb.ReadComplaintRequest(actor=KABUPATEN, complaint_id=first.id)
    )
    assert not detail.may_answer


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()
