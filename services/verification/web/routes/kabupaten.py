"""The kabupaten view (/kabupaten) for Diskominfo's operator and DPMD's viewer: letters per
kecamatan and desa by state, each role's time per step, the overdue list, every row linked to
the Temporal UI filtered to it. Same dependency and numbers as GET /api/v1/kabupaten/summary;
a desa staff member gets the refusal page."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain import ROLE_LABELS
from common.wib import indonesian_date
from services.verification.api.deps import SessionDep, SettingsDep, kabupaten_staff
from services.verification.kabupaten_view import (
    STATE_NAMES,
    Area,
    Filters,
    Period,
    PeriodError,
    kabupaten_summary,
    temporal_ui,
    today_wib,
)
from services.verification.web.number_search import (
    NUMBER_FORM_MAX,
    Search,
    SearchRefused,
    found_at,
)
from services.verification.web.pages import StaffPage, StaffPageDep, render, templates

router = APIRouter(include_in_schema=False)

SEARCH_PATH = "/kabupaten/cari"

PERIODS = (
    ("30-hari", "30 hari terakhir"),
    ("bulan-ini", "Bulan ini"),
    ("pilihan", "Tanggal pilihan"),
)


def hours_text(value: float | None, working: bool = False) -> str:
    """Hours as people read them: '2,5 jam kerja', '40 menit', '1 hari 3 jam', '–' for none."""
    if value is None:
        return "–"
    kerja = " kerja" if working else ""
    if working and value == 0:
        return "0 jam kerja"
    if value * 60 < 1:
        return f"kurang dari 1 menit{kerja}"
    if value < 1:
        return f"{round(value * 60)} menit{kerja}"
    if working or value < 24:
        return f"{value:.1f}".replace(".", ",").removesuffix(",0") + f" jam{kerja}"
    days, hours = divmod(round(value), 24)
    return f"{days} hari {hours} jam" if hours else f"{days} hari"


templates.env.filters["jam"] = hours_text


def _date(name: str, text: str, errors: dict[str, str]) -> date | None:
    if not text:
        errors[name] = "Isi tanggal."
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = "Tanggal tidak sah; tulis seperti 2026-12-31."
        return None


@router.get("/kabupaten", dependencies=[Depends(kabupaten_staff)])
async def kabupaten_page(
    request: Request,
    page: StaffPageDep,
    session: SessionDep,
    settings: SettingsDep,
    periode: Annotated[str, Query(max_length=20)] = "30-hari",
    dari: Annotated[str, Query(max_length=20)] = "",
    sampai: Annotated[str, Query(max_length=20)] = "",
    kecamatan: Annotated[str, Query(max_length=20)] = "",
    desa: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    return await _kabupaten_page(
        request, page, session, settings, periode, dari, sampai, kecamatan, desa
    )


@router.post(SEARCH_PATH, dependencies=[Depends(kabupaten_staff)])
async def search_by_number(
    request: Request,
    page: StaffPageDep,
    session: SessionDep,
    settings: SettingsDep,
    nomor: Annotated[str, Form(max_length=NUMBER_FORM_MAX)] = "",
) -> Response:
    """ "Cari nomor permohonan": the application's page for the operator while its step is
    escalated to them, else its row in this view's overdue list, else "not found" (one answer
    for unknown and not theirs: staff_tasks.find_by_number)."""
    try:
        return RedirectResponse(await found_at(session, page, nomor), status_code=303)
    except SearchRefused as exc:
        search = Search(nomor.strip(), exc.message)
        return await _kabupaten_page(
            request, page, session, settings, search=search, status_code=exc.status
        )


async def _kabupaten_page(
    request: Request,
    page: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    periode: str = "30-hari",
    dari: str = "",
    sampai: str = "",
    kecamatan: str = "",
    desa: str = "",
    *,
    search: Search | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    staff = page.staff
    area = Area.of(staff.kabupaten_code)
    today = today_wib()
    errors: dict[str, str] = {}
    if periode == "bulan-ini":
        period = Period.this_month(today)
    elif periode == "pilihan":
        start, end = _date("dari", dari, errors), _date("sampai", sampai, errors)
        period = Period(start or today, end or today)
    else:
        periode = "30-hari"
        period = Period.last_days(today)
    summary = None
    if not errors:
        try:
            summary = await kabupaten_summary(
                session,
                staff.kabupaten_code,
                Filters(period, kecamatan or None, desa or None),
                temporal_ui(settings),
            )
        except PeriodError as exc:
            errors[exc.field] = exc.message
    desa_options = [("", "Semua desa")] + [
        (code, f"{name} ({area.kecamatan_name(kec)})")
        for code, (name, kec) in area.desa.items()
        if not kecamatan or kec == kecamatan
    ]
    return render(
        request,
        "kabupaten.html",
        {
            "title": "Pantauan kabupaten",
            "nav_active": "kabupaten",
            "summary": summary,
            "errors": errors,
            "periode": periode,
            "periods": PERIODS,
            "dari": dari or period.start.isoformat(),
            "sampai": sampai or period.end.isoformat(),
            "period_text": f"{indonesian_date(period.start)} – {indonesian_date(period.end)}",
            "kecamatan": kecamatan,
            "desa": desa,
            "kecamatan_options": [("", "Semua kecamatan"), *area.kecamatan.items()],
            "desa_options": desa_options,
            "state_names": STATE_NAMES,
            "role_names": ROLE_LABELS,
            "flash": "Periksa kembali isian penyaring." if errors else None,
            "flash_kind": "galat",
            "search": search or Search(),
            "search_action": SEARCH_PATH,
        },
        page=page,
        status_code=422 if errors else status_code,
    )
