"""The desa's register of issued letters (buku agenda surat keluar): listed and exported as CSV,
for the staff of that desa only."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from common.wib import WIB
from services.signing.agenda import entries, to_csv
from services.signing.api.deps import SessionDep, StaffDep

router = APIRouter(prefix="/register", tags=["buku agenda surat keluar"])

Year = Annotated[int | None, Query(alias="tahun", ge=2000, le=2100)]


def _year(year: int | None) -> int:
    return year if year is not None else datetime.now(WIB).year


@router.get("")
async def list_register(staff: StaffDep, session: SessionDep, year: Year = None) -> dict[str, Any]:
    rows = await entries(session, staff.desa_code, _year(year))
    return {
        "desa_code": staff.desa_code,
        "year": _year(year),
        "letters": [r.to_json() for r in rows],
    }


@router.get(".csv")
async def export_register(staff: StaffDep, session: SessionDep, year: Year = None) -> Response:
    y = _year(year)
    rows = await entries(session, staff.desa_code, y)
    filename = f"buku-agenda-surat-keluar-{staff.desa_code}-{y}.csv"
    return Response(
        content=to_csv(rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
