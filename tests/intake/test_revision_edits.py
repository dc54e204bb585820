"""A resident changes fields and attachments only while they hold the application: as a draft,
or returned for revision until they resubmit. Resubmitting is refused clearly otherwise."""

from smartdesa.v1 import intake_pb2, intake_pb2_grpc

from common.domain.events import APPLICATION_REVISION_REQUESTED, APPLICATION_STEP_ASSIGNED
from tests.intake import samples
from tests.intake.conftest import NIK_BUDI, PHONE_BUDI, Intake, problem


async def _record(
    stub: intake_pb2_grpc.IntakeServiceStub,
    application_id: str,
    sequence: int,
    event: str,
    status: str,
    **extra: object,
) -> None:
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=sequence,
            event=event,
            status=status,
            **extra,  # type: ignore[arg-type]
        )
    )


async def test_fields_and_files_change_only_while_returned_for_revision(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    url = f"/api/v1/applications/{application_id}"
    # A draft may change.
    r = await intake.http.patch(url, json={"fields": {"pekerjaan": "Petani"}}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["pekerjaan"] == "Petani"
    assert r.json()["fields"]["nama"] == "Ani Suryani"  # the rest stays

    # In review (as the workflow records it): locked.
    await _record(
        stub,
        application_id,
        1,
        APPLICATION_STEP_ASSIGNED,
        "in_review",
        current_step=intake_pb2.StepRef(index=0, role="kasi_pemerintahan"),
    )
    r = await intake.http.patch(url, json={"purpose": "Lain"}, headers=headers)
    assert r.status_code == 409
    assert problem(r)["detail"] == (
        "Permohonan hanya dapat diubah sebelum diajukan atau saat diminta perbaikan."
    )
    r = await intake.upload(headers, application_id, "KTP", samples.pdf())
    assert r.status_code == 409
    r = await intake.http.post(f"{url}/resubmit", headers=headers)
    assert (r.status_code, problem(r)["detail"]) == (
        409,
        "Permohonan ini tidak sedang menunggu perbaikan.",
    )

    # Returned for revision: the resident sees why and may change both.
    await _record(
        stub,
        application_id,
        2,
        APPLICATION_REVISION_REQUESTED,
        "revision_requested",
        actor_role="kasi_pemerintahan",
        decision="revise",
        reason="Alamat tidak sesuai KK",
    )
    got = (await intake.http.get(url, headers=headers)).json()
    assert got["status_reason"] == "Alamat tidak sesuai KK"
    r = await intake.http.patch(
        url,
        json={"purpose": "  Melamar kerja  ", "fields": {"alamat": "Jl. Ekowisata No. 1"}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["purpose"], r.json()["fields"]["alamat"]) == (
        "Melamar kerja",
        "Jl. Ekowisata No. 1",
    )
    r = await intake.upload(headers, application_id, "KK", samples.pdf())
    assert r.status_code == 201

    # Invalid changes are refused and change nothing.
    for body, field in (
        ({"fields": {"nama": ""}}, "fields.nama"),
        ({"fields": {"hobi": "x"}}, "fields.hobi"),
        ({"purpose": "   "}, "purpose"),
    ):
        r = await intake.http.patch(url, json=body, headers=headers)
        assert r.status_code == 422, body
        assert problem(r)["field"] == field
    got = (await intake.http.get(url, headers=headers)).json()
    assert got["purpose"] == "Melamar kerja"
    assert got["fields"]["nama"] == "Ani Suryani"

    # Another resident cannot change it.
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    r = await intake.http.patch(url, json={"purpose": "Punya saya"}, headers=budi)
    assert r.status_code == 404
