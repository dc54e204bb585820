"""Residents' sign-in as the desa's operator keeps it (issue 13 item 6).

- **Bindings.** A NIK the register holds without a phone binds to a phone at its first
  sign-in, after the KK number and the mother's name matched. Intake keeps the binding (it owns
  residents' identities and sessions); the operator lists them here with the register's name
  and undoes one that is not the resident's: the phone is unbound and every session the
  resident holds ends (IntakeService.ListSignInBindings, UndoSignInBinding).
- **A new phone at the office.** A resident who changed SIM card comes to the office; the
  operator checks the KTP and KK in person and records the new number. The register then holds
  only that number, the change is in its history (who, when, from what to what, source
  "kantor"), every session of the resident ends, and each old number is told
  (IntakeService.ChangeSignInPhone, which stages the notices).

Operator, Sekdes or Kades of the desa (own role or Plt), as for every change to the register.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc, notification_pb2, notification_pb2_grpc
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain.errors import Conflict, Invalid, NotFound, Unavailable
from common.phone import InvalidPhone, normalize_phone
from services.verification.population.models import HIDUP, Resident, ResidentChange
from services.verification.population.register import (
    _resident_of,
    log_reads,
    phones_of,
    require_editor,
)

log = logging.getLogger(__name__)

SOURCE_OFFICE = "kantor"
BINDINGS_PURPOSE = "Pemeriksaan nomor HP masuk warga"
PHONE_PURPOSE = "Ganti nomor HP di kantor desa"
INTAKE_UNAVAILABLE = (
    "Layanan masuk warga sedang tidak dapat dihubungi; tidak ada yang diubah. Silakan coba lagi."
)
NOT_CHECKED = (
    "Nomor HP hanya diganti setelah KTP dan KK pemohon diperiksa langsung di kantor desa. "
    "Centang pernyataan pemeriksaan."
)
SAME_PHONE = "Nomor itu sudah satu-satunya nomor HP penduduk ini di data penduduk desa."
NOT_LIVING = "Nomor HP hanya dapat diganti untuk penduduk yang berstatus hidup."


@dataclass(frozen=True)
class Binding:
    id: str
    phone: str
    bound_at: datetime
    undone_at: datetime | None
    undone_by: str
    resident: Resident | None  # the register's record in this desa (None: no longer held)


def _unavailable(exc: grpc.aio.AioRpcError) -> Unavailable:
    log.warning("intake sign-in call failed: %s", exc.code().name)
    return Unavailable("intake-unavailable", INTAKE_UNAVAILABLE)


def _datetime(ts: Timestamp) -> datetime | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


async def list_bindings(
    session: AsyncSession,
    intake: intake_pb2_grpc.IntakeServiceAsyncStub,
    rpc_timeout: float,
    *,
    desa_code: str,
    roles: list[str],
    actor: str,
    include_undone: bool = False,
) -> list[Binding]:
    """The desa's sign-in bindings, newest first, each with the register's record (the read
    is logged with its purpose)."""
    require_editor(roles)
    try:
        answer = await intake.ListSignInBindings(
            intake_pb2.ListSignInBindingsRequest(
                desa_code=desa_code, include_undone=include_undone
            ),
            timeout=rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc) from exc
    records: dict[str, Resident] = {}
    for b in answer.bindings:
        if b.nik not in records:
            found = (
                await session.exec(
                    select(Resident).where(Resident.desa_code == desa_code, Resident.nik == b.nik)
                )
            ).first()
            if found is not None:
                records[b.nik] = found
    if records:
        log_reads(
            session, list(records.values()), actor=actor, purpose=BINDINGS_PURPOSE, kind="view"
        )
        await session.commit()
    return [
        Binding(
            id=b.id,
            phone=b.phone,
            bound_at=_datetime(b.bound_at) or utcnow(),
            undone_at=_datetime(b.undone_at),
            undone_by=b.undone_by,
            resident=records.get(b.nik),
        )
        for b in answer.bindings
    ]


async def undo_binding(
    intake: intake_pb2_grpc.IntakeServiceAsyncStub,
    rpc_timeout: float,
    *,
    desa_code: str,
    roles: list[str],
    actor: str,
    binding_id: str,
) -> bool:
    """Undoes a binding of this desa; False when it had been undone already."""
    require_editor(roles)
    try:
        answer = await intake.UndoSignInBinding(
            intake_pb2.UndoSignInBindingRequest(
                binding_id=binding_id, desa_code=desa_code, undone_by=actor
            ),
            timeout=rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(
                "binding-not-found", "Pengikatan nomor HP itu tidak ditemukan di desa ini."
            ) from exc
        raise _unavailable(exc) from exc
    log.info("sign-in binding %s undone by %s", binding_id, actor)
    return bool(answer.undone)


@dataclass(frozen=True)
class WhatsAppLink:
    id: str  # opaque (notification's key for the number)
    phone: str
    linked_at: datetime
    resident: Resident | None  # the register's record in this desa (None: no longer held)


NOTIFICATION_UNAVAILABLE = (
    "Layanan WhatsApp sedang tidak dapat dihubungi; tidak ada yang diubah. Silakan coba lagi."
)


async def list_whatsapp_links(
    session: AsyncSession,
    notification: notification_pb2_grpc.NotificationServiceAsyncStub | None,
    rpc_timeout: float,
    *,
    desa_code: str,
    roles: list[str],
    actor: str,
) -> list[WhatsAppLink]:
    """The WhatsApp numbers that linked themselves to a resident of the desa by family
    knowledge (notification keeps the link), each with the register's record."""
    require_editor(roles)
    if notification is None:
        raise Unavailable("notification-unavailable", NOTIFICATION_UNAVAILABLE)
    try:
        answer = await notification.ListWhatsAppLinks(
            notification_pb2.ListWhatsAppLinksRequest(desa_code=desa_code), timeout=rpc_timeout
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("notification link call failed: %s", exc.code().name)
        raise Unavailable("notification-unavailable", NOTIFICATION_UNAVAILABLE) from exc
    ids = {link.resident_id for link in answer.links}
    records = {
        r.id: r
        for r in (
            await session.exec(
                select(Resident).where(Resident.desa_code == desa_code, col(Resident.id).in_(ids))
            )
        ).all()
    }
    if records:
        log_reads(
            session, list(records.values()), actor=actor, purpose=BINDINGS_PURPOSE, kind="view"
        )
        await session.commit()
    return [
        WhatsAppLink(
            id=link.id,
            phone=link.phone,
            linked_at=_datetime(link.linked_at) or utcnow(),
            resident=records.get(link.resident_id),
        )
        for link in answer.links
    ]


async def undo_whatsapp_link(
    notification: notification_pb2_grpc.NotificationServiceAsyncStub | None,
    rpc_timeout: float,
    *,
    desa_code: str,
    roles: list[str],
    actor: str,
    link_id: str,
) -> bool:
    """Undoes a WhatsApp link of this desa: the number is unknown again and its conversation
    ends. False when it had been undone already."""
    require_editor(roles)
    if notification is None:
        raise Unavailable("notification-unavailable", NOTIFICATION_UNAVAILABLE)
    try:
        answer = await notification.UndoWhatsAppLink(
            notification_pb2.UndoWhatsAppLinkRequest(
                desa_code=desa_code, link_id=link_id, actor=actor
            ),
            timeout=rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(
                "link-not-found", "Nomor WhatsApp itu tidak ditemukan di desa ini."
            ) from exc
        log.warning("notification link call failed: %s", exc.code().name)
        raise Unavailable("notification-unavailable", NOTIFICATION_UNAVAILABLE) from exc
    log.info("WhatsApp link undone by %s", actor)
    return bool(answer.undone)


async def change_phone(
    session: AsyncSession,
    intake: intake_pb2_grpc.IntakeServiceAsyncStub,
    rpc_timeout: float,
    *,
    desa_code: str,
    roles: list[str],
    actor: str,
    resident_id: str,
    phone: str,
    checked_in_person: bool,
    note: str = "",
) -> tuple[Resident, int]:
    """Records the resident's new phone after an in-person check: the register holds only
    it from now on. Intake is told first (sessions end, old numbers told); if it cannot be
    reached nothing is written. Returns the record and how many old numbers are told."""
    require_editor(roles)
    resident = await _resident_of(session, desa_code, resident_id)
    if not checked_in_person:
        raise Invalid("not-checked-in-person", NOT_CHECKED, field="checked_in_person")
    if resident.status != HIDUP:
        raise Conflict("resident-not-living", NOT_LIVING)
    try:
        new_phone = normalize_phone(phone)
    except InvalidPhone as exc:
        raise Invalid("invalid-phone", str(exc), field="phone") from exc
    old_phones = phones_of(resident.phones)
    if old_phones == [new_phone]:
        raise Conflict("same-phone", SAME_PHONE, field="phone")
    try:
        answer = await intake.ChangeSignInPhone(
            intake_pb2.ChangeSignInPhoneRequest(
                nik=resident.nik,
                new_phone=new_phone,
                old_phones=old_phones,
                desa_code=desa_code,
                changed_by=actor,
            ),
            timeout=rpc_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc) from exc
    before = resident.phones
    resident.phones = new_phone
    resident.version += 1
    resident.updated_at = utcnow()
    session.add(resident)
    session.add(
        ResidentChange(
            resident_id=resident.id,
            desa_code=desa_code,
            version=resident.version,
            field="phones",
            old_value=before,
            new_value=new_phone,
            source=SOURCE_OFFICE,
            note=" ".join(
                ["Diganti di kantor desa setelah KTP dan KK diperiksa langsung.", note.strip()]
            ).strip()[:200],
            changed_by=actor,
            changed_at=resident.updated_at,
        )
    )
    await session.commit()
    log.info("resident %s: phone changed at the office by %s", resident.id, actor)
    return resident, int(answer.told)
