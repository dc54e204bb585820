"""Desa administration, the overview (/pengaturan) and the working calendar and revision rules
(/pengaturan/jam-kerja). Every desa staff member sees both (the API lets them read the
settings); only the Sekdes and the Kades (also as Plt) change the calendar, as PUT
/api/v1/settings allows. The other areas have their own routers: staff_accounts, plt_pages,
letter_settings; the desa profile (/pengaturan/profil) is the profile area's."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.domain.errors import DomainError
from common.web.refusals import Refusal, refusal_of
from services.verification import route_admin
from services.verification.api.deps import DesaManager, DesaStaff, SessionDep, desa_staff
from services.verification.route_admin import SettingsIO
from services.verification.staff_admin import administers_desa
from services.verification.web.pages import StaffPage, StaffPageDep, render

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
    "layanan-diubah": "Layanan jenis surat diubah.",
    "jam-disimpan": "Jam kerja dan aturan perbaikan disimpan.",
    "penduduk-ditambah": "Penduduk ditambahkan ke data penduduk desa.",
    "penduduk-diubah": "Data penduduk disimpan. Perubahannya tercatat di riwayat.",
    "status-diubah": "Status penduduk diubah. Datanya tetap tersimpan.",
}

DAY_NAMES = {1: "Senin", 2: "Selasa", 3: "Rabu", 4: "Kamis", 5: "Jumat", 6: "Sabtu", 7: "Minggu"}


def done(path: str, message: str) -> RedirectResponse:
    """After a change: back to `path` with the message of key `message`."""
    assert message in MESSAGES
    return RedirectResponse(f"{path}?pesan={message}", status_code=303)


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


def _settings_context(values: dict[str, Any], page: StaffPage) -> dict[str, Any]:
    return {
        "title": "Jam kerja dan aturan perbaikan",
        "nav_active": "pengaturan",
        "values": values,
        "days": DAY_NAMES,
        "may_change": page.is_manager,
    }


@router.get("/jam-kerja")
async def working_hours_page(
    request: Request, page: StaffPageDep, staff: DesaStaff, session: SessionDep
) -> HTMLResponse:
    current = await route_admin.settings_of(session, staff.desa_code)
    values = current.model_dump()
    values["local_days_off_text"] = "\n".join(current.local_days_off)
    return render(
        request,
        "pengaturan/jam_kerja.html",
        {**_settings_context(values, page), "current": current, **flash_of(request)},
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
    text = str(form.get("local_days_off", ""))
    values: dict[str, Any] = {
        "start_hour": form.get("start_hour", ""),
        "end_hour": form.get("end_hour", ""),
        "workdays": [_int(d) for d in form.getlist("workdays")],
        "local_days_off": [d.strip() for d in text.replace(",", "\n").splitlines() if d.strip()],
        "max_revision_rounds": form.get("max_revision_rounds", ""),
        "resubmit_days": form.get("resubmit_days", ""),
        "operator_may_edit_routes": form.get("operator_may_edit_routes") == "1",
        "local_days_off_text": text,
    }
    numbers = ("start_hour", "end_hour", "max_revision_rounds", "resubmit_days")
    wrong = [name for name in numbers if _int(values[name]) is None]
    if wrong or None in values["workdays"]:
        refused = Refusal(422, "Jam, batas perbaikan dan batas hari ditulis dengan angka bulat.")
    else:
        try:
            body = SettingsIO(
                **{k: _int(values[k]) for k in numbers},
                workdays=values["workdays"],
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
            return done("/pengaturan/jam-kerja", "jam-disimpan")
    return render(
        request,
        "pengaturan/jam_kerja.html",
        {**_settings_context(values, page), **refusal_flash(refused)},
        page=page,
        status_code=422,
    )
