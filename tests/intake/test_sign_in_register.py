"""Sign-in by the desa's population register (issue 13 item 6), against a real
PopulationService (verification's, over gRPC on its own SQLite register) and intake's real
gRPC server as verification's operator pages call it."""

from collections.abc import AsyncIterator

import pytest
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import select

from common.auth import InternalAuth
from common.domain.events import SIGN_IN_NOTICE
from common.outbox import OutboxEvent
from common.rpc import INTAKE, VERIFICATION, client_channel
from services.intake.config import RateLimit, Settings
from services.intake.models import Resident, SignInBinding, SignInCode, SignInNotice
from services.verification.population import models as population
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PAMANUKAN,
    PHONE_ANI,
    PHONE_BUDI,
    Intake,
    Register,
    problem,
)
from tests.support.web import async_sign_in_form

KK_ANI = "3213110101090001"
MOTHER_ANI = "Siti Aminah"


async def _register(register: Register, nik: str, phones: str = "") -> None:
    async with register.sessions() as session:
        session.add(
            population.Resident(
                desa_code=PAMANUKAN,
                nik=nik,
                name="Ani Suryani",
                sex=2,
                kk_number=KK_ANI,
                kk_level=3,
                mother_name=MOTHER_ANI,
                phones=phones,
            )
        )
        await session.commit()


async def _pending_phone(intake: Intake, nik: str) -> str:
    async with intake.runtime.sessions() as session:
        pending = await session.get(SignInCode, await intake.pending_code_id(nik))
        assert pending is not None
        return pending.phone


async def _token(
    intake: Intake, nik: str, phone: str, code: str, **family: str
) -> dict[str, object]:
    r = await intake.http.post(
        "/api/v1/auth/token", json={"nik": nik, "phone": phone, "otp": code, **family}
    )
    return {"status": r.status_code, "body": r.json(), "headers": r.headers}


@pytest.fixture
async def stub(intake: Intake) -> AsyncIterator[intake_pb2_grpc.IntakeServiceStub]:
    """IntakeService as verification's operator pages call it."""
    auth = InternalAuth.from_settings(intake.runtime.settings, VERIFICATION)
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with client_channel(target, auth, INTAKE) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


async def test_the_code_goes_only_to_the_phone_the_register_holds(
    intake: Intake, register: Register
) -> None:
    await _register(register, NIK_ANI, phones="6281234567890")
    # A stranger with Ani's NIK: the same answer, but nobody receives the code.
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": PHONE_BUDI})
    assert r.status_code == 202
    assert await _pending_phone(intake, NIK_ANI) == ""
    # Ani's own phone receives it and signs in without more questions.
    headers = await intake.sign_in(NIK_ANI, PHONE_ANI)
    assert (await intake.http.get("/api/v1/applications", headers=headers)).status_code == 200


async def test_a_phone_bound_before_gives_way_to_the_registers_and_its_sessions_end(
    intake: Intake, register: Register
) -> None:
    stranger = await intake.sign_in(NIK_ANI, PHONE_BUDI)  # before the register knew Ani
    await _register(register, NIK_ANI, phones="6281234567890")
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": PHONE_BUDI})
    assert r.status_code == 202
    assert await _pending_phone(intake, NIK_ANI) == ""
    await intake.sign_in(NIK_ANI, PHONE_ANI)
    r = await intake.http.get("/api/v1/applications", headers=stranger)
    assert r.status_code == 401


async def test_a_first_sign_in_without_a_phone_on_record_proves_family_knowledge(
    intake: Intake, register: Register
) -> None:
    await _register(register, NIK_ANI)
    code = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    asked = await _token(intake, NIK_ANI, PHONE_ANI, code)
    assert asked["status"] == 401
    assert asked["body"]["type"].endswith("family-knowledge-required")  # type: ignore[index]
    assert "nomor KK dan nama ibu kandung" in asked["body"]["detail"]  # type: ignore[index]
    wrong = await _token(
        intake, NIK_ANI, PHONE_ANI, code, kk_number=KK_ANI, mother_name="Siti Rahma"
    )
    assert wrong["status"] == 401
    assert wrong["body"]["type"].endswith("wrong-family-knowledge")  # type: ignore[index]
    right = await _token(
        intake, NIK_ANI, PHONE_ANI, code, kk_number=KK_ANI, mother_name="  siti   AMINAH "
    )
    assert right["status"] == 200, right
    async with intake.runtime.sessions() as session:
        (binding,) = (await session.exec(select(SignInBinding))).all()
        assert binding.desa_code == PAMANUKAN and binding.undone_at is None
        (notice,) = (await session.exec(select(SignInNotice))).all()
        assert (notice.kind, notice.desa_code, notice.phone) == ("bound", PAMANUKAN, "")
        staged = (await session.exec(select(OutboxEvent))).all()
        assert any(SIGN_IN_NOTICE in e.nats_subject and notice.id in e.data_json for e in staged)
    # Bound now: another phone gets no code, even knowing the family.
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": PHONE_BUDI})
    assert r.status_code == 202
    assert await _pending_phone(intake, NIK_ANI) == ""


class TestFamilyAttemptsAreLimited:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"intake_family_limits_per_nik": [RateLimit(count=2, seconds=10**6)]}
        )

    async def test_the_third_wrong_family_answer_is_refused_with_a_wait(
        self, intake: Intake, register: Register
    ) -> None:
        await _register(register, NIK_ANI)
        code = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
        family = {"kk_number": KK_ANI, "mother_name": "Bukan Ibunya"}
        for _ in range(2):
            assert (await _token(intake, NIK_ANI, PHONE_ANI, code, **family))["status"] == 401
        refused = await _token(intake, NIK_ANI, PHONE_ANI, code, **family)
        assert refused["status"] == 429
        assert refused["body"]["type"].endswith("too-many-family-attempts")  # type: ignore[index]
        assert "Retry-After" in refused["headers"]  # type: ignore[operator]
        # The right answer too, while the limit holds: guessing cannot go on.
        right = {"kk_number": KK_ANI, "mother_name": MOTHER_ANI}
        assert (await _token(intake, NIK_ANI, PHONE_ANI, code, **right))["status"] == 429


async def test_the_operator_lists_and_undoes_a_binding_and_its_sessions_end(
    intake: Intake, register: Register, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    await _register(register, NIK_ANI)
    code = (await intake.request_code(NIK_ANI, PHONE_BUDI)).data["code"]
    family = {"kk_number": KK_ANI, "mother_name": MOTHER_ANI}
    signed = await _token(intake, NIK_ANI, PHONE_BUDI, code, **family)
    assert signed["status"] == 200
    headers = {"Authorization": f"Bearer {signed['body']['access_token']}"}  # type: ignore[index]
    listed = await stub.ListSignInBindings(
        intake_pb2.ListSignInBindingsRequest(desa_code=PAMANUKAN)
    )
    (binding,) = listed.bindings
    assert (binding.nik, binding.phone) == (NIK_ANI, "6285712345678")
    other_desa = await stub.ListSignInBindings(
        intake_pb2.ListSignInBindingsRequest(desa_code="32.13.11.2005")
    )
    assert list(other_desa.bindings) == []

    undone = await stub.UndoSignInBinding(
        intake_pb2.UndoSignInBindingRequest(
            binding_id=binding.id, desa_code=PAMANUKAN, undone_by="operator.pamanukan"
        )
    )
    assert undone.undone
    assert (await intake.http.get("/api/v1/applications", headers=headers)).status_code == 401
    again = await stub.UndoSignInBinding(
        intake_pb2.UndoSignInBindingRequest(
            binding_id=binding.id, desa_code=PAMANUKAN, undone_by="operator.pamanukan"
        )
    )
    assert not again.undone
    assert (
        list(
            (
                await stub.ListSignInBindings(
                    intake_pb2.ListSignInBindingsRequest(desa_code=PAMANUKAN)
                )
            ).bindings
        )
        == []
    )
    # The NIK is free again: the real Ani binds her own phone, by the family knowledge.
    code = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    assert (await _token(intake, NIK_ANI, PHONE_ANI, code, **family))["status"] == 200
    assert await intake.resident_id(NIK_ANI)  # the same resident, applications kept


async def test_a_phone_changed_at_the_office_ends_sessions_and_tells_the_old_number(
    intake: Intake, register: Register, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    await _register(register, NIK_ANI, phones="6281234567890")
    old = await intake.sign_in(NIK_ANI, PHONE_ANI)
    # Verification changes the register's phone after the in-person check, then tells intake.
    async with register.sessions() as session:
        record = (await session.exec(select(population.Resident))).one()
        record.phones = "6285712345678"
        session.add(record)
        await session.commit()
    told = await stub.ChangeSignInPhone(
        intake_pb2.ChangeSignInPhoneRequest(
            nik=NIK_ANI,
            new_phone="6285712345678",
            old_phones=["6281234567890"],
            desa_code=PAMANUKAN,
            changed_by="operator.pamanukan",
        )
    )
    assert told.told == 1
    assert (await intake.http.get("/api/v1/applications", headers=old)).status_code == 401
    async with intake.runtime.sessions() as session:
        (notice,) = (await session.exec(select(SignInNotice))).all()
    contact = await stub.GetContact(intake_pb2.GetContactRequest(sign_in_notice_id=notice.id))
    assert (contact.phone, contact.resident_id) == ("6281234567890", "")
    # The old phone gets no code any more; the new one signs in.
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": PHONE_ANI})
    assert r.status_code == 202
    assert await _pending_phone(intake, NIK_ANI) == ""
    await intake.sign_in(NIK_ANI, PHONE_BUDI)
    async with intake.runtime.sessions() as session:
        resident = (await session.exec(select(Resident))).one()
        assert resident.phone == "6285712345678"


async def test_a_nik_in_no_register_asks_only_for_letters_open_to_non_residents(
    intake: Intake, register: Register
) -> None:
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)  # the register is empty
    await intake.create_application(headers)  # SKD: open to newcomers
    r = await intake.http.post(
        "/api/v1/applications",
        json={
            "desa_code": PAMANUKAN,
            "letter_type": "SKU",
            "purpose": "Kredit usaha",
            "fields": {},
        },
        headers=headers,
    )
    assert r.status_code == 403
    body = problem(r)
    assert body["type"].endswith("not-open-to-non-residents")
    assert "tidak terdaftar di data penduduk desa" in body["detail"]
    assert "Surat Keterangan Domisili" in body["detail"]


async def test_the_portal_asks_for_the_kk_and_mothers_name_on_the_code_page(
    intake: Intake, register: Register
) -> None:
    await _register(register, NIK_ANI)
    code = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    form = await async_sign_in_form(intake.http, nik=NIK_ANI, phone=PHONE_ANI, otp=code)
    asked = await intake.http.post("/masuk/kode", data=form)
    assert asked.status_code == 401
    assert 'name="kk_number"' in asked.text and 'name="mother_name"' in asked.text
    assert "nomor KK dan nama ibu kandung" in asked.text
    assert f'value="{code}"' in asked.text  # the same code, kept in the form
    assert "sd_warga" not in asked.cookies

    wrong = await intake.http.post(
        "/masuk/kode", data={**form, "kk_number": "3213110101090009", "mother_name": MOTHER_ANI}
    )
    assert wrong.status_code == 401
    assert "tidak sesuai dengan data penduduk desa" in wrong.text
    assert 'value="3213110101090009"' in wrong.text

    right = await intake.http.post(
        "/masuk/kode", data={**form, "kk_number": KK_ANI, "mother_name": MOTHER_ANI}
    )
    assert right.status_code == 303, right.text
    assert "sd_warga" in right.cookies
