"""What the desa's population register holds about the signed-in resident, and their requests
to correct it ("Data tidak sesuai? Ajukan perbaikan").

The register is verification's (PopulationService); intake only carries the resident's request
there and shows the outcome. The desa's operator accepts a request (the register is corrected,
and the next letter is filled with the corrected value) or declines it with a reason. The
portal's pages and the resident API both call these.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc
from smartdesa.v1 import population_pb2, population_pb2_grpc
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain.errors import Conflict, Invalid, NotFound
from common.register_fields import REGISTER_FIELDS
from services.intake import register_data
from services.intake.attachments import as_refusal
from services.intake.file_safety import InvalidAttachment, check_content, make_safe
from services.intake.resident_actions import nik_of
from services.intake.runtime import Runtime
from services.intake.uploads import ReceivedForm

log = logging.getLogger(__name__)

PURPOSE_OWN_DATA = "warga melihat datanya sendiri"
NOT_REGISTERED = (
    "Anda belum tercatat di data penduduk desa mana pun di layanan ini. Isian surat Anda "
    "diketik sendiri; untuk didaftarkan, datanglah ke kantor desa."
)
STATUS_LABELS = {
    population_pb2.CORRECTION_PENDING: "Menunggu diperiksa operator desa",
    population_pb2.CORRECTION_ACCEPTED: "Diterima: data sudah diperbaiki",
    population_pb2.CORRECTION_DECLINED: "Ditolak",
}
STATUS_CODES = {
    population_pb2.CORRECTION_PENDING: "menunggu",
    population_pb2.CORRECTION_ACCEPTED: "diterima",
    population_pb2.CORRECTION_DECLINED: "ditolak",
}


@dataclass(frozen=True)
class RegisterEntry:
    name: str  # the letter form's field name, e.g. "tanggal_lahir"
    label: str
    value: str


@dataclass(frozen=True)
class OwnRegister:
    desa_code: str
    entries: list[RegisterEntry]


@dataclass(frozen=True)
class Correction:
    id: str
    field_label: str
    current_value: str
    proposed_value: str
    note: str
    status: str  # menunggu | diterima | ditolak
    status_label: str
    decline_reason: str
    accepted_value: str
    has_document: bool
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, message: population_pb2.CorrectionRequest) -> "Correction":
        return cls(
            id=message.id,
            field_label=message.field_label,
            current_value=message.current_value,
            proposed_value=message.proposed_value,
            note=message.note,
            status=STATUS_CODES.get(message.status, "menunggu"),
            status_label=STATUS_LABELS.get(message.status, ""),
            decline_reason=message.decline_reason,
            accepted_value=message.accepted_value,
            has_document=message.has_document,
            created_at=as_utc(message.created_at.ToDatetime()),
            decided_at=as_utc(message.decided_at.ToDatetime())
            if message.HasField("decided_at")
            else None,
        )


def _unavailable(exc: grpc.aio.AioRpcError) -> register_data.RegisterUnavailable:
    log.warning("population register unavailable: %s", exc.code().name)
    return register_data.RegisterUnavailable()


async def own_register(
    runtime: Runtime, session: AsyncSession, resident_id: str
) -> OwnRegister | None:
    """The register-held fields of the resident's living record, as letters print them; None
    when no desa's register holds them."""
    try:
        record = await runtime.population.GetResident(
            population_pb2.GetResidentRequest(
                nik=await nik_of(session, resident_id),
                purpose=PURPOSE_OWN_DATA,
                actor=register_data.actor(resident_id),
            ),
            timeout=register_data.LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
            return None
        raise _unavailable(exc) from exc
    return OwnRegister(
        desa_code=record.desa_code,
        entries=[
            RegisterEntry(name, register_data.FIELD_LABELS[name], read(record))
            for name, read in REGISTER_FIELDS.items()
        ],
    )


async def corrections_of(
    runtime: Runtime, session: AsyncSession, resident_id: str
) -> list[Correction]:
    """The resident's correction requests, newest first, with their outcome."""
    try:
        answer = await runtime.population.ListCorrections(
            population_pb2.ListCorrectionsRequest(nik=await nik_of(session, resident_id)),
            timeout=register_data.LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc) from exc
    return [Correction.of(r) for r in answer.requests]


async def checked_document(content: bytes) -> tuple[bytes, str]:
    """The clean copy of a document photo and its type (file_safety, as for every syarat)."""
    try:
        check_content(len(content), content[:16])
        safe = await make_safe(content)
    except InvalidAttachment as exc:
        raise as_refusal(exc) from exc
    return safe.content, safe.content_type


def correction_temp_dir(intake_dir: Path) -> Path:
    """Where a request's document waits while it is received and checked (then removed)."""
    return intake_dir / "corrections"


async def document_of(form: ReceivedForm) -> bytes:
    """The document a multipart request carried (b"" when none was chosen); the temporary
    file is removed."""
    try:
        if form.file is None or form.file.size == 0:
            return b""
        return await asyncio.to_thread(form.file.path.read_bytes)
    finally:
        form.discard()


async def request_correction(
    runtime: Runtime,
    session: AsyncSession,
    resident_id: str,
    field: str,
    proposed_value: str,
    note: str = "",
    document: bytes = b"",
) -> Correction:
    """Sends the resident's request to their desa's operator. `field` is a letter form's
    register-held field (nama, tanggal_lahir, agama, ...)."""
    return await request_correction_with(
        runtime.population, session, resident_id, field, proposed_value, note, document
    )


async def request_correction_with(
    population: population_pb2_grpc.PopulationServiceStub,
    session: AsyncSession,
    resident_id: str,
    field: str,
    proposed_value: str,
    note: str = "",
    document: bytes = b"",
) -> Correction:
    """request_correction with the register's stub given: intake's gRPC servicer (the
    WhatsApp chat) holds the stub, not the web runtime."""
    attribute = register_data.REGISTER_ATTRIBUTES.get(field.strip())
    if attribute is None:
        raise Invalid(
            "invalid-correction",
            "Pilih data yang tidak sesuai: "
            + ", ".join(register_data.FIELD_LABELS.values()).lower()
            + ".",
            field="field",
        )
    if not proposed_value.strip():
        raise Invalid("invalid-correction", "Tulis data yang benar.", field="proposed_value")
    content, content_type = await checked_document(document) if document else (b"", "")
    try:
        made = await population.RequestCorrection(
            population_pb2.RequestCorrectionRequest(
                nik=await nik_of(session, resident_id),
                field=attribute,
                proposed_value=proposed_value,
                note=note,
                document=content,
                document_content_type=content_type,
                actor=register_data.actor(resident_id),
            ),
            timeout=register_data.LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        # The register's refusals are Indonesian and name no NIK: shown as they are.
        code, message = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise Invalid("invalid-correction", message, field="proposed_value") from exc
        if code == grpc.StatusCode.NOT_FOUND:
            raise NotFound("not-registered", NOT_REGISTERED) from exc
        if code == grpc.StatusCode.FAILED_PRECONDITION:
            raise Conflict("correction-refused", message) from exc
        raise _unavailable(exc) from exc
    log.info("correction request %s sent by resident %s", made.id, resident_id)
    return Correction.of(made)
