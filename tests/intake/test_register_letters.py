"""Letters filled from the population register: verification's real PopulationService serves
the register (tests/intake/conftest.py `register`); intake reads a registered resident's identity
fields from it at creation and again at submission, and never lets a sent value override it."""

import httpx
import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import select

from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.models import LetterApplication
from services.verification.population.models import ResidentAccess
from services.verification.population.register import (
    correct_resident,
)
from tests.intake import samples
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PAMANUKAN,
    PHONE_BUDI,
    SKD_FIELDS,
    Intake,
    Register,
    register_ani,
)
from tests.intake.conftest import problem as problem_of
from tests.support.processes import free_port

RANCASARI = "32.13.11.2002"
SKU_BUSINESS = {
    "nama_usaha": "Warung Bu Ani",
    "jenis_usaha": "Warung sembako",
    "alamat_usaha": "Dusun Krajan RT 005 RW 002",
}
# What the register holds for Ani, as the letter writes it.
ANI_IN_LETTER = {
    "nama": "ANI SURYANI",
    "tempat_lahir": "SUBANG",
    "tanggal_lahir": "1990-08-17",
    "jenis_kelamin": "P",
    "agama": "ISLAM",
    "pekerjaan": "WIRASWASTA",
    "alamat": "KP. KRAJAN",
    "rt": "005",
    "rw": "002",
}


async def _create(intake: Intake, headers: dict[str, str], fields: dict[str, str]) -> str:
    return await intake.create_application(
        headers, letter_type="SKU", purpose="Pengajuan KUR", fields=fields
    )


async def _application(intake: Intake, application_id: str) -> LetterApplication:
    async with intake.runtime.sessions() as session:
        application = await session.get(LetterApplication, application_id)
        assert application is not None
        return application


async def test_a_registered_resident_sends_no_identity_fields(
    intake: Intake, register: Register
) -> None:
    await register_ani(register)
    headers = await intake.sign_in()
    application_id = await _create(intake, headers, SKU_BUSINESS)
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["fields"] == {**ANI_IN_LETTER, **SKU_BUSINESS}
    application = await _application(intake, application_id)
    assert application.register_version == 1
    assert set(application.register_fields.split(",")) == set(ANI_IN_LETTER)
    async with register.sessions() as session:
        reads = (await session.exec(select(ResidentAccess))).all()
    assert [(r.purpose, r.actor) for r in reads] == [
        ("pengajuan surat", f"intake:resident:{await intake.resident_id(NIK_ANI)}")
    ]


async def test_sent_values_never_override_the_register(intake: Intake, register: Register) -> None:
    await register_ani(register)
    headers = await intake.sign_in()
    application_id = await _create(
        intake, headers, {**SKU_BUSINESS, "nama": "Orang Lain", "rt": "009"}
    )
    r = await intake.http.patch(
        f"/api/v1/applications/{application_id}",
        json={"fields": {"nama": "Orang Lain Lagi", "nama_usaha": "Toko Ani"}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["fields"] == {**ANI_IN_LETTER, **SKU_BUSINESS, "nama_usaha": "Toko Ani"}


async def test_an_unregistered_resident_types_them(intake: Intake, register: Register) -> None:
    await register_ani(register)  # someone else: Budi is not in the register
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    # In no desa's register: an SKD (open to newcomers), with every field typed.
    r = await intake.http.post(
        "/api/v1/applications",
        json={"desa_code": PAMANUKAN, "letter_type": "SKD", "purpose": "Domisili", "fields": {}},
        headers=headers,
    )
    assert r.status_code == 422
    assert problem_of(r)["field"] == "fields.nama"
    application_id = await intake.create_application(headers)
    application = await _application(intake, application_id)
    assert application.register_version is None and application.register_fields == ""
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["fields"]["nama"] == SKD_FIELDS["nama"]


async def test_a_resident_of_another_desa_types_them(intake: Intake, register: Register) -> None:
    await register_ani(register, RANCASARI)
    headers = await intake.sign_in()
    application_id = await _create(intake, headers, {**SKD_FIELDS, **SKU_BUSINESS})
    assert (await _application(intake, application_id)).register_version is None


async def test_the_register_at_submission_is_what_signing_gets(
    intake: Intake, register: Register, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    resident_id = await register_ani(register)
    headers = await intake.sign_in()
    application_id = await _create(intake, headers, SKU_BUSINESS)
    for kind in ("KTP", "KK", "PENGANTAR_RT", "FOTO_USAHA"):
        r = await intake.upload(headers, application_id, kind, samples.pdf())
        assert r.status_code == 201, r.text
    async with register.sessions() as session:  # she married and moved to another RT
        await correct_resident(
            session,
            PAMANUKAN,
            resident_id,
            {"marital_status": 2, "rt": "007"},
            actor="operator.pamanukan",
        )

    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 202, r.text

    application = await _application(intake, application_id)
    assert application.register_version == 2
    handed = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=application_id)
    )
    assert dict(handed.fields) == {**ANI_IN_LETTER, **SKU_BUSINESS, "rt": "007"}
    assert handed.from_register and handed.register_version == 2
    assert set(handed.register_fields) == set(ANI_IN_LETTER)


@pytest.fixture
def unreachable_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"verification_grpc_target": f"127.0.0.1:{free_port()}"})


async def test_no_register_no_application(intake: Intake, unreachable_settings: Settings) -> None:
    headers = await intake.sign_in()  # the token is valid for any intake with these secrets
    app = create_app(unreachable_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            r = await http.post(
                "/api/v1/applications",
                json={
                    "desa_code": PAMANUKAN,
                    "letter_type": "SKD",
                    "purpose": "Melamar kerja",
                    "fields": SKD_FIELDS,
                },
                headers=headers,
            )
            assert r.status_code == 503
            assert problem_of(r)["detail"].startswith("Data penduduk desa sedang tidak dapat")
            listed = await http.get("/api/v1/applications", headers=headers)
            assert listed.json() == []
