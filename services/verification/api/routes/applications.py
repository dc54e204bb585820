"""An application as the letter it will become: the unsigned preview, rendered by signing from
the application intake holds, for the staff of the application's desa whose role has (or had)
a step on it, or the kabupaten operator for a step escalated to them
(`staff_tasks.letter_preview`)."""

from fastapi import APIRouter
from fastapi.responses import Response

from services.verification import staff_tasks
from services.verification.api.deps import RuntimeDep, SessionDep, TaskDesk
from services.verification.api.params import ApplicationId

router = APIRouter(prefix="/applications", tags=["permohonan"])


@router.get(
    "/{application_id}/preview",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def preview_letter(
    application_id: ApplicationId,
    desk: TaskDesk,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    """The letter exactly as it will be issued, unsigned, without its number and watermarked
    "PRATINJAU — BUKAN SURAT SAH". Takes no number and stores nothing."""
    content = await staff_tasks.letter_preview(
        runtime, session, desk.staff, desk.roles, application_id
    )
    return Response(
        content=content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'inline; filename="pratinjau-surat.pdf"',
            "X-Content-Type-Options": "nosniff",
            # Personal data: never kept by shared caches.
            "Cache-Control": "private, no-store",
        },
    )
