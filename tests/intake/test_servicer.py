"""IntakeService over a real gRPC channel with internal tokens, and RecordProgress's outbox
event on the real NATS public stream."""

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import col, select

from common.auth import InternalAuth
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
)
from common.events import (
    CloudEvent,
    deterministic_event_id,
    event_type,
    public_subject,
)
from common.outbox import OutboxEvent
from common.rpc import INTAKE, VERIFICATION, WORKER, client_channel
from services.intake.attachments import attachment_path
from services.intake.models import LetterApplication, TimelineEntry
from services.intake.numbering import assign_number
from services.intake.resident_actions import letter_filename
from tests.intake import samples
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PAMANUKAN,
    PHONE_ANI,
    PHONE_BUDI,
    Intake,
    problem,
)


@pytest.fixture
async def stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


async def _application(intake: Intake) -> tuple[dict[str, str], str, str]:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    r = await intake.upload(headers, application_id, "KTP", samples.JPEG, "ktp.jpg", "image/jpeg")
    assert r.status_code == 201
    return headers, application_id, r.json()["id"]


async def test_get_application_carries_what_staff_review_needs(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    _, application_id, attachment_id = await _application(intake)
    app = await stub.GetApplication(intake_pb2.GetApplicationRequest(application_id=application_id))
    assert app.id == application_id
    assert app.desa_code == PAMANUKAN and app.letter_type == "SKD" and app.status == "draft"
    assert app.nik == NIK_ANI
    assert app.resident_id == await intake.resident_id(NIK_ANI)
    assert app.fields["nama"] == "Ani Suryani"
    assert [(a.id, a.kind, a.content_type) for a in app.attachments] == [
        (attachment_id, "KTP", "image/jpeg")
    ]
    assert app.HasField("created_at") and not app.HasField("submitted_at")

    content = await stub.GetAttachment(
        intake_pb2.GetAttachmentRequest(application_id=application_id, attachment_id=attachment_id)
    )
    stored = attachment_path(intake.runtime.settings.attachments_dir, application_id, attachment_id)
    assert content.content == stored.read_bytes()  # the clean copy, as stored
    assert content.info.sha256 == hashlib.sha256(content.content).hexdigest()


async def test_get_contact_by_resident_or_application(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    _, application_id, _ = await _application(intake)
    resident_id = await intake.resident_id(NIK_ANI)
    by_resident = await stub.GetContact(intake_pb2.GetContactRequest(resident_id=resident_id))
    by_application = await stub.GetContact(
        intake_pb2.GetContactRequest(application_id=application_id)
    )
    assert (by_resident.resident_id, by_resident.phone) == (
        by_application.resident_id,
        by_application.phone,
    )
    assert by_resident.resident_id == resident_id
    assert by_resident.phone == "62" + PHONE_ANI[1:]
    # Asked by application: what a message about it quotes (a draft has no number yet).
    assert (by_application.status, by_application.application_number) == ("draft", "")
    assert by_resident.status == ""


async def test_get_contact_quotes_the_residents_reason_but_not_signings(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    _, application_id, _ = await _application(intake)
    async with intake.runtime.sessions() as session:
        application = await session.get(LetterApplication, application_id)
        assert application is not None
        number = await assign_number(session, application, datetime(2026, 1, 1, tzinfo=UTC))
    ask = intake_pb2.GetContactRequest(application_id=application_id)
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=1,
            event=APPLICATION_REVISION_REQUESTED,
            status="revision_requested",
            reason="Foto KTP buram",
            occurred_at=_at(1),
        )
    )
    contact = await stub.GetContact(ask)
    assert (contact.application_number, contact.status, contact.status_reason) == (
        number,
        "revision_requested",
        "Foto KTP buram",
    )
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=2,
            event=APPLICATION_SIGNING_BLOCKED,
            status="signing_blocked",
            reason="Sertifikat Kepala Desa kedaluwarsa",
            occurred_at=_at(2),
        )
    )
    contact = await stub.GetContact(ask)
    assert (contact.status, contact.status_reason) == ("signing_blocked", "")


async def test_get_contact_of_a_pending_sign_in(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    new = await intake.request_code(NIK_ANI, PHONE_ANI)  # no resident yet
    contact = await stub.GetContact(intake_pb2.GetContactRequest(sign_in_id=new.data["sign_in_id"]))
    assert (contact.resident_id, contact.phone) == ("", "62" + PHONE_ANI[1:])

    await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": new.data["code"]}
    )
    again = await intake.request_code(NIK_ANI, PHONE_ANI)  # now Ani's, with her preferences
    contact = await stub.GetContact(
        intake_pb2.GetContactRequest(sign_in_id=again.data["sign_in_id"])
    )
    assert contact.resident_id == await intake.resident_id(NIK_ANI)

    # A used code, and one asked for Ani's NIK from another phone, go nowhere.
    elsewhere = await intake.request_code(NIK_ANI, PHONE_BUDI)
    for sign_in_id in (new.data["sign_in_id"], elsewhere.data["sign_in_id"]):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetContact(intake_pb2.GetContactRequest(sign_in_id=sign_in_id))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_errors_have_proper_codes(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    _, application_id, _ = await _application(intake)
    calls = [
        (stub.GetApplication(intake_pb2.GetApplicationRequest()), grpc.StatusCode.INVALID_ARGUMENT),
        (
            stub.GetApplication(intake_pb2.GetApplicationRequest(application_id="tidak-ada")),
            grpc.StatusCode.NOT_FOUND,
        ),
        (stub.GetContact(intake_pb2.GetContactRequest()), grpc.StatusCode.INVALID_ARGUMENT),
        (
            stub.GetContact(intake_pb2.GetContactRequest(resident_id="")),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.GetContact(intake_pb2.GetContactRequest(application_id="tidak-ada")),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.GetAttachment(intake_pb2.GetAttachmentRequest(application_id=application_id)),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.GetAttachment(
                intake_pb2.GetAttachmentRequest(
                    application_id=application_id, attachment_id="tidak-ada"
                )
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.RecordProgress(
                intake_pb2.RecordProgressRequest(
                    application_id="tidak-ada",
                    sequence=1,
                    event="application.decided",
                    status="in_review",
                )
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.RecordProgress(
                intake_pb2.RecordProgressRequest(
                    application_id=application_id, sequence=1, event="decided", status="in_review"
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.RecordProgress(
                intake_pb2.RecordProgressRequest(
                    application_id=application_id, sequence=1, event=APPLICATION_DECIDED, status="x"
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for call, code in calls:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await call
        assert exc.value.code() == code


async def test_calls_without_a_valid_internal_token_are_unauthenticated(intake: Intake) -> None:
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    wrong_audience = client_channel(
        target, InternalAuth.from_settings(intake.runtime.settings, WORKER), VERIFICATION
    )
    wrong_secret = client_channel(target, InternalAuth(b"bukan-rahasia-kita-" * 4, WORKER), INTAKE)
    for channel in (grpc.aio.insecure_channel(target), wrong_audience, wrong_secret):
        async with channel:
            stub = intake_pb2_grpc.IntakeServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.GetContact(intake_pb2.GetContactRequest(resident_id="x"))
            assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _at(hour: int) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime(2025, 6, 2, hour, 0, tzinfo=UTC))
    return ts


async def test_record_progress_applies_once_and_publishes_without_personal_data(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers, application_id, _ = await _application(intake)
    step_assigned = intake_pb2.RecordProgressRequest(
        application_id=application_id,
        sequence=1,
        event=APPLICATION_STEP_ASSIGNED,
        status="in_review",
        current_step=intake_pb2.StepRef(index=0, role="kasi_pemerintahan"),
        occurred_at=_at(1),
    )
    assert (await stub.RecordProgress(step_assigned)).applied is True
    assert (await stub.RecordProgress(step_assigned)).applied is False

    event_id = deterministic_event_id(application_id, "progress", "1")
    async with intake.runtime.sessions() as session:
        timeline = (
            await session.exec(
                select(TimelineEntry).where(TimelineEntry.application_id == application_id)
            )
        ).all()
        outbox = (
            await session.exec(
                select(OutboxEvent).where(col(OutboxEvent.ce_subject) == application_id)
            )
        ).all()
    assert [(t.sequence, t.event) for t in timeline] == [(1, APPLICATION_STEP_ASSIGNED)]
    assert [o.id for o in outbox] == [event_id]
    # Staff read the same timeline through GetApplication.
    app = await stub.GetApplication(intake_pb2.GetApplicationRequest(application_id=application_id))
    [entry] = app.timeline
    assert (entry.event, entry.status, entry.step_index, entry.step_role) == (
        APPLICATION_STEP_ASSIGNED,
        "in_review",
        0,
        "kasi_pemerintahan",
    )
    assert entry.HasField("step_index") and entry.at.ToDatetime(UTC) == _at(1).ToDatetime(UTC)

    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "in_review"
    assert got["current_step"] == {
        "index": 0,
        "role": "kasi_pemerintahan",
        "assigned_at": "2025-06-02T01:00:00Z",
        "deadline": None,
    }

    ce_headers, body = await intake.published(
        public_subject(PAMANUKAN, APPLICATION_STEP_ASSIGNED), event_id
    )
    assert ce_headers["ce-specversion"] == "1.0"
    assert ce_headers["ce-type"] == event_type(APPLICATION_STEP_ASSIGNED)
    assert ce_headers["ce-source"] == "/services/intake"
    assert ce_headers["ce-subject"] == application_id
    assert ce_headers["Nats-Msg-Id"] == event_id
    event = CloudEvent.from_message(ce_headers, body)
    assert event.data == {
        "application_id": application_id,
        "desa_code": PAMANUKAN,
        "kecamatan_code": "32.13.11",
        "kabupaten_code": "32.13",
        "letter_type": "SKD",
        "letter_type_name": "Surat Keterangan Domisili",
        "status": "in_review",
        "step_role": "kasi_pemerintahan",
    }
    everything = str(ce_headers) + body.decode()
    for personal in (NIK_ANI, PHONE_ANI[1:], "Ani Suryani"):
        assert personal not in everything


async def test_decisions_revision_and_letter_reach_the_resident(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers, application_id, _ = await _application(intake)
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=1,
            event=APPLICATION_STEP_ASSIGNED,
            status="in_review",
            current_step=intake_pb2.StepRef(index=0, role="kasi_pemerintahan"),
            occurred_at=_at(1),
        )
    )
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=2,
            event="application.revision_requested",
            status="revision_requested",
            actor_role="kasi_pemerintahan",
            decision="revise",
            reason="Foto KK tidak terbaca",
            occurred_at=_at(2),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "revision_requested"
    assert got["current_step"] is None
    assert got["timeline"][-1] == {
        "at": "2025-06-02T02:00:00Z",
        "event": "application.revision_requested",
        "status": "revision_requested",
        "step": None,
        "decision": "revise",
        "actor_role": "kasi_pemerintahan",
        "reason": "Foto KK tidak terbaca",
        "deadline": None,
        "escalated_to_role": "",
        "escalation_level": 0,
        "decided_as": "",
    }
    assert got["status_reason"] == "Foto KK tidak terbaca"
    # Back in the resident's hands: documents may change again, and the reason stays in intake.
    r = await intake.upload(headers, application_id, "KK", samples.pdf())
    assert r.status_code == 201
    ce_headers, body = await intake.published(
        public_subject(PAMANUKAN, "application.revision_requested"),
        deterministic_event_id(application_id, "progress", "2"),
    )
    assert b"Foto KK" not in body
    assert CloudEvent.from_message(ce_headers, body).data["decision"] == "revise"

    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=3,
            event=LETTER_ISSUED,
            status="issued",
            letter=intake_pb2.LetterRef(
                letter_id="surat-1",
                number="470/1/32.13.11.2004/VI/2025",
                verification_url="http://127.0.0.1:8002/verifikasi/abc",
            ),
            occurred_at=_at(3),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "issued"
    assert got["letter"] == {
        "number": "470/1/32.13.11.2004/VI/2025",
        "verification_url": "http://127.0.0.1:8002/verifikasi/abc",
    }
    ce_headers, body = await intake.published(
        public_subject(PAMANUKAN, LETTER_ISSUED),
        deterministic_event_id(application_id, "progress", "3"),
    )
    data = CloudEvent.from_message(ce_headers, body).data
    assert (data["letter_number"], data["letter_id"]) == ("470/1/32.13.11.2004/VI/2025", "surat-1")

    # Issued, but the signing service is not reachable in this test: 503, not a broken file.
    r = await intake.http.get(f"/api/v1/applications/{application_id}/letter.pdf", headers=headers)
    assert r.status_code == 503
    assert "tidak dapat dihubungi" in problem(r)["detail"]
    # And another resident still gets 404.
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    r = await intake.http.get(f"/api/v1/applications/{application_id}/letter.pdf", headers=budi)
    assert r.status_code == 404


def test_letter_filename_keeps_safe_characters_only() -> None:
    assert (
        letter_filename("470/12/32.13.11.2004/VI/2025", "x")
        == "surat-470-12-32.13.11.2004-VI-2025.pdf"
    )
    assert letter_filename('../"a b"\r\n', "x") == "surat-a-b.pdf"
    assert letter_filename("", "app-1") == "surat-app-1.pdf"
