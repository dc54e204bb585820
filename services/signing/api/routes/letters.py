"""The register, read by verification code: the same facts as the verification page, as JSON."""

from typing import Any

from fastapi import APIRouter

from common.http import Problem
from services.signing.api.deps import SessionDep, SettingsDep
from services.signing.register import find_by_code

router = APIRouter(prefix="/letters", tags=["letters"])


@router.get("/{code}")
async def get_letter(code: str, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    letter = await find_by_code(session, code, settings.public_verification_url)
    if letter is None:
        raise Problem(404, "Surat tidak ditemukan.", code="letter-not-found")
    return letter.to_json()
