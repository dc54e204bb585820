"""Revoking an issued letter: the Kepala Desa of the letter's desa withdraws it with a reason.
The register row and the public `letter.revoked` event change in one transaction (outbox);
verification shows the letter as revoked from then on. Revoking a revoked letter again changes
nothing and publishes nothing."""

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound
from common.domain.events import LETTER_REVOKED
from common.events import (
    AreaCodes,
    CloudEvent,
    deterministic_event_id,
    event_type,
    public_subject,
)
from common.outbox import stage_event
from services.signing.models import Letter, LetterStatus, as_utc, utcnow

log = logging.getLogger(__name__)

EVENT_SOURCE = "/services/signing"  # as intake's events name their source
REVOKING_ROLE = Role.KADES
MIN_REASON = 5
MAX_REASON = 500


@dataclass(frozen=True)
class Revocation:
    letter_id: str
    desa_code: str  # of the one asking; must be the letter's
    actor_username: str
    actor_role: str
    reason: str


def revoked_event(letter: Letter) -> CloudEvent:
    """Public: no reason text (it may name the resident), no personal data."""
    area = AreaCodes.from_desa(letter.desa_code)
    assert letter.revoked_at is not None
    return CloudEvent(
        id=deterministic_event_id(letter.id, LETTER_REVOKED),
        source=EVENT_SOURCE,
        type=event_type(LETTER_REVOKED),
        subject=letter.application_id,
        time=as_utc(letter.revoked_at),
        data={
            "application_id": letter.application_id,
            "desa_code": area.desa,
            "kecamatan_code": area.kecamatan,
            "kabupaten_code": area.kabupaten,
            "letter_type": letter.letter_type,
            "status": LetterStatus.REVOKED.value,
            "letter_number": letter.number,
            "letter_id": letter.id,
        },
    )


async def revoke_letter(
    sessions: async_sessionmaker[AsyncSession], request: Revocation
) -> tuple[Letter, bool]:
    """Returns the letter and whether this call revoked it. Refuses with a domain error
    (Forbidden, Invalid, NotFound, Conflict) whose message is for staff (Indonesian)."""
    reason = request.reason.strip()
    if request.actor_role != REVOKING_ROLE:
        raise Forbidden("not-kades", "Hanya Kepala Desa yang dapat mencabut surat.")
    if not request.actor_username:
        raise Invalid("actor-missing", "Nama pengguna yang mencabut wajib diisi.")
    if len(reason) < MIN_REASON:
        raise Invalid(
            "reason", f"Alasan pencabutan wajib diisi (paling sedikit {MIN_REASON} huruf)."
        )
    if len(reason) > MAX_REASON:
        raise Invalid("reason-too-long", f"Alasan pencabutan paling panjang {MAX_REASON} huruf.")
    async with sessions() as session:
        letter = await session.get(Letter, request.letter_id, with_for_update=True)
        # Another desa's letter reads as missing: its existence is not theirs to learn.
        if letter is None or letter.desa_code != request.desa_code:
            raise NotFound("letter-not-found", "Surat tidak ditemukan.")
        if letter.status == LetterStatus.REVOKED.value:
            return letter, False
        if letter.status != LetterStatus.VALID.value:
            raise Conflict("not-issued", "Surat ini belum terbit sehingga belum dapat dicabut.")
        letter.status = LetterStatus.REVOKED.value
        letter.revoked_at = utcnow()
        letter.revoked_by = request.actor_username
        letter.revocation_reason = reason
        session.add(letter)
        await stage_event(
            session, public_subject(letter.desa_code, LETTER_REVOKED), revoked_event(letter)
        )
        try:
            await session.commit()
        except IntegrityError:
            # A concurrent revocation committed first (same event id): that one stands.
            await session.rollback()
            winner = await session.get(Letter, request.letter_id, populate_existing=True)
            assert winner is not None
            return winner, False
        await session.refresh(letter)
    log.info("letter %s revoked", letter.id)
    return letter, True
