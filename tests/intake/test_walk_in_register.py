"""A walk-in filed for a resident the desa's register holds (issue 13 item 7): intake reads the
register as it files, the letter's identity fields are the register's whatever the operator
sent, the application keeps the register's version, and the read is in the register's access
log as the walk-in's. No register, no filing."""

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import grpc
import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import func, select

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, client_channel
from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.models import LetterApplication
from services.verification.population.models import ResidentAccess
from services.verification.population.register import ResidentData, add_resident
from tests.intake import samples
from tests.intake.conftest import NIK_BUDI, PAMANUKAN, PHONE_BUDI, Intake, Register
from tests.support.processes import free_port

OPERATOR = "operator.pamanukan"
BUDI_IN_LETTER = {
    "nama": "BUDI SANTOSO",
    "tempat_lahir": "SUBANG",
    "tanggal_lahir": "1985-01-01",
    "jenis_kelamin": "L",
    "pekerjaan": "PETANI/PEKEBUN",
    "alamat": "KP. KRAJAN",
    "rt": "003",
    "rw": "001",
}


async def _register_budi(register: Register) -> str:
    async with register.sessions() as session:
        resident = await add_resident(
            session,
            PAMANUKAN,
            ResidentData(
                nik=NIK_BUDI,
                name="BUDI SANTOSO",
                sex=1,
                birth_place="SUBANG",
                birth_date=date(1985, 1, 1),
                occupation=9,  # Petani/pekebun
                address="KP. KRAJAN",
                dusun="KRAJAN",
                rw="001",
                rt="003",
            ),
            actor=OPERATOR,
        )
        return resident.id


def _request(**overrides: Any) -> intake_pb2.FileWalkInRequest:
    values: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "desa_code": PAMANUKAN,
        "nik": NIK_BUDI,
        "phone": PHONE_BUDI,
        "letter_type": "SKD",
        "purpose": "Persyaratan melamar pekerjaan",
        "fields": {},
        "attachments": [
            intake_pb2.WalkInAttachment(kind="KTP", content=samples.JPEG),
            intake_pb2.WalkInAttachment(kind="KK", content=samples.pdf()),
        ],
        "filed_by": OPERATOR,
        **overrides,
    }
    return intake_pb2.FileWalkInRequest(**values)


async def _stub_for(
    settings: Settings, port: int
) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    auth = InternalAuth.from_settings(settings, VERIFICATION)
    async with client_channel(f"127.0.0.1:{port}", auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


@pytest.fixture
async def stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    async for stub in _stub_for(intake.runtime.settings, intake.runtime.grpc_server.port):
        yield stub


async def test_a_registered_resident_is_filed_from_the_register(
    intake: Intake, register: Register, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    resident_id = await _register_budi(register)
    # The operator sends no identity field, and a wrong name for one: neither matters.
    filed = await stub.FileWalkIn(_request(fields={"nama": "Budi Palsu"}))
    app = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert dict(app.fields) == BUDI_IN_LETTER
    assert app.from_register and app.register_version == 1
    assert set(app.register_fields) == set(BUDI_IN_LETTER)
    assert app.channel == "walk_in" and app.status == "in_review"
    # The read is logged in the register for the walk-in, naming the filing staff member.
    async with register.sessions() as session:
        reads = (
            await session.exec(
                select(ResidentAccess).where(ResidentAccess.resident_id == resident_id)
            )
        ).all()
    assert [(r.actor, r.purpose, r.kind) for r in reads] == [
        (f"intake:walk-in:{OPERATOR}", "pengajuan langsung di kantor desa", "service")
    ]


async def test_an_unregistered_resident_is_filed_as_typed(
    intake: Intake, register: Register, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    typed = {**BUDI_IN_LETTER, "nama": "Budi Pendatang"}
    filed = await stub.FileWalkIn(_request(fields=typed))
    app = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=filed.application_id)
    )
    assert dict(app.fields) == typed
    assert not app.from_register and list(app.register_fields) == []


async def test_no_register_no_walk_in(intake: Intake, settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"verification_grpc_target": f"127.0.0.1:{free_port()}"}
    )
    app = create_app(unreachable)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        async for stub in _stub_for(unreachable, runtime.grpc_server.port):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.FileWalkIn(_request(fields=BUDI_IN_LETTER))
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert refused.value.details() == "register-unavailable"
        async with runtime.sessions() as session:
            count = (await session.exec(select(func.count()).select_from(LetterApplication))).one()
        assert count == 0
