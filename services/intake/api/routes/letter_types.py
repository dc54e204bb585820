"""The letter types a resident can request, with their syarat and form fields (public)."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.intake.api.deps import RuntimeDep
from services.intake.api.schemas import LetterTypeOut
from services.intake.letter_types import LETTER_TYPES
from services.intake.offered import offered_letter_types

router = APIRouter(prefix="/letter-types", tags=["jenis surat"])


@router.get("", response_model=list[LetterTypeOut])
async def list_letter_types(
    runtime: RuntimeDep,
    desa: Annotated[str | None, Query(max_length=20, description="kode desa")] = None,
) -> list[LetterTypeOut]:
    """Every letter type, or with `desa` only those that desa offers."""
    offered = await offered_letter_types(runtime.directory, desa) if desa else None
    return [
        LetterTypeOut.of(lt)
        for lt in LETTER_TYPES.values()
        if offered is None or lt.code in offered
    ]
