"""Desa administration, the overview (/pengaturan) and the working calendar and revision rules
(/pengaturan/jam-kerja). Every desa staff member sees both (the API lets them read the
settings); only the Sekdes and the Kades (also as Plt) change the calendar, as PUT
/api/v1/settings allows. The other areas have their own routers: staff_accounts, plt_pages,
letter_settings; the desa profile (/pengaturan/profil) is the profile area's."""

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.domain.errors import DomainError
from common.web.refusals import Refusal, refusal_of
from common.wib import DAY_NAMES, MONTHS, WIB, indonesian_date
from services.verification import route_admin
from services.verification.api.deps import DesaManager, DesaStaff, SessionDep, desa_staff
from services.verification.route_admin import DayHoursIO, SettingsIO, SettingsOut, hhmm
from services.verification.routes import MINUTE_STEP, clock
from services.verification.staff_admin import administers_desa
from services.verification.web.pages import StaffPage, StaffPageDep, render
from workflows.approval.days_off import national_days_off

router = APIRouter(prefix="/pengaturan", include_in_schema=False)

# Messages shown after a change (the redirect names one by key: no free text in URLs).
MESSAGES = {
    "akun-dibuat": "Akun staf dibuat.",
    "jabatan-diubah": "Jabatan diubah. Sesi lama akun itu berakhir; ia perlu masuk kembali.",
    "akun-nonaktif": "Akun dinonaktifkan.",
    "akun-aktif": "Akun diaktifkan kembali.",
    "sandi-diubah": "Kata sandi awal disimpan. Sampaikan kepada pemilik akun secara langsung.",
    "plt-ditetapkan": "Plt ditetapkan.",
    "plt-diakhiri": "Masa Plt diakhiri.",
    "rute-disimpan": "Alur surat disimpan. Berlaku untuk permohonan yang diajukan sesudah ini.",
    "rute-bawaan": "Alur surat dikembalikan ke bawaan.",
    "layanan-diubah": "Layanan jenis surat diubah. Permohonan yang sudah diajukan tetap diproses sampai selesai.",
    "jam-disimpan": "Jam kerja dan aturan perbaikan disimpan.",
    "penduduk-ditambah": "Penduduk ditambahkan ke data penduduk desa.",
    "penduduk-diubah": "Data penduduk disimpan. Perubahannya tercatat di riwayat.",
    "status-diubah": "Status penduduk diubah. Datanya tetap tersimpan.",
}


def done(path: str, message: str) -> RedirectResponse:
    """After a change: back to `path` with the message of key `message`."""
    assert message in MESSAGES
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}pesan={message}", status_code=303)


def flash_of(request: Request) -> dict[str, Any]:
    message = MESSAGES.get(request.query_params.get("pesan", ""))
    return {"flash": message, "flash_kind": "ok"} if message else {}


def refusal_flash(refused: Refusal) -> dict[str, Any]:
    """A refused change above its form: the message, and each broken rule when there are
    several (`errors`)."""
    errors = refused.details.get("errors")
    return {
        "flash": refused.message,
        "flash_kind": "galat",
        "errors": errors if isinstance(errors, list) else [refused.message],
        "error_field": refused.field,
    }


def problem_flash(exc: DomainError) -> dict[str, Any]:
    return refusal_flash(refusal_of(exc))


async def administers(page: StaffPage, session: SessionDep) -> bool:
    return await administers_desa(session, page.staff.desa_code, page.roles)


@router.get("", dependencies=[Depends(desa_staff)])
async def overview(request: Request, page: StaffPageDep, session: SessionDep) -> HTMLResponse:
    return render(
        request,
        "pengaturan/ringkasan.html",
        {
            "title": "Pengaturan desa",
            "nav_active": "pengaturan",
            "may_administer": await administers(page, session),
            **flash_of(request),
        },
        page=page,
    )


def _times(first: int, last: int) -> list[tuple[str, str]]:
    """Half-hour choices between two minutes of the day: ("07:30", "07.30")."""
    return [(hhmm(m), clock(m)) for m in range(first, last + 1, MINUTE_STEP)]


START_TIMES = _times(0, 24 * 60 - MINUTE_STEP)
END_TIMES = _times(MINUTE_STEP, 24 * 60)
DEFAULT_DAY = ("08:00", "16:00")


def month_of(text: str | None, today: date) -> date:
    """The first day of the month to show: `YYYY-MM` if it is one within a year or two of
    today, else this month."""
    try:
        first = date(int(str(text)[:4]), int(str(text)[5:7]), 1) if text else None
    except ValueError:
        first = None
    if first is None or not today.year - 1 <= first.year <= today.year + 2:
        return today.replace(day=1)
    return first


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_grid(first: date, chosen: set[str], national: set[str]) -> list[list[dict[str, Any]]]:
    """The weeks of the month (Monday first), each day a cell the page turns into a checkbox;
    None pads the first and last week."""
    cells: list[dict[str, Any] | None] = [None] * (first.isoweekday() - 1)
    day = first
    while day.month == first.month:
        iso = day.isoformat()
        cells.append(
            {
                "iso": iso,
                "day": day.day,
                "label": f"{DAY_NAMES[day.isoweekday()]}, {indonesian_date(day)}",
                "chosen": iso in chosen,
                "national": iso in national,
            }
        )
        day += timedelta(days=1)
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]  # type: ignore[misc]


def calendar_context(values: dict[str, Any], first: date) -> dict[str, Any]:
    chosen = set(values["local_days_off"])
    national = set(national_days_off(first.year, 1))
    in_month = {d for d in chosen if d.startswith(first.isoformat()[:7])}
    return {
        "month": first,
        "month_name": f"{MONTHS[first.month - 1]} {first.year}",
        "weeks": month_grid(first, chosen, national),
        "previous_month": _shift(first, -1),
        "next_month": _shift(first, 1),
        "month_label": lambda d: f"{MONTHS[d.month - 1]} {d.year}",
        # Days off of other months travel with the form, so moving between months keeps them.
        "other_days_off": sorted(chosen - in_month),
        "days_off_words": [_day_words(d) for d in sorted(chosen)],
    }


def _day_words(iso: str) -> str:
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{DAY_NAMES[day.isoweekday()]}, {indonesian_date(day)}"


def _settings_context(values: dict[str, Any], page: StaffPage, first: date) -> dict[str, Any]:
    return {
        "title": "Jam kerja dan aturan perbaikan",
        "nav_active": "pengaturan",
        "values": values,
        "days": DAY_NAMES,
        "start_times": START_TIMES,
        "end_times": END_TIMES,
        "may_change": page.is_manager,
        **calendar_context(values, first),
    }


def _values_of(current: SettingsOut) -> dict[str, Any]:
    values = current.model_dump()
    hours = {h.weekday: (h.start, h.end) for h in current.hours or []}
    values["week"] = {
        d: {
            "open": d in hours,
            "start": hours.get(d, DEFAULT_DAY)[0],
            "end": hours.get(d, DEFAULT_DAY)[1],
        }
        for d in DAY_NAMES
    }
    return values


@router.get("/jam-kerja")
async def working_hours_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    session: SessionDep,
    bulan: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    current = await route_admin.settings_of(session, staff.desa_code)
    first = month_of(bulan, datetime.now(WIB).date())
    return render(
        request,
        "pengaturan/jam_kerja.html",
        {
            **_settings_context(_values_of(current), page, first),
            "current": current,
            **flash_of(request),
        },
        page=page,
    )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


@router.post("/jam-kerja")
async def save_working_hours(
    request: Request, page: StaffPageDep, staff: DesaManager, session: SessionDep
) -> Response:
    form = await request.form()
    week = {
        d: {
            "open": form.get(f"hari-{d}-buka") == "1",
            "start": str(form.get(f"hari-{d}-mulai", DEFAULT_DAY[0])),
            "end": str(form.get(f"hari-{d}-selesai", DEFAULT_DAY[1])),
        }
        for d in DAY_NAMES
    }
    values: dict[str, Any] = {
        "week": week,
        "local_days_off": sorted({str(d) for d in form.getlist("libur")}),
        "max_revision_rounds": form.get("max_revision_rounds", ""),
        "resubmit_days": form.get("resubmit_days", ""),
        "operator_may_edit_routes": form.get("operator_may_edit_routes") == "1",
    }
    today = datetime.now(WIB).date()
    shown = form.get("tampil")
    if shown is not None:
        # Another month of the calendar: the form comes back as it was filled, not yet saved.
        first = month_of(str(shown), today)
        return render(
            request,
            "pengaturan/jam_kerja.html",
            {**_settings_context(values, page, first), "unsaved": True},
            page=page,
        )
    first = month_of(str(form.get("bulan", "")), today)
    numbers = ("max_revision_rounds", "resubmit_days")
    wrong = [name for name in numbers if _int(values[name]) is None]
    if wrong:
        refused = Refusal(422, "Batas perbaikan dan batas hari ditulis dengan angka bulat.")
    else:
        try:
            body = SettingsIO(
                **{k: _int(values[k]) for k in numbers},
                hours=[
                    DayHoursIO(weekday=d, start=w["start"], end=w["end"])
                    for d, w in week.items()
                    if w["open"]
                ],
                local_days_off=values["local_days_off"],
                operator_may_edit_routes=values["operator_may_edit_routes"],
            )
            await route_admin.save_settings(session, staff, body)
        except ValidationError:
            refused = Refusal(422, "Isian tidak sesuai. Periksa kembali.")
        except DomainError as exc:
            refused = refusal_of(exc)
            if refused.status not in (409, 422):
                raise
        else:
            return done(f"/pengaturan/jam-kerja?bulan={first.isoformat()[:7]}", "jam-disimpan")
    return render(
        request,
        "pengaturan/jam_kerja.html",
        {**_settings_context(values, page, first), **refusal_flash(refused)},
        page=page,
        status_code=422,
    )
