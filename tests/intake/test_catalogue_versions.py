"""Intake reads the one catalogue (signing's CatalogueService, served here by its real servicer
on the test's own copy of the seeded catalogue): an application keeps the version it started
with when a newer one is published, a new application takes the new one, the list of current
versions is cached only briefly, applications from before versions were recorded are pinned
at start, and without the catalogue intake answers 503 in Indonesian and writes nothing.

Signing rendering an application's letter from the version it keeps, whatever is current:
tests/signing/test_catalogue_service.py::test_an_application_in_progress_keeps_its_version."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc, intake_pb2, intake_pb2_grpc
from sqlmodel import func, select

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, client_channel
from services.intake.catalogue import Catalogue, pin_unpinned
from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.models import LetterApplication
from tests.intake import samples
from tests.intake.conftest import PAMANUKAN, SKD_FIELDS, Intake, problem
from tests.support.catalogue import SEED, CatalogueServer
from tests.support.processes import free_port
from workflows.approval.issuing import issue_letter_request
from workflows.approval.models import IssueLetterInput

# Version 2 of SKD asks for one more field, required, and words its letter differently.
NEW_FIELD = "lama_tinggal"


def _skd_v2() -> str:
    data: dict[str, Any] = json.loads(SEED["SKD"].to_json())
    data["fields"].append(
        {"name": NEW_FIELD, "label": "Lama tinggal di desa", "source": "resident", "required": True}
    )
    return json.dumps(data)


async def _publish(catalogue: CatalogueServer, settings: Settings, definition: str) -> int:
    auth = InternalAuth.from_settings(settings, INTAKE)
    async with client_channel(catalogue.target, auth, SIGNING) as channel:
        published = await catalogue_pb2_grpc.CatalogueServiceStub(channel).PublishLetterType(
            catalogue_pb2.PublishLetterTypeRequest(
                definition_json=definition, published_by="kab.operator"
            )
        )
    version: int = published.letter_type.version
    return version


async def _application(intake: Intake, application_id: str) -> intake_pb2.Application:
    """The application as the approval workflow's activity reads it (IntakeService)."""
    auth = InternalAuth.from_settings(intake.runtime.settings, "worker")
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        found: intake_pb2.Application = await intake_pb2_grpc.IntakeServiceStub(
            channel
        ).GetApplication(intake_pb2.GetApplicationRequest(application_id=application_id))
    return found


async def test_an_application_keeps_its_version_and_a_new_one_takes_the_newer(
    intake: Intake, catalogue: CatalogueServer
) -> None:
    headers = await intake.sign_in()
    started = await intake.create_application(headers)
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf())):
        assert (await intake.upload(headers, started, kind, content)).status_code == 201

    assert await _publish(catalogue, intake.runtime.settings, _skd_v2()) == 2
    intake.runtime.catalogue.forget_current()  # as if the short cache had run out

    # The application in progress keeps version 1: its form has no new field to fill, and
    # it is submitted (and changed) on version 1's terms.
    changed = await intake.http.patch(
        f"/api/v1/applications/{started}", json={"fields": {"pekerjaan": "Guru"}}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["letter_type_version"] == "SKD-v1"
    submitted = await intake.http.post(f"/api/v1/applications/{started}/submit", headers=headers)
    assert submitted.status_code == 202, submitted.text

    # A new application takes version 2 and is asked for its new field.
    body = {"desa_code": PAMANUKAN, "letter_type": "SKD", "purpose": "Melamar kerja"}
    refused = await intake.http.post(
        "/api/v1/applications", json={**body, "fields": SKD_FIELDS}, headers=headers
    )
    assert refused.status_code == 422
    assert problem(refused)["detail"] == "Lama tinggal di desa wajib diisi."
    listed = await intake.http.get("/api/v1/letter-types")
    skd = next(t for t in listed.json() if t["code"] == "SKD")
    assert NEW_FIELD in [f["name"] for f in skd["fields"]]
    newer = await intake.create_application(headers, fields={**SKD_FIELDS, NEW_FIELD: "5 tahun"})

    # What the workflow sends signing to render: each application's own version.
    first, second = await _application(intake, started), await _application(intake, newer)
    assert (first.letter_type_version, second.letter_type_version) == ("SKD-v1", "SKD-v2")
    signer = IssueLetterInput(application_id=started, signer_role="kades")
    assert issue_letter_request(first, signer).letter_type_version == "SKD-v1"
    assert issue_letter_request(second, signer).letter_type_version == "SKD-v2"


async def _reword(catalogue: CatalogueServer, settings: Settings, words: str) -> int:
    """Pamanukan's own wording of SKD's opening paragraph; its wording version."""
    body = json.loads(SEED["SKD"].to_json())["body"]
    body[1]["text"] = f"{body[1]['text']} {words}"
    auth = InternalAuth.from_settings(settings, INTAKE)
    async with client_channel(catalogue.target, auth, SIGNING) as channel:
        published = await catalogue_pb2_grpc.CatalogueServiceStub(channel).PublishDesaOverride(
            catalogue_pb2.PublishDesaOverrideRequest(
                key=catalogue_pb2.LetterTypeDraftKey(code="SKD", desa_code=PAMANUKAN),
                body_json=json.dumps({"body": body}),
                published_by="sekdes.pamanukan",
            )
        )
    version: int = published.version
    return version


async def test_an_application_keeps_the_desa_wording_it_started_with(
    intake: Intake, catalogue: CatalogueServer
) -> None:
    headers = await intake.sign_in()
    plain = await intake.create_application(headers)  # the desa has no wording of its own yet
    assert await _reword(catalogue, intake.runtime.settings, "Kata desa pertama.") == 1
    first = await intake.create_application(headers)
    assert await _reword(catalogue, intake.runtime.settings, "Kata desa kedua.") == 2
    # Each keeps what was the desa's when it started; its form is the type's version's.
    changed = await intake.http.patch(
        f"/api/v1/applications/{first}", json={"fields": {"pekerjaan": "Guru"}}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["letter_type_version"] == f"SKD-v1-desa-{PAMANUKAN}-1"
    kept = [(await _application(intake, a)).letter_type_version for a in (plain, first)]
    assert kept == ["SKD-v1", f"SKD-v1-desa-{PAMANUKAN}-1"]
    newer = await intake.create_application(headers)
    assert (await _application(intake, newer)).letter_type_version == (f"SKD-v1-desa-{PAMANUKAN}-2")
    # What the workflow sends signing, which words the letter so
    # (tests/signing/test_catalogue_editor.py::test_an_application_keeps_the_desa_wording_it_started_with).
    signer = IssueLetterInput(application_id=first, signer_role="kades")
    request = issue_letter_request(await _application(intake, first), signer)
    assert request.letter_type_version == f"SKD-v1-desa-{PAMANUKAN}-1"


async def test_the_current_list_is_cached_briefly_and_versions_for_good(
    intake: Intake, catalogue: CatalogueServer
) -> None:
    now = [0.0]
    auth = InternalAuth.from_settings(intake.runtime.settings, INTAKE)
    async with client_channel(catalogue.target, auth, SIGNING) as channel:
        reader = Catalogue(
            catalogue_pb2_grpc.CatalogueServiceStub(channel), ttl_seconds=30, clock=lambda: now[0]
        )
        before = await reader.find("SKD")
        assert before is not None and before.template_version == "SKD-v1"
        await _publish(catalogue, intake.runtime.settings, _skd_v2())
        now[0] = 29.0
        assert await reader.find("SKD") is before  # within the TTL: the list read before
        now[0] = 30.0
        after = await reader.find("SKD")
        assert after is not None and after.template_version == "SKD-v2"
        # A version is immutable: the one read before is the one kept.
        assert await reader.version("SKD-v1") is before
        assert await reader.version("SKD-v9") is None


async def test_applications_from_before_are_pinned_to_the_version_current_at_start(
    intake: Intake,
) -> None:
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers)
    async with intake.runtime.sessions() as session:
        row = await session.get(LetterApplication, application_id)
        assert row is not None
        row.letter_type_version, row.letter_type_name = "", ""  # as migration 0014 leaves it
        session.add(row)
        await session.commit()
    assert await pin_unpinned(intake.runtime.sessions, intake.runtime.catalogue) == 1
    assert await pin_unpinned(intake.runtime.sessions, intake.runtime.catalogue) == 0
    async with intake.runtime.sessions() as session:
        row = await session.get(LetterApplication, application_id)
        assert row is not None
        assert (row.letter_type_version, row.letter_type_name) == (
            "SKD-v1",
            "Surat Keterangan Domisili",
        )


@pytest.fixture
async def without_catalogue(settings: Settings) -> AsyncIterator[Intake]:
    """Intake whose signing does not answer (nothing listens where it asks)."""
    app = create_app(
        settings.model_copy(update={"catalogue_grpc_target": f"127.0.0.1:{free_port()}"})
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


async def test_without_the_catalogue_intake_says_so_and_writes_nothing(
    without_catalogue: Intake,
) -> None:
    intake = without_catalogue
    listed = await intake.http.get("/api/v1/letter-types")
    assert listed.status_code == 503
    body = problem(listed)
    assert body["type"].endswith("catalogue-unavailable")
    assert "tidak dapat dihubungi" in body["detail"] and "coba lagi" in body["detail"]

    headers = await intake.sign_in()
    created = await intake.http.post(
        "/api/v1/applications",
        json={
            "desa_code": PAMANUKAN,
            "letter_type": "SKD",
            "purpose": "Melamar kerja",
            "fields": SKD_FIELDS,
        },
        headers=headers,
    )
    assert created.status_code == 503
    assert problem(created)["detail"] == body["detail"]
    async with intake.runtime.sessions() as session:
        count = (await session.exec(select(func.count()).select_from(LetterApplication))).one()
    assert count == 0

    page = await intake.http.get("/permohonan/baru", headers=headers)
    assert page.status_code == 503
    assert "tidak dapat dihubungi" in page.text
