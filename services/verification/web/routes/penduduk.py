"""Data penduduk (/penduduk): the desa's population register on the staff pages, over the same
rules as /api/v1/residents (services/verification/population/register.py).

Every desa staff member searches (by NIK, KK number or name, in the form's body) and opens a
resident, saying what for (keperluan: the application or task); each resident shown is logged.
The operator, the Sekdes and the Kades (also as Plt) import OpenSID's spreadsheet, add, correct,
and mark a resident pindah, meninggal or hilang. URLs carry the resident's opaque id only.
"""

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from common.domain.errors import DomainError
from common.web.refusals import refusal_of
from services.verification.api.deps import DesaStaff, HeldRoles, SessionDep
from services.verification.population import codes
from services.verification.population.importer import (
    MAX_IMPORT_BYTES,
    UnreadableFile,
    import_register,
    log_import,
)
from services.verification.population.models import STATUS_LABELS, STATUSES, Resident
from services.verification.population.register import (
    CODED_FIELDS,
    DATA_FIELDS,
    FIELD_LABELS,
    SEARCH_LIMIT,
    InvalidResident,
    ResidentData,
    add_resident,
    correct_resident,
    family,
    history_of,
    may_edit,
    read_resident,
    require_editor,
    search,
)
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.settings import flash_of, problem_flash

router = APIRouter(prefix="/penduduk", include_in_schema=False)

ResidentId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]
# The form's fields: the register's, without status (marked with its own form).
FORM_FIELDS = tuple(f for f in DATA_FIELDS if f != "status")
UPKEEP = "Pemeliharaan data penduduk"


def _options(name: str) -> list[tuple[str, str]]:
    table = CODED_FIELDS[name]
    return [("", "(tidak diisi)")] + [(str(c), f"{c} - {n}") for c, n in table.names.items()]


def _form_values(resident: Resident | None) -> dict[str, str]:
    """The form's text for each field (empty for a new resident)."""
    if resident is None:
        return {}
    values: dict[str, str] = {}
    for name in FORM_FIELDS:
        value = getattr(resident, name)
        if name == "phones":
            values[name] = ", ".join(p for p in str(value).split(",") if p)
        else:
            values[name] = "" if value is None else str(value)
    return values


def _fields_of(form: FormData) -> dict[str, Any]:
    """The register's fields from the form, typed; InvalidResident for a date or code that
    cannot be read."""
    fields: dict[str, Any] = {}
    for name in FORM_FIELDS:
        raw = str(form.get(name, "")).strip()
        if name in CODED_FIELDS:
            if raw and not raw.isdigit():
                raise InvalidResident(f"Pilih {CODED_FIELDS[name].label} dari daftar.", name)
            fields[name] = int(raw) if raw else None
        elif name == "birth_date":
            try:
                fields[name] = date.fromisoformat(raw) if raw else None
            except ValueError as exc:
                raise InvalidResident("Tanggal lahir tidak valid.", name) from exc
        else:
            fields[name] = raw
    if fields["sex"] is None:
        raise InvalidResident("Pilih jenis kelamin.", "sex")
    return fields


def _page_context(page: StaffPage) -> dict[str, Any]:
    return {
        "title": "Data penduduk",
        "nav_active": "penduduk",
        "may_edit": may_edit(page.roles),
        "STATUS_LABELS": STATUS_LABELS,
        "RELATION_NAMES": codes.RELATION.names,
        "max_mb": MAX_IMPORT_BYTES // (1024 * 1024),
    }


def _detail_url(resident_id: str, purpose: str, message: str = "") -> str:
    query = {"keperluan": purpose, **({"pesan": message} if message else {})}
    return f"/penduduk/{resident_id}?{urlencode(query)}"


@router.get("")
async def register_page(request: Request, page: StaffPageDep, staff: DesaStaff) -> HTMLResponse:
    del staff  # desa staff only
    return render(request, "penduduk.html", {**_page_context(page), "form": {}}, page=page)


@router.post("/cari")
async def search_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    session: SessionDep,
    cari: Annotated[str, Form(max_length=100)] = "",
    keperluan: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    form = {"cari": cari, "keperluan": keperluan}
    try:
        found = await search(
            session, staff.desa_code, cari, actor=staff.username, purpose=keperluan
        )
    except DomainError as exc:
        return render(
            request,
            "penduduk.html",
            {**_page_context(page), "form": form, **problem_flash(exc)},
            page=page,
            status_code=refusal_of(exc).status,
        )
    return render(
        request,
        "penduduk.html",
        {
            **_page_context(page),
            "form": form,
            "found": found,
            "searched": True,
            "limit": SEARCH_LIMIT,
        },
        page=page,
    )


@router.post("/keluarga")
async def family_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    session: SessionDep,
    kk: Annotated[str, Form(max_length=40)] = "",
    keperluan: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """The members of a KK (the number comes in the form's body)."""
    form = {"keperluan": keperluan}
    try:
        members = await family(
            session, staff.desa_code, kk, actor=staff.username, purpose=keperluan
        )
    except DomainError as exc:
        return render(
            request,
            "penduduk.html",
            {**_page_context(page), "form": form, **problem_flash(exc)},
            page=page,
            status_code=refusal_of(exc).status,
        )
    return render(
        request,
        "penduduk.html",
        {**_page_context(page), "form": form, "members": members, "kk": kk},
        page=page,
    )


@router.post("/impor")
async def import_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> HTMLResponse:
    require_editor(roles)
    form = await request.form()
    upload = form.get("berkas")
    context = _page_context(page)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(
            request,
            "penduduk.html",
            {
                **context,
                "form": {},
                "flash": "Pilih berkas .xlsx atau .csv.",
                "flash_kind": "galat",
            },
            page=page,
            status_code=422,
        )
    content = await upload.read(MAX_IMPORT_BYTES + 1)
    try:
        result = await import_register(
            session, staff.desa_code, upload.filename, content, actor=staff.username
        )
    except UnreadableFile as exc:
        return render(
            request,
            "penduduk.html",
            {**context, "form": {}, **problem_flash(exc)},
            page=page,
            status_code=422,
        )
    log_import(staff.desa_code, staff.id, result)
    return render(request, "penduduk.html", {**context, "form": {}, "imported": result}, page=page)


async def _new_page(
    request: Request,
    page: StaffPage,
    *,
    form: dict[str, str],
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "penduduk_baru.html",
        {
            **_page_context(page),
            "title": "Tambah penduduk",
            "form": form,
            "options": {name: _options(name) for name in CODED_FIELDS},
            "labels": FIELD_LABELS,
            **(extra or {}),
        },
        page=page,
        status_code=status_code,
    )


@router.get("/baru")
async def new_page(request: Request, page: StaffPageDep, roles: HeldRoles) -> HTMLResponse:
    require_editor(roles)
    return await _new_page(request, page, form={"citizenship": "1"})


@router.post("/baru")
async def add(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> Response:
    require_editor(roles)
    form = await request.form()
    typed = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        resident = await add_resident(
            session,
            staff.desa_code,
            ResidentData(**_fields_of(form)),
            actor=staff.username,
            note=typed.get("catatan", ""),
        )
    except DomainError as exc:
        if refusal_of(exc).status not in (409, 422):
            raise
        return await _new_page(
            request, page, form=typed, extra=problem_flash(exc), status_code=refusal_of(exc).status
        )
    return RedirectResponse(_detail_url(resident.id, UPKEEP, "penduduk-ditambah"), 303)


async def _detail(
    request: Request,
    page: StaffPage,
    staff: DesaStaff,
    session: SessionDep,
    resident_id: str,
    purpose: str,
    *,
    form: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    if not purpose.strip():
        # Nothing of the resident is shown before the staff member says what it is for.
        return render(
            request,
            "penduduk_rinci.html",
            {**_page_context(page), "resident_id": resident_id, "ask_purpose": True},
            page=page,
        )
    resident = await read_resident(
        session, staff.desa_code, resident_id, actor=staff.username, purpose=purpose
    )
    changes = await history_of(
        session, staff.desa_code, resident_id, actor=staff.username, purpose=purpose
    )
    return render(
        request,
        "penduduk_rinci.html",
        {
            **_page_context(page),
            "title": f"Data penduduk: {resident.name}",
            "r": resident,
            "resident_id": resident.id,
            "purpose": purpose,
            "changes": changes,
            "form": form if form is not None else _form_values(resident),
            "options": {name: _options(name) for name in CODED_FIELDS},
            "labels": FIELD_LABELS,
            "coded": CODED_FIELDS,
            "status_options": [(s, STATUS_LABELS[s]) for s in STATUSES],
            **(extra if extra is not None else flash_of(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get("/{resident_id}")
async def detail_page(
    request: Request,
    resident_id: ResidentId,
    page: StaffPageDep,
    staff: DesaStaff,
    session: SessionDep,
    keperluan: str = "",
) -> HTMLResponse:
    return await _detail(request, page, staff, session, resident_id, keperluan[:200])


@router.post("/{resident_id}/ubah")
async def correct(
    request: Request,
    resident_id: ResidentId,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> Response:
    require_editor(roles)
    form = await request.form()
    typed = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    purpose = typed.get("keperluan", "") or UPKEEP
    try:
        await correct_resident(
            session,
            staff.desa_code,
            resident_id,
            _fields_of(form),
            actor=staff.username,
            note=typed.get("catatan", ""),
        )
    except DomainError as exc:
        if refusal_of(exc).status not in (409, 422):
            raise
        return await _detail(
            request,
            page,
            staff,
            session,
            resident_id,
            purpose,
            form=typed,
            extra=problem_flash(exc),
            status_code=refusal_of(exc).status,
        )
    return RedirectResponse(_detail_url(resident_id, purpose, "penduduk-diubah"), 303)


@router.post("/{resident_id}/status")
async def mark(
    resident_id: ResidentId,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    status: Annotated[str, Form(max_length=20)] = "",
    catatan: Annotated[str, Form(max_length=200)] = "",
    keperluan: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_editor(roles)
    if status not in STATUSES:
        raise InvalidResident("Pilih status penduduk.", "status")
    await correct_resident(
        session,
        staff.desa_code,
        resident_id,
        {"status": status},
        actor=staff.username,
        note=catatan,
    )
    return RedirectResponse(_detail_url(resident_id, keperluan or UPKEEP, "status-diubah"), 303)
