"""Letters whose retention has run out (services/signing/retention.py): listed for the kabupaten
operator to appraise, never deleted here."""

from typing import Any

from fastapi import APIRouter

from services.signing.api.deps import KabupatenOperatorDep, RuntimeDep, SessionDep
from services.signing.retention import due_for_appraisal, schedule

router = APIRouter(prefix="/retention", tags=["retensi arsip"])


@router.get("/due")
async def list_due(
    _operator: KabupatenOperatorDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    now = runtime.clock()
    due = await due_for_appraisal(session, now)
    classes, default = schedule()
    return {
        "as_of": now.isoformat(),
        "note": (
            "Surat di bawah ini telah melewati masa retensi dan perlu dinilai. Tidak ada yang "
            "dimusnahkan otomatis: pemusnahan memerlukan penilaian dan berita acara pemusnahan."
        ),
        "letters": [d.to_json() for d in due],
        "schedule": [c.to_json() for c in classes.values()] + [default.to_json()],
    }
