"""Issue 16, "How we will know" #1: a kabupaten operator adds a new letter type in the staff
client (its fields, syarat, route and template), publishes it, and a resident requests it
through intake right after, without a developer; the letter is issued from the version the
application keeps. In-process: verification (the staff client), a real signing service (its
CatalogueService, renderer and issuer) and intake, each on its own gRPC server.

Intake has read (and cached) the catalogue's list before the type is published: the new type is
requestable at once all the same, because a code the cached list lacks re-reads it
(services/intake/catalogue.py), and verification's offer and route know it the same way."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as create_intake
from services.signing.issuing import IssueRequest
from services.signing.runtime import Runtime as SigningRuntime
from tests.intake.conftest import NIK_ANI, Intake, Register, register_ani
from tests.signing.pdf_text import page_texts, squeeze
from tests.support.processes import free_port
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_admin_pages import _signed_in
from tests.verification.test_catalogue_editor import _post, _token
from tests.verification.test_desa_profile_api import settings as settings  # noqa: F401
from tests.verification.test_desa_profile_api import signing as signing  # noqa: F401

CODE = "SKTERNAK"
PURPOSE = "Persyaratan bantuan ternak"
PATH = f"/kabupaten/katalog/{CODE}"


@pytest.fixture
async def intake(
    service: Service,
    signing: SigningRuntime,
    data_dir: Path,
    nats_url: str,
    temporal_env: WorkflowEnvironment,
) -> AsyncIterator[Intake]:
    """Intake reading the catalogue from signing and the register, offers and routes from
    verification, as deployed."""
    settings = IntakeSettings(
        data_dir=data_dir,
        nats_url=nats_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_namespace=temporal_env.client.namespace,
        temporal_task_queue=f"intake-test-{uuid.uuid4().hex[:8]}",  # no worker: it waits
        signing_grpc_target=f"127.0.0.1:{signing.grpc_server.port}",
        catalogue_grpc_target=f"127.0.0.1:{signing.grpc_server.port}",
        verification_grpc_target=f"127.0.0.1:{service.runtime.grpc_server.port}",
        notification_grpc_target=f"127.0.0.1:{free_port()}",
        intake_grpc_port=0,
    )
    app = create_intake(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


async def test_a_new_type_published_in_the_staff_client_is_requested_and_issued(
    service: Service, signing: SigningRuntime, intake: Intake
) -> None:
    await register_ani(Register(service.runtime.sessions, service.runtime.grpc_server))
    headers = await intake.sign_in()
    # Intake and verification have read the catalogue (and cache it) before the type exists.
    before = await intake.http.get("/api/v1/letter-types", headers=headers)
    assert before.status_code == 200 and CODE not in [t["code"] for t in before.json()]

    async with _signed_in(service, "diskominfo.subang") as kabupaten:
        listed = await kabupaten.get("/kabupaten/katalog")
        made = await kabupaten.post("/kabupaten/katalog", data={"kode": CODE, **_token(listed)})
        assert made.headers["location"] == PATH
        first = {
            "nama": "Surat Keterangan Kepemilikan Ternak",
            "deskripsi": "Menerangkan ternak yang dimiliki pemohon.",
            "kode_klasifikasi": "500.2.2",
            "dasar_kode": "Permendagri 83/2022: 500.2.2",
            "perihal": "Keterangan kepemilikan ternak",
            "daring": "1",
            "isian-1-nama": "jenis_ternak",
            "isian-1-label": "Jenis ternak",
            "isian-1-petunjuk": "Misalnya sapi atau domba.",
            "isian-1-sumber": "resident",
            "isian-1-wajib": "1",
            "syarat-0-kode": "KTP",
            "syarat-0-nama": "KTP pemohon",
            "syarat-0-jenis": "wajib",
            "langkah-0-peran": "kasi_pemerintahan",
            "langkah-0-jam": "8",
            "blok-0-teks": "SURAT KETERANGAN KEPEMILIKAN TERNAK",
            "blok-1-teks": "Kepala Desa {desa.nama} menerangkan bahwa pemohon memelihara ternak:",
            "blok-2-baris-1-label": "Jenis ternak",
            "blok-2-baris-1-nilai": "{jenis_ternak}",
        }
        assert "Draf tersimpan." in (await _post(kabupaten, PATH, first)).text
        second = {
            "isian-2-nama": "jumlah_ternak",
            "isian-2-label": "Jumlah ternak",
            "isian-2-sumber": "resident",
            "isian-2-jenis": "digits",
            "isian-2-wajib": "1",
            "syarat-1-kode": "FOTO_TERNAK",
            "syarat-1-nama": "Foto ternak",
            "syarat-1-jenis": "opsional",
            "blok-2-baris-2-label": "Jumlah",
            "blok-2-baris-2-nilai": "{jumlah_ternak} ekor",
        }
        assert "Draf tersimpan." in (await _post(kabupaten, PATH, second)).text
        third = {
            "syarat-2-kode": "SURAT_VAKSIN",
            "syarat-2-nama": "Kartu vaksin ternak",
            "syarat-2-jenis": "bawa_asli",
        }
        saved = await _post(kabupaten, PATH, third)
        assert "Belum dapat diterbitkan" not in saved.text, saved.text
        published = await _post(kabupaten, PATH, {}, aksi="terbitkan")
        assert published.headers["location"] == f"{PATH}?terbit=1", published.text

    # Right after, the resident asks for it by its code (the portal's link to the type's
    # form, or the API): intake's cached list lacks it, so intake reads the list again.
    form = await intake.http.get(f"/permohonan/baru/{CODE}", headers=headers)
    assert form.status_code == 200, form.text
    assert "Jenis ternak" in form.text and "Misalnya sapi atau domba." in form.text
    body = {
        "desa_code": PAMANUKAN,
        "letter_type": CODE,
        "purpose": PURPOSE,
        "fields": {"nama": "Ani Suryani", "jenis_ternak": "Domba Garut", "jumlah_ternak": "12"},
    }
    refused = await intake.http.post(
        "/api/v1/applications", json={**body, "fields": {"nama": "Ani Suryani"}}, headers=headers
    )
    assert refused.status_code == 422, refused.text  # the type's own checks, from the catalogue
    created = await intake.http.post("/api/v1/applications", json=body, headers=headers)
    assert created.status_code == 201, created.text
    application = created.json()
    assert application["letter_type_version"] == f"{CODE}-v1"
    # Since re-read, the list offers it too, with its fields and every syarat.
    listed = await intake.http.get("/api/v1/letter-types", headers=headers)
    new = next(t for t in listed.json() if t["code"] == CODE)
    assert [f["name"] for f in new["fields"]] == ["nama", "jenis_ternak", "jumlah_ternak"]
    assert [(r["code"], r["kind"]) for r in new["syarat"]] == [
        ("KTP", "wajib"),
        ("FOTO_TERNAK", "opsional"),
        ("SURAT_VAKSIN", "bawa_asli"),
    ]
    # The application's page asks for the KTP and names the other two, labelled.
    page = await intake.http.get(f"/permohonan/{application['id']}", headers=headers)
    assert page.status_code == 200, page.text
    assert "Kartu vaksin ternak" in page.text and "Bawa berkas asli ke kantor desa" in page.text
    assert "Foto ternak" in page.text and "Tidak wajib" in page.text

    # Issued by signing from the version the application keeps, along the type's route.
    route = await service.runtime.catalogue.known(CODE)
    assert route is not None and route.route.steps[0].role == "kasi_pemerintahan"
    letter = await signing.issuer.issue(
        IssueRequest(
            application_id=application["id"],
            desa_code=PAMANUKAN,
            letter_type=CODE,
            purpose=PURPOSE,
            nik=NIK_ANI,
            signer_role="kades",
            fields=application["fields"],
            letter_type_version=application["letter_type_version"],
        )
    )
    assert letter.template_version == f"{CODE}-v1"
    text = squeeze(page_texts(await signing.issuer.read_pdf(letter))[0])
    for printed in ("SURAT KETERANGAN KEPEMILIKAN TERNAK", "Domba Garut", "12 ekor"):
        assert squeeze(printed) in text, printed
