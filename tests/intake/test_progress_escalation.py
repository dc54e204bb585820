"""RecordProgress with a step's deadline, its escalation and how it was decided: stored in the
resident's view and timeline, and carried (deadline and escalation only) in the public event.
Cancelled and expired are statuses intake accepts from the workflow."""

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc

from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
)
from common.events import CloudEvent, deterministic_event_id, public_subject
from tests.intake import samples
from tests.intake.conftest import NIK_ANI, PAMANUKAN, Intake


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


async def _event_data(intake: Intake, name: str, event_id: str) -> dict[str, object]:
    headers, body = await intake.published(public_subject(PAMANUKAN, name), event_id)
    return CloudEvent.from_message(headers, body).data


async def _application(intake: Intake) -> tuple[dict[str, str], str]:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    for kind in ("KTP", "KK"):
        r = await intake.upload(headers, application_id, kind, samples.pdf())
        assert r.status_code == 201, r.text
    return headers, application_id


async def test_deadline_and_escalation_reach_the_view_timeline_and_event(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers, application_id = await _application(intake)
    deadline = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    second = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=1,
            event=APPLICATION_STEP_ASSIGNED,
            status="in_review",
            current_step=intake_pb2.StepRef(index=0, role="kasi_pemerintahan"),
            occurred_at=_ts(datetime(2026, 11, 30, 1, 0, tzinfo=UTC)),
            deadline=_ts(deadline),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["deadline"] == "2026-12-01T09:00:00Z"
    assert got["current_step"]["deadline"] == "2026-12-01T09:00:00Z"
    assert got["status_reason"] == ""

    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=2,
            event=APPLICATION_ESCALATED,
            status="in_review",
            current_step=intake_pb2.StepRef(index=0, role="kasi_pemerintahan"),
            occurred_at=_ts(deadline),
            deadline=_ts(second),
            escalated_to_role="sekdes",
            escalation_level=1,
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["deadline"] == "2026-12-02T09:00:00Z"
    # Still the same step, assigned when it was assigned.
    assert got["current_step"]["assigned_at"] == "2026-11-30T01:00:00Z"
    escalated = got["timeline"][-1]
    assert (escalated["event"], escalated["escalated_to_role"], escalated["escalation_level"]) == (
        APPLICATION_ESCALATED,
        "sekdes",
        1,
    )
    assert escalated["deadline"] == "2026-12-02T09:00:00Z"
    data = await _event_data(
        intake, APPLICATION_ESCALATED, deterministic_event_id(application_id, "progress", "2")
    )
    assert data["deadline"] == "2026-12-02T09:00:00Z"
    assert (data["escalated_to_role"], data["escalation_level"]) == ("sekdes", 1)
    assert NIK_ANI not in str(data)

    # A reminder that names no deadline keeps the known one.
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=20,
            event="application.reminded",
            status="in_review",
            current_step=intake_pb2.StepRef(index=0, role="kasi_pemerintahan"),
            occurred_at=_ts(deadline),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["deadline"] == "2026-12-02T09:00:00Z"

    # The Sekdes decides the escalated step: recorded as decided by the supervisor.
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=3,
            event=APPLICATION_REVISION_REQUESTED,
            status="revision_requested",
            actor_role="sekdes",
            decision="revise",
            reason="Foto KTP buram",
            decided_as="supervisor",
            occurred_at=_ts(second),
            deadline=_ts(datetime(2026, 12, 16, 9, 0, tzinfo=UTC)),  # resubmit by
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "revision_requested"
    assert got["status_reason"] == "Foto KTP buram"
    assert got["current_step"] is None
    assert got["deadline"] == "2026-12-16T09:00:00Z"
    assert got["timeline"][-1]["decided_as"] == "supervisor"

    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=4,
            event=APPLICATION_EXPIRED,
            status="expired",
            occurred_at=_ts(datetime(2026, 12, 16, 9, 0, tzinfo=UTC)),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert (got["status"], got["deadline"], got["status_reason"]) == ("expired", None, "")
    data = await _event_data(
        intake, APPLICATION_EXPIRED, deterministic_event_id(application_id, "progress", "4")
    )
    assert data["status"] == "expired"
    assert "deadline" not in data
    # Ended: nothing can be changed any more.
    r = await intake.http.patch(
        f"/api/v1/applications/{application_id}", json={"purpose": "x"}, headers=headers
    )
    assert r.status_code == 409


async def test_a_cancellation_names_the_step_that_was_open(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    """The workflow closes the step before it reports the cancellation; the event still names
    the role whose task went away, so the notification service can tell its holders."""
    headers, application_id = await _application(intake)
    for sequence, event, status, step in (
        (1, APPLICATION_STEP_ASSIGNED, "in_review", intake_pb2.StepRef(index=1, role="sekdes")),
        (2, APPLICATION_CANCELLED, "cancelled", None),
    ):
        await stub.RecordProgress(
            intake_pb2.RecordProgressRequest(
                application_id=application_id,
                sequence=sequence,
                event=event,
                status=status,
                current_step=step,
                occurred_at=_ts(datetime(2026, 11, 30, 1, sequence, tzinfo=UTC)),
            )
        )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert (got["status"], got["current_step"]) == ("cancelled", None)
    assert got["timeline"][-1]["step"] is None
    data = await _event_data(
        intake, APPLICATION_CANCELLED, deterministic_event_id(application_id, "progress", "2")
    )
    assert (data["status"], data["step_index"], data["step_role"]) == ("cancelled", 1, "sekdes")


async def test_unknown_decided_as_or_escalation_level_is_invalid(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    _, application_id = await _application(intake)
    for extra in ({"decided_as": "boss"}, {"escalation_level": 3}):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.RecordProgress(
                intake_pb2.RecordProgressRequest(
                    application_id=application_id,
                    sequence=1,
                    event=APPLICATION_STEP_ASSIGNED,
                    status="in_review",
                    **extra,
                )
            )
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_signing_blocked_shows_a_plain_status_to_the_resident_and_the_reason_to_staff(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers, application_id = await _application(intake)
    reason = "Sertifikat penandatangan Kepala Desa belum dipasang."
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=7,
            event=APPLICATION_SIGNING_BLOCKED,
            status="signing_blocked",
            current_step=intake_pb2.StepRef(index=3, role="kades"),
            reason=reason,
            occurred_at=_ts(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["status"] == "signing_blocked"
    plain = "Surat sedang menunggu tanda tangan elektronik; petugas sudah diberi tahu."
    assert got["status_reason"] == plain
    assert (got["timeline"][-1]["event"], got["timeline"][-1]["reason"]) == (
        APPLICATION_SIGNING_BLOCKED,
        plain,
    )
    assert reason not in str(got)
    # Staff (verification, over gRPC) read signing's own reason.
    application = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=application_id)
    )
    assert (application.status, application.status_reason) == ("signing_blocked", reason)
    # The public event names the signer role that must act, never the reason.
    data = await _event_data(
        intake, APPLICATION_SIGNING_BLOCKED, deterministic_event_id(application_id, "progress", "7")
    )
    assert (data["status"], data["step_role"], data["step_index"]) == (
        "signing_blocked",
        "kades",
        3,
    )
    assert reason not in str(data) and NIK_ANI not in str(data)
    # The resident cannot cancel an approved letter.
    r = await intake.http.post(f"/api/v1/applications/{application_id}/cancel", headers=headers)
    assert r.status_code == 409

    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=8,
            event="letter.issued",
            status="issued",
            letter=intake_pb2.LetterRef(letter_id="l-1", number="470/1/32.13.11.2004/XII/2026"),
            occurred_at=_ts(datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),
        )
    )
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert (got["status"], got["status_reason"], got["current_step"]) == ("issued", "", None)
