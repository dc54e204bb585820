"""FileWalkIn over a real gRPC channel as verification calls it: checked like the resident API,
written all at once or not at all, idempotent per request id, bound to the resident identity
the OTP sign-in uses, and announced by application.submitted with channel walk_in."""

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import func, select

from common.auth import InternalAuth
from common.domain.events import APPLICATION_SUBMITTED
from common.events import deterministic_event_id, public_subject
from common.rpc import INTAKE, MAX_FILE_BYTES, MAX_SCANS_PER_MESSAGE, VERIFICATION, client_channel
from services.intake.applications import FILED_AT_OFFICE
from services.intake.file_safety import MAX_ATTACHMENT_BYTES
from services.intake.models import Attachment, LetterApplication, Resident, TimelineEntry
from tests.intake import samples
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PAMANUKAN,
    PHONE_ANI,
    PHONE_BUDI,
    SKD_FIELDS,
    Intake,
)
from tests.support.catalogue import seed_letter_types

OPERATOR = "operator.pamanukan"


@pytest.fixture
async def stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


def _request(**overrides: Any) -> intake_pb2.FileWalkInRequest:
    values: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "desa_code": PAMANUKAN,
        "nik": NIK_BUDI,
        "phone": PHONE_BUDI,
        "letter_type": "SKD",
        "purpose": "Persyaratan melamar pekerjaan",
        "fields": SKD_FIELDS,
        "attachments": [
            intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
            intake_pb2.WalkInAttachment(kind="KK", content=samples.pdf()),
        ],
        "filed_by": OPERATOR,
        **overrides,
    }
    return intake_pb2.FileWalkInRequest(**values)


async def _counts(intake: Intake) -> tuple[int, int, int]:
    async with intake.runtime.sessions() as session:
        residents = (await session.exec(select(func.count()).select_from(Resident))).one()
        apps = (await session.exec(select(func.count()).select_from(LetterApplication))).one()
        files = (await session.exec(select(func.count()).select_from(Attachment))).one()
    return residents, apps, files


def _files_on_disk(intake: Intake) -> list[Path]:
    root = intake.runtime.settings.attachments_dir
    return [p for p in root.rglob("*") if p.is_file()]


async def _refusal(
    stub: intake_pb2_grpc.IntakeServiceStub, request: intake_pb2.FileWalkInRequest
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.FileWalkIn(request)
    return refused.value


def _field(error: grpc.aio.AioRpcError) -> str:
    return str(dict(error.trailing_metadata() or ()).get("smartdesa-field", ""))


async def test_walk_in_is_filed_submitted_and_announced(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    filed = await stub.FileWalkIn(_request())
    assert filed.created and filed.status == "in_review"
    app = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert app.channel == "walk_in" and app.filed_by == OPERATOR
    assert app.nik == NIK_BUDI and app.submitted_at.seconds > 0
    assert sorted(a.kind for a in app.attachments) == ["KK", "KTP"]
    content = await stub.GetAttachment(
        intake_pb2.GetAttachmentRequest(
            application_id=filed.application_id,
            attachment_id=next(a.id for a in app.attachments if a.kind == "KK"),
        )
    )
    # The clean copy (the PDF written anew) is what staff are served.
    assert content.info.content_type == "application/pdf"
    assert content.content.startswith(b"%PDF-") and content.content != samples.pdf()
    assert hashlib.sha256(content.content).hexdigest() == content.info.sha256
    async with intake.runtime.sessions() as session:
        entry = (
            await session.exec(
                select(TimelineEntry).where(TimelineEntry.application_id == filed.application_id)
            )
        ).one()
    assert entry.event == APPLICATION_SUBMITTED and entry.reason == FILED_AT_OFFICE
    assert entry.actor == OPERATOR and entry.actor_role == "operator"
    # The public event says how it came in, and nothing about the resident.
    headers, body = await intake.published(
        public_subject(PAMANUKAN, APPLICATION_SUBMITTED),
        deterministic_event_id(filed.application_id, "submitted"),
    )
    data = json.loads(body)
    assert data["channel"] == "walk_in"
    assert NIK_BUDI not in body.decode() and "85712345678" not in body.decode()
    assert len(_files_on_disk(intake)) == 2  # no temporary file left behind


async def test_the_resident_signs_in_with_nik_and_phone_and_sees_it(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    filed = await stub.FileWalkIn(_request())
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)  # the phone as the operator typed it
    r = await intake.http.get("/api/v1/applications", headers=headers)
    assert r.status_code == 200
    listed = r.json()
    assert [a["id"] for a in listed] == [filed.application_id]
    assert listed[0]["channel"] == "walk_in" and listed[0]["status"] == "in_review"
    assert listed[0]["timeline"][0]["reason"] == FILED_AT_OFFICE


async def test_binds_to_the_resident_who_already_signed_in(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers = await intake.sign_in(NIK_ANI, PHONE_ANI)
    own = await intake.create_application(headers)
    # The same phone written another way (+62…) is the same phone.
    filed = await stub.FileWalkIn(_request(nik=NIK_ANI, phone="+6281234567890"))
    r = await intake.http.get("/api/v1/applications", headers=headers)
    assert {a["id"] for a in r.json()} == {own, filed.application_id}
    assert (await _counts(intake))[0] == 1


async def test_a_nik_bound_to_another_phone_is_refused_and_nothing_changes(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    await intake.sign_in(NIK_ANI, PHONE_ANI)
    before = await _counts(intake)
    refused = await _refusal(stub, _request(nik=NIK_ANI, phone="081311112222"))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _field(refused) == "phone" and "nomor HP lain" in (refused.details() or "")
    assert await _counts(intake) == before
    async with intake.runtime.sessions() as session:
        resident = (await session.exec(select(Resident).where(Resident.nik == NIK_ANI))).one()
    assert resident.phone == "6281234567890"  # the sign-in stays with the registered phone


async def test_the_same_request_id_files_once(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    request = _request()
    first = await stub.FileWalkIn(request)
    again = await stub.FileWalkIn(request)
    assert again.application_id == first.application_id
    assert first.created and not again.created
    assert await _counts(intake) == (1, 1, 2)
    # Someone else's filing cannot take over a request id.
    other = _request(request_id=request.request_id, filed_by="operator.rancasari")
    refused = await _refusal(stub, other)
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _field(refused) == "request_id"


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"nik": "1234"}, "nik", "NIK"),
        ({"phone": "12"}, "phone", ""),
        ({"letter_type": "XYZ"}, "letter_type", "tidak tersedia"),
        ({"purpose": "  "}, "purpose", "Keperluan wajib diisi"),
        ({"fields": {**SKD_FIELDS, "nama": ""}}, "fields.nama", "wajib diisi"),
        ({"desa_code": "99.99.99.9999"}, "desa_code", "tidak dikenal"),
        (
            {"attachments": [intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG)]},
            "attachments.KK",
            "Syarat belum lengkap",
        ),
        (
            {
                "attachments": [
                    intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
                    intake_pb2.WalkInAttachment(kind="KK", content=b"just text, not a scan"),
                ]
            },
            "attachments.KK",
            "JPEG, PNG, atau dokumen PDF",
        ),
        (
            {
                "attachments": [
                    intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
                    intake_pb2.WalkInAttachment(kind="KK", content=samples.png()),
                    # A third scan that is refused: nothing of the first two stays.
                    intake_pb2.WalkInAttachment(kind="AKTA", content=samples.pdf()),
                ]
            },
            "attachments",
            "Jenis berkas harus salah satu dari",
        ),
        (
            {
                "attachments": [
                    intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
                    intake_pb2.WalkInAttachment(kind="KK", content=samples.png()),
                    intake_pb2.WalkInAttachment(kind="kk", content=samples.pdf()),
                ]
            },
            "attachments.KK",
            "lebih dari satu kali",
        ),
    ],
)
async def test_refusals_leave_nothing(
    intake: Intake,
    stub: intake_pb2_grpc.IntakeServiceStub,
    overrides: dict[str, Any],
    field: str,
    text: str,
) -> None:
    refused = await _refusal(stub, _request(**overrides))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _field(refused) == field
    assert text in (refused.details() or "")
    assert await _counts(intake) == (0, 0, 0)  # not even the resident
    assert _files_on_disk(intake) == []


async def test_a_scan_over_the_upload_limit_is_refused(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    too_big = samples.pdf() + b"\0" * (MAX_ATTACHMENT_BYTES + 1)
    refused = await _refusal(
        stub,
        _request(
            attachments=[
                intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
                intake_pb2.WalkInAttachment(kind="KK", content=too_big),
            ]
        ),
    )
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _field(refused) == "attachments.KK" and "terlalu besar" in (refused.details() or "")
    assert await _counts(intake) == (0, 0, 0)
    assert _files_on_disk(intake) == []


def test_a_walk_in_with_every_scan_at_the_limit_fits_one_grpc_message() -> None:
    most = max(len(lt.requirements) for lt in seed_letter_types().values())
    assert most <= MAX_SCANS_PER_MESSAGE
    assert MAX_ATTACHMENT_BYTES <= MAX_FILE_BYTES


async def test_the_catalogue_is_the_resident_apis(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    catalogue = await stub.ListLetterTypes(intake_pb2.ListLetterTypesRequest())
    r = await intake.http.get("/api/v1/letter-types")
    public = {t["code"]: t for t in r.json()}
    assert [t.code for t in catalogue.letter_types] == list(public)
    skd = next(t for t in catalogue.letter_types if t.code == "SKD")
    assert [q.code for q in skd.requirements] == [q["code"] for q in public["SKD"]["requirements"]]
    assert [f.name for f in skd.fields] == [f["name"] for f in public["SKD"]["fields"]]
    assert catalogue.max_attachment_bytes == MAX_ATTACHMENT_BYTES
    assert set(catalogue.accepted_content_types) == {"image/jpeg", "image/png", "application/pdf"}
