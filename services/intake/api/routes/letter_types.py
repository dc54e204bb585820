"""The letter types a resident can request, with their syarat and form fields (public): the
catalogue's current versions (services/intake/catalogue.py), 503 when it cannot be read."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.intake.api.deps import RuntimeDep
from services.intake.api.schemas import LetterTypeOut
from services.intake.offered import offered_letter_types

router = APIRouter(prefix="/letter-types", tags=["jenis surat"])


@router.get("", response_model=list[LetterTypeOut])
async def list_letter_types(
    runtime: RuntimeDep,
    desa: Annotated[str | None, Query(max_length=20, description="kode desa")] = None,
) -> list[LetterTypeOut]:
    """Every letter type residents may request online, or with `desa` only those that desa
    offers."""
    current = await runtime.catalogue.current()
    offered = await offered_letter_types(runtime.directory, desa) if desa else None
    return [
        LetterTypeOut.of(lt) for lt in current.values() if offered is None or lt.code in offered
    ]
