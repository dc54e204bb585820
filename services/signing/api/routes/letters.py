"""The register, read by verification code: the same facts as the verification page, as JSON;
and revocation of an issued letter by the Kepala Desa of its desa."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from common.http import Problem
from services.signing.api.deps import RuntimeDep, SessionDep, SettingsDep, StaffDep
from services.signing.register import find_by_code
from services.signing.revocation import MAX_REASON, Revocation, revoke_letter

router = APIRouter(prefix="/letters", tags=["letters"])


@router.get("/{code}")
async def get_letter(code: str, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    letter = await find_by_code(session, code, settings.public_verification_url)
    if letter is None:
        raise Problem(404, "Surat tidak ditemukan.", code="letter-not-found")
    return letter.to_json()


class RevocationBody(BaseModel):
    reason: str = Field(max_length=MAX_REASON * 2)


@router.post("/{letter_id}/revocation")
async def revoke(
    letter_id: str, body: RevocationBody, staff: StaffDep, runtime: RuntimeDep
) -> dict[str, Any]:
    letter, revoked = await revoke_letter(
        runtime.sessions,
        Revocation(
            letter_id=letter_id,
            desa_code=staff.desa_code,
            actor_username=staff.username,
            actor_role=staff.role,
            reason=body.reason,
        ),
    )
    if revoked:
        runtime.relay.wake()
    assert letter.revoked_at is not None
    return {
        "letter_id": letter.id,
        "number": letter.number,
        "status": letter.status,
        "revoked_at": letter.revoked_at.isoformat(),
        "revoked_by": letter.revoked_by,
        "reason": letter.revocation_reason,
    }
