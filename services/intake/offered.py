"""Which letter types a desa offers: asked of verification's DirectoryService, which holds the
desa's choice (every known type is offered until the desa switches one off).

If verification cannot be reached, every type counts as offered (the lookup fails open): a
resident can still start a draft, and nothing changes for a desa that never chose. The check
that matters happens when intake creates an application; `ensure_offered` raises the refusal.

A desa a kabupaten operator has not switched on (or switched off) offers nothing: a new
application (a draft, or a draft's submission) is refused with verification's reason, in
Indonesian. Applications already submitted are not asked about again: they finish.
"""

import logging
from dataclasses import dataclass

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.domain.errors import Invalid
from services.intake.letter_types import LetterType

log = logging.getLogger(__name__)

NOT_OFFERED = "Desa ini belum melayani surat ini."
NOT_OFFERED_CODE = "letter-type-not-offered"
DESA_CLOSED = "Desa ini belum atau tidak lagi menerima permohonan surat baru melalui Smart Desa."
DESA_CLOSED_CODE = "desa-not-serving"
LOOKUP_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Offer:
    """What verification says of a desa: the letter types it offers, or why it takes no new
    applications at all (a desa a kabupaten operator has not switched on, or switched off)."""

    letter_types: set[str]
    closed_reason: str = ""


async def desa_offer(
    directory: directory_pb2_grpc.DirectoryServiceStub, desa_code: str
) -> Offer | None:
    """The desa's offer, or None when verification did not answer (all offered)."""
    try:
        response = await directory.ListOfferedLetterTypes(
            directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("offered letter types unknown (verification: %s)", exc.code().name)
        return None
    if response.desa_closed:
        return Offer(set(), response.closed_reason or DESA_CLOSED)
    return Offer(set(response.letter_types))


async def offered_letter_types(
    directory: directory_pb2_grpc.DirectoryServiceStub, desa_code: str
) -> set[str] | None:
    """The codes the desa offers, or None when verification did not answer (all offered)."""
    offer = await desa_offer(directory, desa_code)
    return offer.letter_types if offer is not None else None


async def ensure_offered(
    directory: directory_pb2_grpc.DirectoryServiceStub,
    desa_code: str,
    letter: LetterType | None,
) -> None:
    """Refuses (Invalid) a new application of a desa that is switched off, and a letter type
    the desa switched off."""
    if letter is None:  # unknown types get create_application's own refusal
        return
    offer = await desa_offer(directory, desa_code)
    if offer is not None and offer.closed_reason:
        raise Invalid(DESA_CLOSED_CODE, offer.closed_reason, field="desa_code")
    if offer is not None and letter.code not in offer.letter_types:
        raise Invalid(NOT_OFFERED_CODE, NOT_OFFERED, field="letter_type")


async def serving_desa(directory: directory_pb2_grpc.DirectoryServiceStub) -> set[str] | None:
    """The desa that take new applications, or None when verification did not answer (then
    every desa is shown, and the application itself is refused with the reason)."""
    try:
        response = await directory.ListServingDesa(
            directory_pb2.ListServingDesaRequest(), timeout=LOOKUP_TIMEOUT_SECONDS
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("serving desa unknown (verification: %s)", exc.code().name)
        return None
    return set(response.desa_codes)
