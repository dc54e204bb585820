"""Optional syarat ("Tidak wajib") are uploaded like the required ones, never required; "bawa
berkas asli ke kantor" syarat are an instruction, never uploaded (issue 16; docs/uploads.md).

Each way a file arrives: the API's one-shot upload, the portal's plain form (no script), the
resumable upload the portal's script uses (unggah.js), a walk-in's scans and a revision's
replacement; each with the same content checks. SKD's version 2 here adds one syarat of each
kind to the seed's KTP and KK."""

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from smartdesa.v1 import catalogue_pb2, intake_pb2, intake_pb2_grpc

from common.auth import InternalAuth
from common.domain.events import APPLICATION_REVISION_REQUESTED
from common.rpc import INTAKE, MAX_SCANS_PER_MESSAGE, VERIFICATION, client_channel
from common.web import csrf_token_for
from services.verification.request_view import attachment_label
from tests.intake import samples
from tests.intake.conftest import Intake, problem
from tests.intake.test_catalogue_versions import _publish
from tests.intake.test_resumable_uploads import _open, _send_all
from tests.intake.test_revision_edits import _record
from tests.intake.test_walk_in import _field, _request
from tests.support.catalogue import SEED, CatalogueServer

OPTIONAL = "FOTO_RUMAH"
BROUGHT = "AKTA_ASLI"


def _skd_with_other_syarat() -> str:
    data: dict[str, Any] = json.loads(SEED["SKD"].to_json())
    data["syarat"] += [
        {"code": OPTIONAL, "name": "Foto rumah", "description": "", "kind": "opsional"},
        {"code": BROUGHT, "name": "Akta kelahiran asli", "description": "", "kind": "bawa_asli"},
    ]
    return json.dumps(data)


@pytest.fixture
async def walk_in_stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    """IntakeService as verification's walk-in form calls it."""
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


@pytest.fixture
async def skd_v2(intake: Intake, catalogue: CatalogueServer) -> None:
    assert await _publish(catalogue, intake.runtime.settings, _skd_with_other_syarat()) == 2
    intake.runtime.catalogue.forget_current()


async def _kinds(intake: Intake, headers: dict[str, str], application_id: str) -> list[str]:
    shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    return sorted(a["kind"] for a in shown.json()["attachments"])


@pytest.mark.usefixtures("skd_v2")
async def test_the_api_takes_an_optional_syarat_never_requires_it_and_refuses_others(
    intake: Intake,
) -> None:
    headers = await intake.sign_in()
    listed = await intake.http.get("/api/v1/letter-types", headers=headers)
    skd = next(t for t in listed.json() if t["code"] == "SKD")
    assert [r["code"] for r in skd["requirements"]] == ["KTP", "KK"]
    assert [(r["code"], r["kind_label"]) for r in skd["syarat"]][2:] == [
        (OPTIONAL, "Tidak wajib"),
        (BROUGHT, "Bawa berkas asli ke kantor desa"),
    ]
    application_id = await intake.create_application(headers)

    sent = await intake.upload(headers, application_id, OPTIONAL.lower(), samples.JPEG)
    assert sent.status_code == 201, sent.text
    assert sent.json()["kind"] == OPTIONAL
    # The same content checks as a required one.
    bad = await intake.upload(headers, application_id, OPTIONAL, b"bukan gambar sama sekali")
    assert bad.status_code == 415, bad.text
    # The original is brought to the office: an instruction, not an upload.
    brought = await intake.upload(headers, application_id, BROUGHT, samples.JPEG)
    assert brought.status_code == 422
    assert problem(brought)["type"].endswith("bring-original")
    assert problem(brought)["detail"] == (
        "Akta kelahiran asli tidak diunggah: bawa berkas aslinya ke kantor desa."
    )
    # A syarat the type does not have.
    unknown = await intake.upload(headers, application_id, "SURAT_NIKAH", samples.JPEG)
    assert unknown.status_code == 422
    assert problem(unknown)["detail"] == (
        f"Jenis berkas harus salah satu dari: KTP, KK, {OPTIONAL}."
    )
    assert await _kinds(intake, headers, application_id) == [OPTIONAL]

    # Submission asks only for the required ones.
    early = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert early.status_code == 422
    missing = problem(early)["detail"]
    assert "KTP" in missing and "KK" in missing and "Foto rumah" not in missing
    other = await intake.create_application(headers)  # without the optional one
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf())):
        assert (await intake.upload(headers, other, kind, content)).status_code == 201
    submitted = await intake.http.post(f"/api/v1/applications/{other}/submit", headers=headers)
    assert submitted.status_code == 202, submitted.text


@pytest.mark.usefixtures("skd_v2")
async def test_the_portal_page_uploads_it_without_script_and_shows_the_original_to_bring(
    intake: Intake,
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    token = headers["Authorization"].removeprefix("Bearer ")
    csrf = csrf_token_for(token, intake.runtime.token_issuer.csrf_secret)
    intake.http.cookies.set("sd_warga", token)
    try:
        page = await intake.http.get(f"/permohonan/{application_id}")
        assert page.status_code == 200, page.text
        html = page.text
        # An upload form of its own, labelled; the original to bring has none.
        assert f'action="/permohonan/{application_id}/berkas?kind={OPTIONAL}"' in html
        assert 'data-jenis="FOTO_RUMAH"' in html  # what unggah.js takes over
        assert "Belum diunggah (tidak wajib)" in html and "Tidak wajib" in html
        assert "Dibawa ke kantor desa" in html and "Akta kelahiran asli" in html
        assert f"kind={BROUGHT}" not in html and f"berkas-{BROUGHT}" not in html

        sent = await intake.http.post(
            f"/permohonan/{application_id}/berkas?kind={OPTIONAL}",
            data={"kind": OPTIONAL, "csrf_token": csrf},
            files={"file": ("rumah.jpg", samples.JPEG, "image/jpeg")},
        )
        assert sent.status_code == 303, sent.text
        refused = await intake.http.post(
            f"/permohonan/{application_id}/berkas?kind={BROUGHT}",
            data={"kind": BROUGHT, "csrf_token": csrf},
            files={"file": ("akta.jpg", samples.JPEG, "image/jpeg")},
            follow_redirects=True,
        )
        assert "bawa berkas aslinya ke kantor desa" in refused.text
        page = await intake.http.get(f"/permohonan/{application_id}")
        assert "Belum diunggah (tidak wajib)" not in page.text
    finally:
        intake.http.cookies.clear()
    assert await _kinds(intake, headers, application_id) == [OPTIONAL]


@pytest.mark.usefixtures("skd_v2")
async def test_the_resumable_upload_of_the_script_takes_it_too(intake: Intake) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    content = samples.pdf()
    opened = await _open(intake, headers, application_id, kind=OPTIONAL, size=len(content))
    assert opened.status_code == 201, opened.text
    done = await _send_all(intake, headers, opened.json()["id"], content)
    assert done.json()["attachment"]["kind"] == OPTIONAL
    for kind in (BROUGHT, "SURAT_NIKAH"):
        refused = await _open(intake, headers, application_id, kind=kind, size=len(content))
        assert refused.status_code == 422, refused.text
    assert await _kinds(intake, headers, application_id) == [OPTIONAL]


@pytest.mark.usefixtures("skd_v2")
async def test_a_revision_replaces_it(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf()), (OPTIONAL, samples.JPEG)):
        assert (await intake.upload(headers, application_id, kind, content)).status_code == 201
    submitted = await intake.http.post(
        f"/api/v1/applications/{application_id}/submit", headers=headers
    )
    assert submitted.status_code == 202, submitted.text
    locked = await intake.upload(headers, application_id, OPTIONAL, samples.pdf())
    assert locked.status_code == 409  # in review: nobody changes it
    await _record(
        stub,
        application_id,
        1,
        APPLICATION_REVISION_REQUESTED,
        "revision_requested",
        actor_role="kasi_pemerintahan",
        decision="revise",
        reason="Foto rumah kurang jelas",
    )
    replaced = await intake.upload(headers, application_id, OPTIONAL, samples.pdf())
    assert replaced.status_code == 201, replaced.text
    shown = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    (photo,) = [a for a in shown.json()["attachments"] if a["kind"] == OPTIONAL]
    assert photo["content_type"] == "application/pdf"


@pytest.mark.usefixtures("skd_v2")
async def test_a_walk_in_may_bring_its_scan_within_the_scan_limit(
    intake: Intake, walk_in_stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    catalogue = await walk_in_stub.ListLetterTypes(intake_pb2.ListLetterTypesRequest())
    skd = next(t for t in catalogue.letter_types if t.code == "SKD")
    assert [r.code for r in skd.requirements] == ["KTP", "KK"]
    assert [r.code for r in skd.optional_syarat] == [OPTIONAL]  # the original is not scanned
    # ...but named, for the WhatsApp chat's confirmation.
    assert [(r.code, r.name) for r in skd.bring_originals] == [(BROUGHT, "Akta kelahiran asli")]

    required = [
        intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
        intake_pb2.WalkInAttachment(kind="KK", content=samples.pdf()),
    ]
    filed = await walk_in_stub.FileWalkIn(
        _request(
            attachments=[
                *required,
                intake_pb2.WalkInAttachment(kind=OPTIONAL, content=samples.JPEG),
            ]
        )
    )
    assert filed.created
    kept = await walk_in_stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert sorted(a.kind for a in kept.attachments) == sorted(["KTP", "KK", OPTIONAL])

    with pytest.raises(grpc.aio.AioRpcError) as brought:
        await walk_in_stub.FileWalkIn(
            _request(
                attachments=[
                    *required,
                    intake_pb2.WalkInAttachment(kind=BROUGHT, content=samples.JPEG),
                ]
            )
        )
    assert brought.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bawa berkas aslinya ke kantor desa" in (brought.value.details() or "")
    too_many = [*required, *(intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),) * 4]
    assert len(too_many) > MAX_SCANS_PER_MESSAGE
    with pytest.raises(grpc.aio.AioRpcError) as crowded:
        await walk_in_stub.FileWalkIn(_request(attachments=too_many))
    assert crowded.value.details() == (
        f"Paling banyak {MAX_SCANS_PER_MESSAGE} berkas pindaian per permohonan."
    )
    assert _field(crowded.value) == "attachments"


def test_staff_see_an_optional_syarat_named_as_optional() -> None:
    """The task page's attachment labels (verification's request_view), from the application's
    version of the type."""
    version = catalogue_pb2.LetterTypeDefinition(
        code="SKD",
        syarat=[
            catalogue_pb2.CatalogueSyarat(code="KTP", name="KTP pemohon", kind="wajib"),
            catalogue_pb2.CatalogueSyarat(code=OPTIONAL, name="Foto rumah", kind="opsional"),
        ],
    )
    assert attachment_label(OPTIONAL, version) == "Foto rumah (tidak wajib)"
    assert attachment_label("KTP", version) == "KTP pemohon"
