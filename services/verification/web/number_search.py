""" "Cari nomor permohonan" on the staff inbox and the kabupaten view (issue 15: the number
the resident reads out, which staff and Diskominfo search by). Both pages call
`staff_tasks.find_by_number`, as `GET /api/v1/tasks/by-number/{number}` calls its desk rule."""

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain.errors import DomainError
from common.web.refusals import refusal_of
from services.verification import staff_tasks
from services.verification.web.pages import StaffPage

# Longer than any number (SKU-2026-000123), so what was typed comes back with the message
# instead of a bare validation error.
NUMBER_FORM_MAX = 64
NUMBER_MAX = 32
EMPTY = "Isi nomor permohonan, misalnya SKU-2026-000123."


@dataclass(frozen=True)
class Search:
    """The search box as the page shows it again: what was typed and why it found nothing."""

    number: str = ""
    error: str | None = None


class SearchRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def kabupaten_overdue_url(kecamatan_code: str, desa_code: str, application_id: str) -> str:
    """The kabupaten view filtered to the application's desa, at its overdue row."""
    query = urlencode({"kecamatan": kecamatan_code, "desa": desa_code})
    return f"/kabupaten?{query}#surat-{application_id}"


async def found_at(session: AsyncSession, page: StaffPage, number: str) -> str:
    """Where the signed-in staff member sees the application `number` names."""
    if not number.strip():
        raise SearchRefused(422, EMPTY)
    if len(number.strip()) > NUMBER_MAX:
        raise SearchRefused(404, staff_tasks.NUMBER_NOT_FOUND)
    try:
        found = await staff_tasks.find_by_number(session, page.staff, number)
    except DomainError as exc:
        refusal = refusal_of(exc)
        raise SearchRefused(refusal.status, refusal.message) from exc
    if found.overdue is not None:
        task = found.overdue
        return kabupaten_overdue_url(task.kecamatan_code, task.desa_code, task.application_id)
    return f"/permohonan/{found.application_id}"
