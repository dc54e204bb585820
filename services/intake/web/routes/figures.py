"""The open performance figures (issue 19 item 4) on the portal, for anyone: a page, and the
same rows as CSV and JSON (services/intake/performance.py). No sign-in; no personal data;
small cells suppressed."""

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.intake import performance
from services.intake.api.deps import RuntimeDep, SessionDep
from services.intake.satisfaction import MIN_ANSWERS_SHOWN
from services.intake.web.pages import render

router = APIRouter(include_in_schema=False)

FIGURES_PATH = "/angka-kinerja"
DEFAULT_KABUPATEN = "32.13"  # Subang, the programme's kabupaten
Month = Annotated[str | None, Query(max_length=7)]
Kabupaten = Annotated[str, Query(max_length=5)]


def _month(bulan: str | None) -> str:
    return bulan or performance.current_month(datetime.now(UTC))


@router.get(FIGURES_PATH)
async def figures_page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    bulan: Month = None,
    kabupaten: Kabupaten = DEFAULT_KABUPATEN,
) -> HTMLResponse:
    month = _month(bulan)
    rows = await performance.figures(runtime, session, kabupaten, month)
    query = f"kabupaten={kabupaten}&bulan={month}"
    return render(
        request,
        "angka-kinerja.html",
        {
            "title": "Angka kinerja layanan",
            "rows": rows,
            "month": month,
            "kabupaten": kabupaten,
            "min_count": performance.MIN_COUNT,
            "min_answers": MIN_ANSWERS_SHOWN,
            "csv_url": f"{FIGURES_PATH}.csv?{query}",
            "json_url": f"{FIGURES_PATH}.json?{query}",
        },
    )


@router.get(FIGURES_PATH + ".csv")
async def figures_csv(
    runtime: RuntimeDep,
    session: SessionDep,
    bulan: Month = None,
    kabupaten: Kabupaten = DEFAULT_KABUPATEN,
) -> Response:
    month = _month(bulan)
    rows = await performance.figures(runtime, session, kabupaten, month)
    filename = f"angka-kinerja-{kabupaten.replace('.', '')}-{month}.csv"
    return Response(
        performance.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(FIGURES_PATH + ".json")
async def figures_json(
    runtime: RuntimeDep,
    session: SessionDep,
    bulan: Month = None,
    kabupaten: Kabupaten = DEFAULT_KABUPATEN,
) -> Response:
    month = _month(bulan)
    rows = await performance.figures(runtime, session, kabupaten, month)
    body = {
        "kabupaten": kabupaten,
        "month": month,
        "suppression": {
            "min_count": performance.MIN_COUNT,
            "min_survey_answers": MIN_ANSWERS_SHOWN,
        },
        "columns": list(performance.COLUMNS),
        "rows": rows,
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
