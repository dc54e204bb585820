"""The letter types a resident can request, with their syarat and form fields (public)."""

from fastapi import APIRouter

from services.intake.api.schemas import LetterTypeOut
from services.intake.letter_types import LETTER_TYPES

router = APIRouter(prefix="/letter-types", tags=["jenis surat"])


@router.get("", response_model=list[LetterTypeOut])
async def list_letter_types() -> list[LetterTypeOut]:
    return [LetterTypeOut.of(lt) for lt in LETTER_TYPES.values()]
