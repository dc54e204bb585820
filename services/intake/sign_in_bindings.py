"""What the desa's operator sees and does about residents' sign-in (issue 13 item 6): the
bindings a first sign-in made by proving family knowledge (the register held no phone for the
NIK), undoing one, and a phone changed at the office after an in-person check. Verification's
staff pages and API call these over gRPC (IntakeService.ListSignInBindings,
UndoSignInBinding, ChangeSignInPhone); intake owns residents' identities and sessions.

Notices go out through the outbox as `resident.sign_in_notice` events that carry no NIK or
phone: the notification service tells the desa's operators of a new binding, and asks intake
for the old number (GetContact by sign_in_notice_id) to tell it that it no longer signs in.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from smartdesa.v1 import events_pb2
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain.errors import Invalid, NotFound
from common.domain.events import SIGN_IN_NOTICE
from common.events import (
    CloudEvent,
    deterministic_event_id,
    event_type,
    internal_subject,
    proto_data,
)
from common.nik import is_valid_nik
from common.outbox import stage_event
from common.phone import InvalidPhone, normalize_phone
from services.intake.applications import EVENT_SOURCE
from services.intake.models import Resident, ResidentEndedSession, SignInBinding, SignInNotice

log = logging.getLogger(__name__)

BOUND = "bound"
PHONE_CHANGED = "phone_changed"
_SIGNED_IN = "signed-in resident"  # session.info key

BINDING_NOT_FOUND = "Pengikatan nomor HP itu tidak ditemukan di desa ini."


@dataclass(frozen=True)
class BindingView:
    id: str
    nik: str
    phone: str
    bound_at: datetime
    undone_at: datetime | None
    undone_by: str


async def resident_session_valid(
    session: AsyncSession, resident_id: str, session_id: str | None, session_version: int | None
) -> bool:
    """The resident exists, no operator ended their sessions since the token was issued (a
    binding undone, the phone changed at the office; a token without `sv` counts as 0), and
    this token was not signed out (`common.sessions.session_ended`). One query, as every
    resident request asks it; the resident is loaded fresh into the session, so a later
    `session.get` of them in the same session reads nothing."""
    if session_id is None:
        return False  # a token without an id cannot be signed out, so it is not accepted
    signed_out = (
        select(ResidentEndedSession.session_id)
        .where(col(ResidentEndedSession.session_id) == session_id)
        .exists()
    )
    row = (
        await session.exec(
            select(Resident, signed_out)
            .where(col(Resident.id) == resident_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return False
    resident, ended = row
    # Held for the session's life: the identity map holds objects weakly, and the request's
    # later `session.get(Resident, …)` (its NIK, its phone) then reads nothing.
    session.info[_SIGNED_IN] = resident
    return not ended and resident.session_version == (session_version or 0)


async def new_notice(session: AsyncSession, kind: str, desa_code: str, phone: str = "") -> None:
    """Writes a notice and stages its event in the caller's transaction."""
    notice = SignInNotice(kind=kind, desa_code=desa_code, phone=phone)
    session.add(notice)
    await stage_event(
        session,
        internal_subject(SIGN_IN_NOTICE),
        CloudEvent(
            id=deterministic_event_id("sign-in-notice", notice.id),
            source=EVENT_SOURCE,
            type=event_type(SIGN_IN_NOTICE),
            subject=notice.id,
            time=notice.created_at,
            data=proto_data(
                events_pb2.SignInNotice(notice_id=notice.id, kind=kind, desa_code=desa_code)
            ),
        ),
    )


async def notice_phone(session: AsyncSession, notice_id: str) -> str | None:
    """The old number a phone_changed notice goes to; None for any other notice."""
    notice = await session.get(SignInNotice, notice_id)
    if notice is None or notice.kind != PHONE_CHANGED or not notice.phone:
        return None
    return notice.phone


async def list_bindings(
    session: AsyncSession, desa_code: str, include_undone: bool = False, limit: int = 200
) -> list[BindingView]:
    """The desa's bindings, newest first."""
    query = (
        select(SignInBinding, Resident)
        .join(Resident, col(Resident.id) == col(SignInBinding.resident_id))
        .where(SignInBinding.desa_code == desa_code)
        .order_by(col(SignInBinding.bound_at).desc())
        .limit(limit)
    )
    if not include_undone:
        query = query.where(col(SignInBinding.undone_at).is_(None))
    rows = (await session.exec(query)).all()
    return [
        BindingView(b.id, r.nik, b.phone, b.bound_at, b.undone_at, b.undone_by) for b, r in rows
    ]


async def undo_binding(session: AsyncSession, binding_id: str, desa_code: str, by: str) -> bool:
    """Undoes a binding of this desa: the NIK's phone is unbound (its next sign-in proves the
    family knowledge again, or follows the phone the operator records in the register) and
    every session the resident holds ends. False when it was undone already."""
    binding = await session.get(SignInBinding, binding_id)
    if binding is None or binding.desa_code != desa_code:
        raise NotFound("binding-not-found", BINDING_NOT_FOUND)
    if binding.undone_at is not None:
        return False
    binding.undone_at = utcnow()
    binding.undone_by = by
    session.add(binding)
    resident = await session.get(Resident, binding.resident_id)
    if resident is not None and resident.phone == binding.phone:
        resident.phone = ""
        resident.session_version += 1
        session.add(resident)
    await session.commit()
    log.info("sign-in binding %s undone by staff", binding.id)
    return True


async def change_phone(
    session: AsyncSession,
    nik: str,
    new_phone: str,
    old_phones: list[str],
    desa_code: str,
) -> int:
    """The operator changed the resident's phone in the register at the office: the resident
    signs in with `new_phone` from now on, every session they hold ends, and each old number
    (the register's and the one bound here) is told. Returns how many numbers are told."""
    if not is_valid_nik(nik):
        raise Invalid("invalid-nik", "NIK tidak valid.", field="nik")
    try:
        new_phone = normalize_phone(new_phone)
        old = {normalize_phone(p) for p in old_phones if p}
    except InvalidPhone as exc:
        raise Invalid("invalid-phone", str(exc), field="phone") from exc
    resident = (await session.exec(select(Resident).where(Resident.nik == nik))).first()
    if resident is not None:
        if resident.phone:
            old.add(resident.phone)
        resident.phone = new_phone
        resident.session_version += 1
        session.add(resident)
    told = sorted(old - {new_phone})
    for phone in told:
        await new_notice(session, PHONE_CHANGED, desa_code, phone)
    await session.commit()
    log.info("sign-in phone changed at the office; %d old numbers told", len(told))
    return len(told)
