"""PopulationService over real gRPC, as intake will call it: sign-in checks against the
register's phone, the family-knowledge check, one resident's data (logged with its purpose and
actor), and the members of a KK."""

from datetime import date
from typing import Any

import grpc
import pytest
from smartdesa.v1 import population_pb2, population_pb2_grpc
from sqlmodel import col, select

from common.auth import InternalAuth
from common.rpc import INTAKE, VERIFICATION, client_channel
from scripts.opensid_sample import nik
from services.verification.population.models import ResidentAccess
from services.verification.population.register import ResidentData, add_resident
from services.verification.seed import PAMANUKAN, RANCASARI
from tests.verification.conftest import Service

HEAD = nik(date(1980, 3, 12), False, 1)
WIFE = nik(date(1984, 7, 2), True, 2)
CHILD = nik(date(2010, 11, 30), False, 3)
MOVED = nik(date(1970, 1, 1), False, 4)
KK = "3213110101150007"
PhoneOnRecord = population_pb2.CheckSignInResponse.PhoneOnRecord


def _channel(service: Service) -> grpc.aio.Channel:
    """A channel as intake has one: authenticated with its internal token."""
    auth = InternalAuth.from_settings(service.runtime.settings, INTAKE)
    return client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION)


def _stub(channel: grpc.aio.Channel) -> population_pb2_grpc.PopulationServiceStub:
    return population_pb2_grpc.PopulationServiceStub(channel)


@pytest.fixture
async def family(service: Service) -> None:
    place: dict[str, Any] = {"dusun": "KRAJAN", "rw": "002", "rt": "005", "kk_number": KK}
    people = [
        ResidentData(
            nik=HEAD,
            name="ASEP SAEPUDIN",
            sex=1,
            kk_level=1,
            birth_date=date(1980, 3, 12),
            birth_place="SUBANG",
            religion=1,
            occupation=9,
            mother_name="Enok  Kurniasih",
            phones="081234567890",
            **place,
        ),
        ResidentData(
            nik=WIFE,
            name="EUIS RAHMAWATI",
            sex=2,
            kk_level=3,
            birth_date=date(1984, 7, 2),
            **place,
        ),
        ResidentData(
            nik=CHILD,
            name="DEDEN PERMANA",
            sex=1,
            kk_level=4,
            birth_date=date(2010, 11, 30),
            **place,
        ),
        ResidentData(nik=MOVED, name="UJANG", sex=1, kk_level=5, status="pindah", **place),
    ]
    async with service.runtime.sessions() as session:
        for person in people:
            await add_resident(session, PAMANUKAN, person, actor="operator.pamanukan")


async def test_check_sign_in_tells_which_phone_the_register_holds(
    service: Service, family: None
) -> None:
    async with _channel(service) as channel:
        stub = _stub(channel)
        matches = await stub.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=HEAD, phone="+62 812-3456-7890"), timeout=5
        )
        other = await stub.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=HEAD, phone="085700001111"), timeout=5
        )
        none = await stub.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=WIFE, phone="085700001111"), timeout=5
        )
        moved = await stub.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=MOVED, phone="085700001111"), timeout=5
        )
        stranger = await stub.CheckSignIn(
            population_pb2.CheckSignInRequest(
                nik=nik(date(1999, 9, 9), False, 9), phone="085700001111"
            ),
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as bad_phone:
            await stub.CheckSignIn(
                population_pb2.CheckSignInRequest(nik=HEAD, phone="12345"), timeout=5
            )

    assert (matches.registered, matches.desa_code, matches.phone_on_record) == (
        True,
        PAMANUKAN,
        PhoneOnRecord.MATCHES,
    )
    assert other.phone_on_record == PhoneOnRecord.OTHER
    assert (none.registered, none.phone_on_record) == (True, PhoneOnRecord.NONE)
    assert (moved.registered, moved.desa_code) == (False, "")  # no longer lives here
    assert (stranger.registered, stranger.phone_on_record) == (False, PhoneOnRecord.NONE)
    assert bad_phone.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert HEAD not in (bad_phone.value.details() or "")


async def test_family_knowledge_is_the_kk_number_and_the_mothers_name(
    service: Service, family: None
) -> None:
    async def verify(kk: str, mother: str, who: str = HEAD) -> bool:
        async with _channel(service) as channel:
            answer = await _stub(channel).VerifyFamilyKnowledge(
                population_pb2.VerifyFamilyKnowledgeRequest(
                    nik=who, kk_number=kk, mother_name=mother
                ),
                timeout=5,
            )
        return bool(answer.match)

    assert await verify(KK, "enok kurniasih")
    assert await verify(f" {KK} ", "  ENOK   Kurniasih ")
    assert not await verify(KK, "Enok")
    assert not await verify("3213110101150008", "Enok Kurniasih")
    assert not await verify(KK, "", who=WIFE)  # no mother's name on record: nothing to match


async def test_get_resident_answers_the_register_and_logs_the_read(
    service: Service, family: None
) -> None:
    async with _channel(service) as channel:
        stub = _stub(channel)
        head = await stub.GetResident(
            population_pb2.GetResidentRequest(
                nik=HEAD, purpose="application:a-17", actor="intake:resident"
            ),
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as moved:
            await stub.GetResident(
                population_pb2.GetResidentRequest(nik=MOVED, purpose="p", actor="intake"),
                timeout=5,
            )
        moved_asked = await stub.GetResident(
            population_pb2.GetResidentRequest(
                nik=MOVED, purpose="p", actor="intake", include_inactive=True
            ),
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.GetResident(
                population_pb2.GetResidentRequest(
                    nik=nik(date(1999, 9, 9), False, 9), purpose="p", actor="intake"
                ),
                timeout=5,
            )
        with pytest.raises(grpc.aio.AioRpcError) as no_purpose:
            await stub.GetResident(
                population_pb2.GetResidentRequest(nik=HEAD, actor="intake"), timeout=5
            )

    assert (head.nik, head.name, head.kk_number, head.desa_code) == (
        HEAD,
        "ASEP SAEPUDIN",
        KK,
        PAMANUKAN,
    )
    assert (head.relation.code, head.relation.label) == (1, "KEPALA KELUARGA")
    assert (head.sex.label, head.religion.label, head.occupation.label) == (
        "LAKI-LAKI",
        "ISLAM",
        "PETANI/PEKEBUN",
    )
    assert (head.marital_status.code, head.marital_status.label) == (0, "")  # not recorded
    assert (head.birth_place, head.birth_date, head.rt, head.rw, head.dusun) == (
        "SUBANG",
        "1980-03-12",
        "005",
        "002",
        "KRAJAN",
    )
    assert (head.mother_name, list(head.phones), head.version) == (
        "Enok Kurniasih",
        ["6281234567890"],
        1,
    )
    assert head.status == population_pb2.HIDUP and head.updated_at.seconds > 0
    assert moved.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert moved_asked.status == population_pb2.PINDAH
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert no_purpose.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with service.runtime.sessions() as session:
        logged = (await session.exec(select(ResidentAccess).order_by(col(ResidentAccess.id)))).all()
    assert [(a.resident_id, a.actor, a.purpose, a.kind) for a in logged] == [
        (head.id, "intake:resident", "application:a-17", "service"),
        (moved_asked.id, "intake", "p", "service"),
    ]


async def test_list_family_names_the_members_of_the_kk(service: Service, family: None) -> None:
    async with _channel(service) as channel:
        stub = _stub(channel)
        members = await stub.ListFamily(
            population_pb2.ListFamilyRequest(nik=CHILD, purpose="application:a-18", actor="intake"),
            timeout=5,
        )
        wife = await stub.GetResident(
            population_pb2.GetResidentRequest(
                resident_id=members.members[1].resident_id, purpose="a-18", actor="intake"
            ),
            timeout=5,
        )

    assert members.kk_number == KK
    assert [
        (m.name, m.relation.label, m.sex.code, m.birth_date, m.status) for m in members.members
    ] == [
        ("ASEP SAEPUDIN", "KEPALA KELUARGA", 1, "1980-03-12", population_pb2.HIDUP),
        ("EUIS RAHMAWATI", "ISTRI", 2, "1984-07-02", population_pb2.HIDUP),
        ("DEDEN PERMANA", "ANAK", 1, "2010-11-30", population_pb2.HIDUP),
        ("UJANG", "MENANTU", 1, "", population_pb2.PINDAH),
    ]
    assert wife.nik == WIFE


async def test_a_nik_registered_in_another_desa_answers_with_that_desa(service: Service) -> None:
    async with service.runtime.sessions() as session:
        await add_resident(
            session,
            RANCASARI,
            ResidentData(nik=HEAD, name="ASEP", sex=1, dusun="A", rw="1", rt="1"),
            actor="kades.rancasari",
        )
    async with _channel(service) as channel:
        answer = await _stub(channel).CheckSignIn(
            population_pb2.CheckSignInRequest(nik=HEAD, phone="081234567890"), timeout=5
        )
    assert (answer.registered, answer.desa_code, answer.phone_on_record) == (
        True,
        RANCASARI,
        PhoneOnRecord.NONE,
    )


async def test_calls_without_an_internal_token_are_refused(service: Service) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.runtime.grpc_server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await population_pb2_grpc.PopulationServiceStub(ch).CheckSignIn(
                population_pb2.CheckSignInRequest(nik=HEAD, phone="081234567890"), timeout=5
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_find_by_phone_answers_the_living_residents_holding_it(
    service: Service, family: None
) -> None:
    """A WhatsApp number names whoever the register holds it for; the read is logged; a number
    nobody holds answers nothing (and says nothing about any NIK)."""
    async with service.runtime.sessions() as session:
        await add_resident(
            session,
            PAMANUKAN,
            ResidentData(
                nik=nik(date(1990, 5, 5), True, 7),
                name="ANI SURYANI",
                sex=2,
                phones="081234567890,085711112222",
                dusun="KRAJAN",
                rw="001",
                rt="001",
            ),
            actor="operator.pamanukan",
        )
    async with _channel(service) as channel:
        stub = _stub(channel)
        shared = await stub.FindByPhone(
            population_pb2.FindByPhoneRequest(
                phone="+6281234567890", purpose="whatsapp:k1", actor="notification"
            ),
            timeout=5,
        )
        nobody = await stub.FindByPhone(
            population_pb2.FindByPhoneRequest(
                phone="085799998888", purpose="whatsapp:k2", actor="notification"
            ),
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.FindByPhone(
                population_pb2.FindByPhoneRequest(phone="12", purpose="p", actor="a"), timeout=5
            )
    assert [(h.name, h.desa_code) for h in shared.holders] == [
        ("ANI SURYANI", PAMANUKAN),
        ("ASEP SAEPUDIN", PAMANUKAN),
    ]
    assert list(nobody.holders) == []
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with service.runtime.sessions() as session:
        reads = (
            await session.exec(
                select(ResidentAccess).where(col(ResidentAccess.purpose) == "whatsapp:k1")
            )
        ).all()
    assert len(reads) == 2
