"""Residents' requests to correct their own record in the population register ("Data tidak
sesuai? Ajukan perbaikan" on the portal), and the operator's answer.

A resident (through intake's PopulationService.RequestCorrection) names one field of their own
living record and what it should be, optionally with a photo of the document that shows it.
The desa's operator, Sekdes or Kades (register.EDITOR_ROLES) sees the requests on the staff
pages and API, and accepts one (the record is corrected by `register.correct_resident`, so the
register's history records it, with the request named in its note) or declines it with a
reason. The resident reads the outcome on the portal (ListCorrections). The register is the
desa's record (Permendagri 2/2017 on data kependudukan at the desa): a resident's word changes
it only through staff who check it.

Every refusal is a domain error with Indonesian text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain.errors import Conflict, Invalid, NotFound
from services.verification.population import codes
from services.verification.population.models import (
    CORRECTION_ACCEPTED,
    CORRECTION_DECLINED,
    CORRECTION_PENDING,
    CorrectionRequest,
    Resident,
)
from services.verification.population.register import (
    CODED_FIELDS,
    FIELD_LABELS,
    MAX_TEXT,
    InvalidResident,
    correct_resident,
    living_record,
    log_reads,
    require_editor,
    shown,
)

# What a resident may ask to correct: what letters print about them. Not the NIK, the KK and
# its relations, the status or the phones: those are proven at the office (sign-in rests on
# them), and the register's editors change them directly.
CORRECTABLE: tuple[str, ...] = (
    "name",
    "birth_place",
    "birth_date",
    "sex",
    "religion",
    "marital_status",
    "occupation",
    "education",
    "citizenship",
    "address",
    "dusun",
    "rt",
    "rw",
    "father_name",
    "mother_name",
)
MAX_NOTE = 500
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_TYPES = ("image/jpeg", "image/png", "application/pdf")
# Requests waiting at once per resident: enough for every field a letter prints, not a flood.
MAX_PENDING = len(CORRECTABLE)
# The letter forms write sex as L/P (intake's letter types); the register as its code.
_SEX_LETTERS = {"L": codes.SEX_MALE, "P": codes.SEX_FEMALE}


class InvalidCorrection(Invalid):
    def __init__(self, message: str, field: str) -> None:
        super().__init__("invalid-correction", message, field=field)


class CorrectionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("correction-not-found", "Permintaan perbaikan tidak ditemukan.")


class NotRegistered(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "not-registered", "Anda tidak tercatat sebagai penduduk hidup di data penduduk desa."
        )


class CorrectionDecided(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "correction-decided", "Permintaan perbaikan ini sudah diputuskan sebelumnya."
        )


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def register_value(name: str, text: str) -> object:
    """A value as written by a person, as the register stores it: a date from YYYY-MM-DD, a
    code from its number or its name (L/P for sex). InvalidCorrection (field `value`) when it
    cannot be read."""
    text = " ".join(text.split())
    if name == "birth_date":
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise InvalidCorrection(
                "Tanggal lahir ditulis sebagai TTTT-BB-HH, misalnya 1990-08-17.", "value"
            ) from exc
    table = CODED_FIELDS.get(name)
    if table is None:
        return text
    code = _SEX_LETTERS.get(text.upper()) if name == "sex" else None
    code = code if code is not None else table.code_of(text)
    if code is None:
        raise InvalidCorrection(
            f"'{text}' bukan {table.label} yang dikenal; tulis nilai yang benar, misalnya "
            f"'{next(iter(table.names.values()))}'.",
            "value",
        )
    return code


async def request_correction(
    session: AsyncSession,
    nik: str,
    field: str,
    proposed_value: str,
    note: str,
    *,
    actor: str,
    document: bytes = b"",
    document_content_type: str = "",
) -> CorrectionRequest:
    """A new pending request about the living record of this NIK (committed)."""
    if field not in CORRECTABLE:
        raise InvalidCorrection("Isian ini tidak dapat diajukan perbaikannya.", "field")
    proposed_value = " ".join(proposed_value.split())
    if not proposed_value:
        raise InvalidCorrection("Tulis data yang benar.", "proposed_value")
    if len(proposed_value) > MAX_TEXT:
        raise InvalidCorrection(
            f"Data yang benar terlalu panjang (paling banyak {MAX_TEXT} karakter).",
            "proposed_value",
        )
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidCorrection(
            f"Keterangan terlalu panjang (paling banyak {MAX_NOTE} karakter).", "note"
        )
    if document and (
        len(document) > MAX_DOCUMENT_BYTES or document_content_type not in DOCUMENT_TYPES
    ):
        raise InvalidCorrection(
            "Foto dokumen harus JPEG, PNG atau PDF, paling besar 10 MB.", "document"
        )
    resident = await living_record(session, nik)
    if resident is None:
        raise NotRegistered()
    pending = (
        await session.exec(
            select(CorrectionRequest).where(
                CorrectionRequest.resident_id == resident.id,
                CorrectionRequest.status == CORRECTION_PENDING,
            )
        )
    ).all()
    if any(p.field == field for p in pending):
        raise Conflict(
            "correction-pending",
            f"Permintaan perbaikan {field_label(field).lower()} Anda masih menunggu "
            "diperiksa operator desa.",
        )
    if len(pending) >= MAX_PENDING:
        raise Conflict(
            "too-many-corrections", "Terlalu banyak permintaan perbaikan yang masih menunggu."
        )
    request = CorrectionRequest(
        resident_id=resident.id,
        desa_code=resident.desa_code,
        field=field,
        current_value=shown(field, getattr(resident, field)),
        proposed_value=proposed_value,
        note=note,
        requested_by=actor,
        document=document or None,
        document_content_type=document_content_type if document else "",
    )
    session.add(request)
    await session.commit()
    return request


async def requests_of_resident(session: AsyncSession, nik: str) -> list[CorrectionRequest]:
    """The requests about this NIK's records (in any desa that held them), newest first."""
    rows = await session.exec(
        select(CorrectionRequest)
        .join(Resident, col(Resident.id) == col(CorrectionRequest.resident_id))
        .where(Resident.nik == nik)
        .order_by(col(CorrectionRequest.created_at).desc())
    )
    return list(rows.all())


@dataclass(frozen=True)
class CorrectionView:
    request: CorrectionRequest
    resident: Resident


async def requests_of_desa(
    session: AsyncSession, desa_code: str, status: str | None = None
) -> list[CorrectionView]:
    """The desa's requests, pending first then newest first, each with its resident's record.
    Listing is not a read of a record's data beyond the name (not logged); the detail is."""
    query = (
        select(CorrectionRequest, Resident)
        .join(Resident, col(Resident.id) == col(CorrectionRequest.resident_id))
        .where(CorrectionRequest.desa_code == desa_code)
    )
    if status:
        query = query.where(CorrectionRequest.status == status)
    rows = await session.exec(
        query.order_by(
            (col(CorrectionRequest.status) != CORRECTION_PENDING).asc(),
            col(CorrectionRequest.created_at).desc(),
        ).limit(200)
    )
    return [CorrectionView(request, resident) for request, resident in rows.all()]


def purpose_of(request_id: str) -> str:
    return f"perbaikan data {request_id}"


async def _of_desa(session: AsyncSession, desa_code: str, request_id: str) -> CorrectionView:
    request = await session.get(CorrectionRequest, request_id, populate_existing=True)
    if request is None or request.desa_code != desa_code:
        raise CorrectionNotFound()
    resident = await session.get(Resident, request.resident_id)
    if resident is None:  # records are never deleted
        raise CorrectionNotFound()
    return CorrectionView(request, resident)


async def read_request(
    session: AsyncSession, desa_code: str, request_id: str, *, actor: str
) -> CorrectionView:
    """One request of the desa with its resident's record; the read logged (committed)."""
    view = await _of_desa(session, desa_code, request_id)
    log_reads(session, [view.resident], actor=actor, purpose=purpose_of(request_id), kind="view")
    await session.commit()
    return view


async def accept(
    session: AsyncSession,
    desa_code: str,
    roles: Sequence[str],
    request_id: str,
    *,
    actor: str,
    value: str | None = None,
) -> CorrectionView:
    """Corrects the record to the proposed value (or `value`, what the operator found on the
    document) and marks the request accepted, in one transaction."""
    require_editor(roles)
    view = await _of_desa(session, desa_code, request_id)
    if view.request.status != CORRECTION_PENDING:
        raise CorrectionDecided()
    text = view.request.proposed_value if value is None or not value.strip() else value
    new_value = register_value(view.request.field, text)
    marked = await session.exec(
        update(CorrectionRequest)
        .where(col(CorrectionRequest.id) == request_id)
        .where(col(CorrectionRequest.status) == CORRECTION_PENDING)
        .values(
            status=CORRECTION_ACCEPTED,
            accepted_value=shown(view.request.field, new_value),
            decided_by=actor,
            decided_at=utcnow(),
        )
    )
    if marked.rowcount == 0:
        await session.rollback()
        raise CorrectionDecided()
    try:
        # Commits the record's change, its history and the request's mark together; a record
        # that already holds the value changes nothing and is committed below.
        await correct_resident(
            session,
            desa_code,
            view.resident.id,
            {view.request.field: new_value},
            actor=actor,
            note=f"Permintaan perbaikan warga {request_id}",
        )
        await session.commit()
    except InvalidResident as exc:
        await session.rollback()
        raise InvalidCorrection(exc.message, "value") from exc
    except BaseException:
        await session.rollback()
        raise
    return await _of_desa(session, desa_code, request_id)


async def decline(
    session: AsyncSession,
    desa_code: str,
    roles: Sequence[str],
    request_id: str,
    *,
    actor: str,
    reason: str,
) -> CorrectionView:
    """Declines the request with a reason the resident reads."""
    require_editor(roles)
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidCorrection("Tulis alasan penolakan; warga membacanya.", "reason")
    if len(reason) > MAX_NOTE:
        raise InvalidCorrection(
            f"Alasan terlalu panjang (paling banyak {MAX_NOTE} karakter).", "reason"
        )
    await _of_desa(session, desa_code, request_id)
    marked = await session.exec(
        update(CorrectionRequest)
        .where(col(CorrectionRequest.id) == request_id)
        .where(col(CorrectionRequest.status) == CORRECTION_PENDING)
        .values(
            status=CORRECTION_DECLINED, decline_reason=reason, decided_by=actor, decided_at=utcnow()
        )
    )
    if marked.rowcount == 0:
        await session.rollback()
        raise CorrectionDecided()
    await session.commit()
    return await _of_desa(session, desa_code, request_id)


async def document_of(
    session: AsyncSession, desa_code: str, request_id: str, *, actor: str
) -> tuple[bytes, str]:
    """The photo the resident sent, for staff of the desa; NotFound when there is none."""
    view = await read_request(session, desa_code, request_id, actor=actor)
    if not view.request.document:
        raise NotFound("no-document", "Permintaan ini tidak menyertakan foto dokumen.")
    return view.request.document, view.request.document_content_type
