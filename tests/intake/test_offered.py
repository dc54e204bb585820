"""Intake asks verification's DirectoryService which letter types a desa offers: it lists only
those with `?desa=` and refuses (422, in Indonesian) to start a letter of another type. A
verification that does not answer leaves every type offered (tests/intake/conftest.py)."""

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import InternalAuth
from common.rpc import VERIFICATION, GrpcServer
from common.secrets import ensure_dev_secrets
from services.intake.config import Settings
from services.intake.main import create_app
from services.verification.population import servicer as population_servicer
from tests.intake.conftest import PAMANUKAN, SKD_FIELDS, Intake, Register, problem
from tests.support.catalogue import seed_letter_types
from tests.support.stand_ins import DirectoryStandIn

RANCASARI = "32.13.11.2002"


class Directory(DirectoryStandIn):
    """Pamanukan stopped offering SKD; every other desa offers everything."""

    def __init__(self) -> None:
        self.not_offered = {(PAMANUKAN, "SKD")}

    async def ListOfferedLetterTypes(
        self,
        request: directory_pb2.ListOfferedLetterTypesRequest,
        context: grpc.aio.ServicerContext,
    ) -> directory_pb2.ListOfferedLetterTypesResponse:
        codes = [
            c for c in ("SKD", "SKU", "SKTM") if (request.desa_code, c) not in self.not_offered
        ]
        return directory_pb2.ListOfferedLetterTypesResponse(letter_types=codes)


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
async def directory_port(
    settings: Settings, directory: Directory, register: Register
) -> AsyncIterator[int]:
    """Verification's port as intake reaches it: this DirectoryService beside the register."""
    ensure_dev_secrets(settings)
    add_population = population_servicer.register(register.sessions)

    def add(server: grpc.aio.Server) -> None:
        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, server)
        add_population(server)

    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, VERIFICATION),
        ["smartdesa.v1.DirectoryService", population_servicer.SERVICE_NAME],
        add,
    )
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop(0)


@pytest.fixture
def offered_settings(settings: Settings, directory_port: int) -> Settings:
    return settings.model_copy(update={"verification_grpc_target": f"127.0.0.1:{directory_port}"})


@pytest.fixture
async def offering_intake(offered_settings: Settings) -> AsyncIterator[Intake]:
    app = create_app(offered_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


async def test_a_desa_lists_only_the_types_it_offers(offering_intake: Intake) -> None:
    everything = await offering_intake.http.get("/api/v1/letter-types")
    # No desa named: every type the catalogue lets residents request online.
    assert len(everything.json()) == len(seed_letter_types())
    pamanukan = await offering_intake.http.get("/api/v1/letter-types", params={"desa": PAMANUKAN})
    assert [t["code"] for t in pamanukan.json()] == ["SKTM", "SKU"]  # in the catalogue's order
    rancasari = await offering_intake.http.get("/api/v1/letter-types", params={"desa": RANCASARI})
    assert [t["code"] for t in rancasari.json()] == ["SKD", "SKTM", "SKU"]


async def test_a_type_the_desa_does_not_offer_is_refused(offering_intake: Intake) -> None:
    headers = await offering_intake.sign_in()
    r = await offering_intake.http.post(
        "/api/v1/applications",
        json={
            "desa_code": PAMANUKAN,
            "letter_type": "SKD",
            "purpose": "Melamar kerja",
            "fields": {},
        },
        headers=headers,
    )
    assert r.status_code == 422
    body = problem(r)
    assert body["detail"] == "Desa ini belum melayani surat ini."
    assert body["field"] == "letter_type"
    # Rancasari still offers it.
    await offering_intake.create_application(headers, desa_code=RANCASARI)


async def test_a_draft_of_a_type_no_longer_offered_is_not_submitted(
    offering_intake: Intake, directory: Directory
) -> None:
    headers = await offering_intake.sign_in()
    app_id = await offering_intake.create_application(headers, desa_code=RANCASARI)
    directory.not_offered.add((RANCASARI, "SKD"))
    r = await offering_intake.http.post(f"/api/v1/applications/{app_id}/submit", headers=headers)
    assert r.status_code == 422
    assert problem(r)["detail"] == "Desa ini belum melayani surat ini."
    draft = await offering_intake.http.get(f"/api/v1/applications/{app_id}", headers=headers)
    assert draft.json()["status"] == "draft"


async def test_the_new_application_page_refuses_a_type_the_desa_does_not_offer(
    offering_intake: Intake,
) -> None:
    """The page creates drafts exactly as the API does: not of a type the desa switched off."""
    headers = await offering_intake.sign_in()
    form = {"purpose": "Melamar kerja", **{f"isian_{k}": v for k, v in SKD_FIELDS.items()}}
    r = await offering_intake.http.post(
        "/permohonan/baru/SKD", data={**form, "desa_code": PAMANUKAN}, headers=headers
    )
    assert r.status_code == 422
    assert "Desa ini belum melayani surat ini." in r.text
    listed = await offering_intake.http.get("/api/v1/applications", headers=headers)
    assert listed.json() == []
    # Rancasari still offers it.
    r = await offering_intake.http.post(
        "/permohonan/baru/SKD", data={**form, "desa_code": RANCASARI}, headers=headers
    )
    assert r.status_code == 303
