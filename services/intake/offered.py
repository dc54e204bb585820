"""Which letter types a desa offers: asked of verification's DirectoryService, which holds the
desa's choice (every known type is offered until the desa switches one off).

If verification cannot be reached, every type counts as offered (the lookup fails open): a
resident can still start a draft, and nothing changes for a desa that never chose. The check
that matters happens when intake creates an application; `ensure_offered` raises the refusal.
"""

import logging

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.domain.errors import Invalid
from services.intake.letter_types import LetterType

log = logging.getLogger(__name__)

NOT_OFFERED = "Desa ini belum melayani surat ini."
NOT_OFFERED_CODE = "letter-type-not-offered"
LOOKUP_TIMEOUT_SECONDS = 3.0


async def offered_letter_types(
    directory: directory_pb2_grpc.DirectoryServiceStub, desa_code: str
) -> set[str] | None:
    """The codes the desa offers, or None when verification did not answer (all offered)."""
    try:
        response = await directory.ListOfferedLetterTypes(
            directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("offered letter types unknown (verification: %s)", exc.code().name)
        return None
    return set(response.letter_types)


async def ensure_offered(
    directory: directory_pb2_grpc.DirectoryServiceStub,
    desa_code: str,
    letter: LetterType | None,
) -> None:
    """Refuses (Invalid) a letter type the desa switched off."""
    if letter is None:  # unknown types get create_application's own refusal
        return
    offered = await offered_letter_types(directory, desa_code)
    if offered is not None and letter.code not in offered:
        raise Invalid(NOT_OFFERED_CODE, NOT_OFFERED, field="letter_type")
