"""What the WhatsApp chat asks of intake over real gRPC: an application filed by the resident
through the walk-in's use case with channel "whatsapp" (no staff member), one form field checked
as the portal checks it, and a resident's applications for "status"."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import select
from temporalio.client import Client
from temporalio.worker import Worker

from common.auth import InternalAuth
from common.domain.events import APPLICATION_REVISION_REQUESTED, APPLICATION_SUBMITTED
from common.events import deterministic_event_id, public_subject
from common.rpc import INTAKE, NOTIFICATION, SIGNING, VERIFICATION, WORKER, client_channel
from services.intake.models import TimelineEntry
from services.verification.population import corrections
from tests.intake import samples
from tests.intake.approval_double import ApprovalDouble
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PAMANUKAN,
    PHONE_ANI,
    PHONE_BUDI,
    SKD_FIELDS,
    Intake,
    Register,
)
from tests.intake.test_register_portal import _register
from tests.support.temporal import accepted_updates
from workflows.approval import workflow_id
from workflows.approval.activities import ApprovalActivities


@pytest.fixture
async def stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    """As notification (the chat's activities) calls it."""
    auth = InternalAuth.from_settings(intake.runtime.settings, NOTIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


def _chat_request(**overrides: Any) -> intake_pb2.FileWalkInRequest:
    values: dict[str, Any] = {
        "request_id": f"wa-{uuid.uuid4().hex}",
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
        "channel": "whatsapp",
        **overrides,
    }
    return intake_pb2.FileWalkInRequest(**values)


async def test_a_chat_files_the_residents_own_application_as_whatsapp(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    request = _chat_request()
    filed = await stub.FileWalkIn(request)
    again = await stub.FileWalkIn(request)  # the activity retried: nothing new
    assert filed.created and not again.created
    assert again.application_id == filed.application_id
    app = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert (app.channel, app.filed_by, app.status) == ("whatsapp", "", "in_review")
    async with intake.runtime.sessions() as session:
        entry = (
            await session.exec(
                select(TimelineEntry).where(TimelineEntry.application_id == filed.application_id)
            )
        ).one()
    # The resident's own submission, not one made at the desa office.
    assert (entry.actor, entry.actor_role, entry.reason) == ("", "", "")
    _, body = await intake.published(
        public_subject(PAMANUKAN, APPLICATION_SUBMITTED),
        deterministic_event_id(filed.application_id, "submitted"),
    )
    assert json.loads(body)["channel"] == "whatsapp"

    listed = await stub.ListApplicationsOfResident(
        intake_pb2.ListApplicationsOfResidentRequest(nik=NIK_BUDI, open_only=True)
    )
    [mine] = listed.applications
    assert (mine.id, mine.number, mine.status, mine.channel) == (
        filed.application_id,
        app.number,
        "in_review",
        "whatsapp",
    )
    assert mine.letter_type_name == "Surat Keterangan Domisili"
    nobody = await stub.ListApplicationsOfResident(
        intake_pb2.ListApplicationsOfResidentRequest(nik=NIK_ANI, open_only=True)
    )
    assert list(nobody.applications) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"filed_by": "operator.pamanukan"}, "filed_by"), ({"channel": "sms"}, "channel")],
)
async def test_a_chat_filing_names_no_staff_member_and_a_known_channel(
    stub: intake_pb2_grpc.IntakeServiceStub, overrides: dict[str, str], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.FileWalkIn(_chat_request(**overrides))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(refused.value.trailing_metadata() or ()).get("smartdesa-field") == field


async def test_one_field_is_checked_as_the_portal_checks_it(
    stub: intake_pb2_grpc.IntakeServiceStub,
) -> None:
    async def check(name: str, value: str) -> intake_pb2.CheckLetterFieldResponse:
        answer: intake_pb2.CheckLetterFieldResponse = await stub.CheckLetterField(
            intake_pb2.CheckLetterFieldRequest(letter_type="SKD", name=name, value=value)
        )
        return answer

    typed_date = await check("tanggal_lahir", "17 Agustus 1990")
    assert (typed_date.value, typed_date.error) == ("1990-08-17", "")
    wrong_date = await check("tanggal_lahir", "kemarin")
    assert wrong_date.value == "" and "Tanggal lahir harus tanggal yang valid" in wrong_date.error
    digits = await check("rt", "dua")
    assert digits.error == "RT harus berupa angka."
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await check("tidak_ada", "x")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_chat_filing_reuses_the_kept_ktp(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers = await intake.sign_in()  # Ani, who uploaded a KTP once in the portal
    draft = await intake.create_application(headers)
    uploaded = await intake.upload(headers, draft, "KTP", samples.JPEG, "ktp.jpg", "image/jpeg")
    assert uploaded.status_code == 201, uploaded.text
    kept = await stub.ListKeptDocuments(intake_pb2.ListKeptDocumentsRequest(nik=NIK_ANI))
    assert list(kept.kinds) == ["KTP"]
    none_kept = await stub.ListKeptDocuments(intake_pb2.ListKeptDocumentsRequest(nik=NIK_BUDI))
    assert list(none_kept.kinds) == []

    reuse = [
        intake_pb2.WalkInAttachment(kind="KTP", from_kept=True),
        intake_pb2.WalkInAttachment(kind="KK", content=samples.pdf()),
    ]
    filed = await stub.FileWalkIn(_chat_request(nik=NIK_ANI, phone=PHONE_ANI, attachments=reuse))
    app = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert sorted(a.kind for a in app.attachments) == ["KK", "KTP"]

    # Nothing kept for Budi; and a desa office never files a resident's kept documents.
    for request in (
        _chat_request(attachments=reuse),
        _chat_request(
            nik=NIK_ANI,
            phone=PHONE_ANI,
            attachments=reuse,
            channel="walk_in",
            filed_by="operator.pamanukan",
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.FileWalkIn(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_chat_cannot_cancel_another_residents_application(
    stub: intake_pb2_grpc.IntakeServiceStub,
) -> None:
    filed = await stub.FileWalkIn(_chat_request())  # Budi's
    for nik in (NIK_ANI, "3213110000000000"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CancelApplicationOfResident(
                intake_pb2.CancelApplicationOfResidentRequest(
                    nik=nik, application_id=filed.application_id
                )
            )
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_chat_asks_for_a_register_correction_as_the_portal_does(
    intake: Intake, register: Register, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    """ "Ada yang salah" in the chat: the portal's request_correction and its checks; a refusal
    is Indonesian and writes nothing."""
    await _register(register)
    await intake.sign_in()  # Ani, known to intake and to the register

    def ask(
        nik: str = NIK_ANI, field: str = "tanggal_lahir", proposed_value: str = "1990-08-18"
    ) -> intake_pb2.RequestRegisterCorrectionOfResidentRequest:
        return intake_pb2.RequestRegisterCorrectionOfResidentRequest(
            nik=nik, field=field, proposed_value=proposed_value
        )

    for request, code, words in (
        (ask(field="nik"), grpc.StatusCode.INVALID_ARGUMENT, "Pilih data yang tidak sesuai"),
        (ask(proposed_value="  "), grpc.StatusCode.INVALID_ARGUMENT, "Tulis data yang benar."),
        (ask(nik=NIK_BUDI), grpc.StatusCode.NOT_FOUND, "belum tercatat"),  # unknown to intake
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.RequestRegisterCorrectionOfResident(request)
        assert refused.value.code() == code, request.field
        assert words in (refused.value.details() or ""), request.field
    async with register.sessions() as session:
        assert await corrections.requests_of_resident(session, NIK_ANI) == []

    made = await stub.RequestRegisterCorrectionOfResident(ask())
    assert (made.field_label, made.status) == ("Tanggal lahir", "menunggu")
    async with register.sessions() as session:
        [waiting] = await corrections.requests_of_resident(session, NIK_ANI)
    assert (waiting.id, waiting.proposed_value) == (made.id, "1990-08-18")


@pytest.fixture
async def approval(intake: Intake, temporal_client: Client) -> AsyncIterator[None]:
    """The approval double on intake's own queue, reporting back to intake over real gRPC."""
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    channels = [
        client_channel(f"127.0.0.1:{intake.runtime.grpc_server.port}", auth, INTAKE),
        client_channel("127.0.0.1:9", auth, VERIFICATION),  # never called by the double
        client_channel("127.0.0.1:9", auth, SIGNING),
    ]
    async with Worker(
        temporal_client,
        task_queue=intake.runtime.settings.temporal_task_queue,
        workflows=[ApprovalDouble],
        activities=[ApprovalActivities(*channels).record_progress],
    ):
        yield
    for channel in channels:
        await channel.close()


async def test_a_chat_answers_a_revision_with_the_corrected_document(
    intake: Intake,
    stub: intake_pb2_grpc.IntakeServiceStub,
    approval: None,
    temporal_client: Client,
) -> None:
    """The file replaces that syarat with every check of an upload, then the portal's
    resubmission: once, however often the chat's activity retries."""
    filed = await stub.FileWalkIn(_chat_request())
    handle = temporal_client.get_workflow_handle(workflow_id(filed.application_id))
    auth = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    async with client_channel(
        f"127.0.0.1:{intake.runtime.grpc_server.port}", auth, INTAKE
    ) as channel:
        await intake_pb2_grpc.IntakeServiceStub(channel).RecordProgress(
            intake_pb2.RecordProgressRequest(
                application_id=filed.application_id,
                sequence=100,
                event=APPLICATION_REVISION_REQUESTED,
                status="revision_requested",
                actor_role="kasi_pemerintahan",
                decision="revise",
                reason="KK tidak terbaca",
            )
        )
    await handle.signal(ApprovalDouble.request_revision)
    before = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    old_kk = next(a for a in before.attachments if a.kind == "KK")

    def revise(**overrides: Any) -> intake_pb2.ReviseApplicationOfResidentRequest:
        values: dict[str, Any] = {
            "nik": NIK_BUDI,
            "application_id": filed.application_id,
            "kind": "KK",
            "content": samples.JPEG,
            "filename": "kk-baru.jpg",
            **overrides,
        }
        return intake_pb2.ReviseApplicationOfResidentRequest(**values)

    # Refused, nothing changed: not a file intake takes, not a syarat of the letter, not hers.
    for request, code in (
        (revise(content=b"bukan berkas"), grpc.StatusCode.INVALID_ARGUMENT),
        (revise(kind="AKTA"), grpc.StatusCode.INVALID_ARGUMENT),
        (revise(nik=NIK_ANI), grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ReviseApplicationOfResident(request)
        assert refused.value.code() == code, request.kind
    unchanged = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert unchanged.status == "revision_requested"
    assert [a.id for a in unchanged.attachments] == [a.id for a in before.attachments]

    answer = await stub.ReviseApplicationOfResident(revise())
    again = await stub.ReviseApplicationOfResident(revise())  # the activity retried
    assert answer.status == again.status == "in_review"
    after = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert after.status == "in_review"
    new_kk = next(a for a in after.attachments if a.kind == "KK")
    assert (new_kk.content_type, new_kk.id != old_kk.id) == ("image/jpeg", True)
    assert sorted(a.kind for a in after.attachments) == ["KK", "KTP"]
    assert await accepted_updates(handle) == 1
    await handle.terminate()
