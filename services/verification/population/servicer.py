"""gRPC PopulationService: the register as other services may see it (proto/smartdesa/v1/
population.proto). Error texts name no NIK: they may end up in the caller's logs."""

from collections.abc import Callable
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import population_pb2, population_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain.errors import DomainError
from common.nik import is_valid_nik
from common.phone import InvalidPhone, normalize_phone
from common.rpc import domain_code
from services.verification.access_log import accesses_of
from services.verification.models import PersonalDataAccess
from services.verification.population import codes, corrections
from services.verification.population.models import (
    CORRECTION_ACCEPTED,
    CORRECTION_DECLINED,
    CORRECTION_PENDING,
    HIDUP,
    HILANG,
    MENINGGAL,
    PINDAH,
    CorrectionRequest,
    Resident,
)
from services.verification.population.register import (
    CODED_FIELDS,
    MAX_TEXT,
    digits_only,
    family,
    folded,
    latest_record,
    living_record,
    log_reads,
)

SERVICE_NAME = "smartdesa.v1.PopulationService"
# A resident's applications, as intake names them for ListDataAccess.
MAX_APPLICATIONS_ASKED = 1000

PhoneOnRecord = population_pb2.CheckSignInResponse.PhoneOnRecord
STATUS = {
    HIDUP: population_pb2.HIDUP,
    PINDAH: population_pb2.PINDAH,
    MENINGGAL: population_pb2.MENINGGAL,
    HILANG: population_pb2.HILANG,
}


def coded(table: codes.CodeTable, value: int | None) -> population_pb2.CodedValue:
    if value is None:
        return population_pb2.CodedValue()
    return population_pb2.CodedValue(code=value, label=table.name(value))


def resident_message(resident: Resident) -> population_pb2.Resident:
    updated_at = Timestamp()
    updated_at.FromDatetime(as_utc(resident.updated_at))
    coded_fields = {
        "relation" if name == "kk_level" else name: coded(table, getattr(resident, name))
        for name, table in CODED_FIELDS.items()
    }
    return population_pb2.Resident(
        id=resident.id,
        desa_code=resident.desa_code,
        nik=resident.nik,
        kk_number=resident.kk_number,
        name=resident.name,
        birth_place=resident.birth_place,
        birth_date=resident.birth_date.isoformat() if resident.birth_date else "",
        address=resident.address,
        dusun=resident.dusun,
        rw=resident.rw,
        rt=resident.rt,
        father_name=resident.father_name,
        father_nik=resident.father_nik,
        mother_name=resident.mother_name,
        mother_nik=resident.mother_nik,
        status=STATUS[resident.status],
        phones=[p for p in resident.phones.split(",") if p],
        email=resident.email,
        version=resident.version,
        updated_at=updated_at,
        **coded_fields,
    )


CORRECTION_STATUS = {
    CORRECTION_PENDING: population_pb2.CORRECTION_PENDING,
    CORRECTION_ACCEPTED: population_pb2.CORRECTION_ACCEPTED,
    CORRECTION_DECLINED: population_pb2.CORRECTION_DECLINED,
}


def _timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(as_utc(at))
    return stamp


def correction_message(request: CorrectionRequest) -> population_pb2.CorrectionRequest:
    return population_pb2.CorrectionRequest(
        id=request.id,
        field=request.field,
        field_label=corrections.field_label(request.field),
        current_value=request.current_value,
        proposed_value=request.proposed_value,
        note=request.note,
        status=CORRECTION_STATUS[request.status],
        decline_reason=request.decline_reason,
        accepted_value=request.accepted_value,
        has_document=bool(request.document),
        created_at=_timestamp(request.created_at),
        decided_at=_timestamp(request.decided_at),
    )


class PopulationServicer(population_pb2_grpc.PopulationServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def CheckSignIn(
        self, request: population_pb2.CheckSignInRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.CheckSignInResponse:
        if not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        try:
            phone = normalize_phone(request.phone)
        except InvalidPhone:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "phone is not a mobile number")
        async with self._sessions() as session:
            resident = await living_record(session, request.nik)
        if resident is None:
            return population_pb2.CheckSignInResponse(
                registered=False, phone_on_record=PhoneOnRecord.NONE
            )
        on_record = [p for p in resident.phones.split(",") if p]
        if not on_record:
            answer = PhoneOnRecord.NONE
        elif phone in on_record:
            answer = PhoneOnRecord.MATCHES
        else:
            answer = PhoneOnRecord.OTHER
        return population_pb2.CheckSignInResponse(
            registered=True, desa_code=resident.desa_code, phone_on_record=answer
        )

    async def VerifyFamilyKnowledge(
        self,
        request: population_pb2.VerifyFamilyKnowledgeRequest,
        context: grpc.aio.ServicerContext,
    ) -> population_pb2.VerifyFamilyKnowledgeResponse:
        if not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        async with self._sessions() as session:
            resident = await living_record(session, request.nik)
        match = (
            resident is not None
            and bool(resident.kk_number)
            and digits_only(request.kk_number) == resident.kk_number
            and bool(folded(resident.mother_name))
            and folded(request.mother_name) == folded(resident.mother_name)
        )
        return population_pb2.VerifyFamilyKnowledgeResponse(match=match)

    async def _reader(
        self, purpose: str, actor: str, context: grpc.aio.ServicerContext
    ) -> tuple[str, str]:
        purpose, actor = " ".join(purpose.split()), " ".join(actor.split())
        if not purpose or not actor or len(purpose) > MAX_TEXT or len(actor) > MAX_TEXT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "purpose and actor are required (up to 200)"
            )
        return purpose, actor

    async def GetResident(
        self, request: population_pb2.GetResidentRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.Resident:
        purpose, actor = await self._reader(request.purpose, request.actor, context)
        who = request.WhichOneof("who")
        if who == "nik" and not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        if who is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik or resident_id required")
        async with self._sessions() as session:
            if who == "nik":
                resident = await latest_record(session, request.nik)
            else:
                resident = await session.get(Resident, request.resident_id)
            if resident is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "not in the population register")
            assert resident is not None  # abort raises
            if resident.status != HIDUP and not request.include_inactive:
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"the resident's status in the register is {resident.status}",
                )
            log_reads(session, [resident], actor=actor, purpose=purpose, kind="service")
            await session.commit()
            return resident_message(resident)

    async def ListFamily(
        self, request: population_pb2.ListFamilyRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.ListFamilyResponse:
        purpose, actor = await self._reader(request.purpose, request.actor, context)
        if not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        async with self._sessions() as session:
            resident = await living_record(session, request.nik)
            if resident is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "not a living resident")
            assert resident is not None  # abort raises
            if not resident.kk_number:
                members = [resident]
                log_reads(session, members, actor=actor, purpose=purpose, kind="service")
                await session.commit()
            else:
                try:
                    members = await family(
                        session,
                        resident.desa_code,
                        resident.kk_number,
                        actor=actor,
                        purpose=purpose,
                        kind="service",
                    )
                except DomainError as exc:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.code)
        return population_pb2.ListFamilyResponse(
            kk_number=resident.kk_number,
            members=[
                population_pb2.FamilyMember(
                    resident_id=m.id,
                    name=m.name,
                    relation=coded(codes.RELATION, m.kk_level),
                    sex=coded(codes.SEX, m.sex),
                    birth_date=m.birth_date.isoformat() if m.birth_date else "",
                    status=STATUS[m.status],
                )
                for m in members
            ],
        )

    async def RequestCorrection(
        self, request: population_pb2.RequestCorrectionRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.CorrectionRequest:
        if not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        actor = " ".join(request.actor.split())
        if not actor or len(actor) > MAX_TEXT:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "actor is required (up to 200)")
        async with self._sessions() as session:
            try:
                made = await corrections.request_correction(
                    session,
                    request.nik,
                    request.field,
                    request.proposed_value,
                    request.note,
                    actor=actor,
                    document=request.document,
                    document_content_type=request.document_content_type,
                )
            except DomainError as exc:
                # The message is Indonesian and names no NIK: the caller shows it to the resident.
                await context.abort(domain_code(exc), exc.message)
            return correction_message(made)

    async def ListCorrections(
        self, request: population_pb2.ListCorrectionsRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.ListCorrectionsResponse:
        if not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        async with self._sessions() as session:
            found = await corrections.requests_of_resident(session, request.nik)
        return population_pb2.ListCorrectionsResponse(
            requests=[correction_message(r) for r in found]
        )

    async def FindByPhone(
        self, request: population_pb2.FindByPhoneRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.FindByPhoneResponse:
        purpose, actor = await self._reader(request.purpose, request.actor, context)
        try:
            phone = normalize_phone(request.phone)
        except InvalidPhone:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "phone is not a mobile number")
        async with self._sessions() as session:
            # phones is a comma-separated list: narrow with LIKE, then compare exactly.
            candidates = (
                await session.exec(
                    select(Resident)
                    .where(col(Resident.status) == HIDUP)
                    .where(col(Resident.phones).contains(phone))
                )
            ).all()
            holders = sorted(
                (r for r in candidates if phone in r.phones.split(",")), key=lambda r: r.name
            )
            if holders:
                log_reads(session, holders, actor=actor, purpose=purpose, kind="service")
                await session.commit()
        return population_pb2.FindByPhoneResponse(
            holders=[
                population_pb2.PhoneHolder(resident_id=r.id, name=r.name, desa_code=r.desa_code)
                for r in holders
            ]
        )

    async def ListDataAccess(
        self, request: population_pb2.ListDataAccessRequest, context: grpc.aio.ServicerContext
    ) -> population_pb2.ListDataAccessResponse:
        if not is_valid_nik(request.nik):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nik is not a valid NIK")
        if (
            len(request.application_ids) > MAX_APPLICATIONS_ASKED
            or len(request.complaint_ids) > MAX_APPLICATIONS_ASKED
        ):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "too many application_ids")
        async with self._sessions() as session:
            records = await session.exec(select(Resident.id).where(Resident.nik == request.nik))
            entries = await accesses_of(
                session,
                list(records.all()),
                [i for i in request.application_ids if i],
                [i for i in request.complaint_ids if i],
            )
        return population_pb2.ListDataAccessResponse(entries=[access_message(e) for e in entries])


def access_message(entry: PersonalDataAccess) -> population_pb2.DataAccess:
    """What the resident sees of one read: never the username."""
    at = Timestamp()
    at.FromDatetime(as_utc(entry.at))
    return population_pb2.DataAccess(
        at=at,
        kind=entry.kind,
        reader_role=entry.reader_role,
        reader_desa_code=entry.reader_desa_code,
        reader_kabupaten_code=entry.reader_kabupaten_code,
        purpose=entry.purpose,
        application_id=entry.application_id or "",
        complaint_id=entry.complaint_id or "",
    )


def register(sessions: async_sessionmaker[AsyncSession]) -> Callable[[grpc.aio.Server], None]:
    """The `register` callback for common.rpc.GrpcServer."""

    def add(server: grpc.aio.Server) -> None:
        population_pb2_grpc.add_PopulationServiceServicer_to_server(
            PopulationServicer(sessions), server
        )

    return add
