"""The desa profile pages: /pengaturan/profil shows the kop surat, logo, officials, numbering
format and paper to every staff member of the desa; /pengaturan/profil/ubah lets the Sekdes or
the Kades (also as Plt) change them; /pengaturan/profil/contoh-surat is a sample letter made
with the profile. They go through the same functions, and the same checks, as the API."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from smartdesa.v1 import signing_pb2
from starlette.datastructures import FormData, UploadFile

from common.http import pdf_response
from services.verification.api.deps import (
    DesaManager,
    DesaStaff,
    RuntimeDep,
    SessionDep,
)
from services.verification.desa_profile import (
    LOGO_TOO_LARGE,
    LOGO_UPLOAD_LIMIT,
    PROFILE_FIELDS,
    SAMPLE_FILENAME,
    OfficialForm,
    ProfileForm,
    ProfileInvalid,
    desa_accounts,
    example_number,
    logo_url,
    officials_by_username,
    read_profile,
    sample_letter,
    save_profile,
)
from services.verification.models import Staff
from services.verification.number_parts import (
    DIGIT_LABELS,
    KIND_LABELS,
    MAX_PARTS,
    UNUSED,
    Part,
    described,
    format_of,
    in_words,
    parts_of,
)
from services.verification.web.pages import StaffPageDep, render

router = APIRouter(include_in_schema=False)

PROFILE_PATH = "/pengaturan/profil"
EDIT_PATH = "/pengaturan/profil/ubah"
SAMPLE_PATH = "/pengaturan/profil/contoh-surat"
PAPER_OPTIONS = [("F4", "F4 (215 × 330 mm)"), ("A4", "A4 (210 × 297 mm)")]


def _updated_at(view: signing_pb2.DesaProfileView) -> datetime | None:
    return view.updated_at.ToDatetime(tzinfo=UTC) if view.HasField("updated_at") else None


def _official_rows(
    accounts: list[Staff], view: signing_pb2.DesaProfileView
) -> list[dict[str, Any]]:
    """One row per staff account of the desa (and any official without one), with the name
    and NIP printed when that account signs."""
    printed = officials_by_username(view)
    rows = [
        {
            "username": a.username,
            "role": a.role,
            "active": a.active,
            "official": printed.get(a.username, OfficialForm(a.username)),
        }
        for a in accounts
    ]
    known = {a.username for a in accounts}
    rows += [
        {"username": u, "role": "", "active": False, "official": o}
        for u, o in printed.items()
        if u not in known
    ]
    return rows


@router.get(PROFILE_PATH)
async def profile_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    runtime: RuntimeDep,
    session: SessionDep,
    tersimpan: Annotated[str | None, Query(max_length=4)] = None,
) -> HTMLResponse:
    view = await read_profile(runtime, staff.desa_code)
    context: dict[str, Any] = {
        "title": "Profil desa",
        "nav_active": "pengaturan",
        "view": view,
        "p": view.profile,
        "logo_url": logo_url(view),
        "updated_at": _updated_at(view),
        "officials": [
            r
            for r in _official_rows(await desa_accounts(session, staff.desa_code), view)
            if r["official"].name
        ],
        "edit_path": EDIT_PATH,
        "sample_path": SAMPLE_PATH,
        "number_format_words": described(view.profile.number_format),
        "standards_url": f"{runtime.settings.portal_url}/standar-pelayanan/{staff.desa_code}",
    }
    if tersimpan:
        context |= {
            "flash": "Profil desa tersimpan. Surat yang terbit mulai sekarang memakai profil ini.",
            "flash_kind": "ok",
        }
    return render(request, "profil_desa.html", context, page=page)


def _part_rows(values: dict[str, str], rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The number format's parts as form rows, with empty rows to add parts."""
    if rows is None:
        rows = [
            {"kind": p.kind, "text": p.text, "digits": p.digits}
            for p in parts_of(values.get("number_format", ""))
        ]
    rows = [r for r in rows if r["kind"] != UNUSED]
    target = min(MAX_PARTS, len(rows) + 2)
    while len(rows) < target:
        rows.append({"kind": UNUSED, "text": "", "digits": 3})
    return rows[:MAX_PARTS]


def _edit_context(
    view: signing_pb2.DesaProfileView,
    accounts: list[Staff],
    values: dict[str, str],
    errors: dict[str, str],
    *,
    rows: list[dict[str, Any]] | None = None,
    example: tuple[str, str] | None = None,
) -> dict[str, Any]:
    shown, why_not = example if example is not None else (view.next_number_example, "")
    errors = {
        **errors,
        **(
            {"number_format": in_words(errors["number_format"])}
            if "number_format" in errors
            else {}
        ),
    }
    return {
        "part_rows": _part_rows(values, rows),
        "kind_labels": KIND_LABELS,
        "digit_labels": DIGIT_LABELS,
        "example": shown,
        "example_error": in_words(why_not),
        "title": "Ubah profil desa",
        "nav_active": "pengaturan",
        "view": view,
        "v": values,
        "errors": errors,
        "logo_url": logo_url(view),
        "official_rows": _official_rows(accounts, view),
        "paper_options": PAPER_OPTIONS,
        "action": EDIT_PATH,
        "profile_path": PROFILE_PATH,
    }


def _values_of(view: signing_pb2.DesaProfileView) -> dict[str, str]:
    values = {name: str(getattr(view.profile, name)) for name in PROFILE_FIELDS}
    for o in view.profile.officials:
        values[f"officials.{o.username}.name"] = o.name
        values[f"officials.{o.username}.nip"] = o.nip
    return values


@router.get(EDIT_PATH)
async def edit_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaManager,
    runtime: RuntimeDep,
    session: SessionDep,
) -> HTMLResponse:
    view = await read_profile(runtime, staff.desa_code)
    accounts = await desa_accounts(session, staff.desa_code)
    context = _edit_context(view, accounts, _values_of(view), {})
    return render(request, "profil_desa_ubah.html", context, page=page)


async def _read_upload(upload: UploadFile) -> bytes:
    return await upload.read(LOGO_UPLOAD_LIMIT + 1)


@router.post(EDIT_PATH)
async def save_profile_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaManager,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in PROFILE_FIELDS}
    rows = _rows_of_form(form)
    if rows is not None:
        # The format as built from its labelled parts (a client of the old form sends it whole).
        values["number_format"] = format_of([_part(r) for r in rows])
    accounts = await desa_accounts(session, staff.desa_code)
    officials = []
    for account in accounts:
        name_key, nip_key = (
            f"officials.{account.username}.name",
            f"officials.{account.username}.nip",
        )
        values[name_key] = str(form.get(name_key) or "")
        values[nip_key] = str(form.get(nip_key) or "")
        officials.append(OfficialForm(account.username, values[name_key], values[nip_key]))
    if form.get("aksi") == "contoh":
        # "Perbarui contoh" without script: the example of the format as built, nothing saved.
        view = await read_profile(runtime, staff.desa_code)
        example = await example_number(runtime, staff.desa_code, values["number_format"])
        context = _edit_context(view, accounts, values, {}, rows=rows, example=example)
        return render(request, "profil_desa_ubah.html", context, page=page)
    upload = form.get("logo")
    logo, logo_type = b"", ""
    if isinstance(upload, UploadFile) and upload.filename:
        logo, logo_type = await _read_upload(upload), upload.content_type or ""
    try:
        if len(logo) > LOGO_UPLOAD_LIMIT:
            raise ProfileInvalid({"logo": LOGO_TOO_LARGE})
        await save_profile(
            runtime,
            session,
            staff,
            ProfileForm(
                values=values,
                officials=officials,
                logo=logo,
                logo_type=logo_type,
                remove_logo=form.get("remove_logo") == "1",
            ),
        )
    except ProfileInvalid as exc:
        view = await read_profile(runtime, staff.desa_code)
        refused_format = exc.errors.get("number_format")
        context = _edit_context(
            view,
            accounts,
            values,
            exc.errors,
            rows=rows,
            example=("", refused_format) if refused_format else None,
        )
        context |= {"flash": exc.message, "flash_kind": "galat"}
        if "logo" not in exc.errors and logo:
            context["logo_note"] = "Pilih berkas logo sekali lagi: berkas tidak ikut dikirim ulang."
        return render(request, "profil_desa_ubah.html", context, page=page, status_code=422)
    return RedirectResponse(f"{PROFILE_PATH}?tersimpan=1", status_code=303)


def _rows_of_form(form: FormData) -> list[dict[str, Any]] | None:
    """The format's parts as the form sent them (None: a form without the parts)."""
    if form.get("bagian-0-jenis") is None:
        return None
    rows: list[dict[str, Any]] = []
    for i in range(MAX_PARTS):
        kind = form.get(f"bagian-{i}-jenis")
        if kind is None:
            break
        digits = str(form.get(f"bagian-{i}-angka", "3"))
        rows.append(
            {
                "kind": str(kind) if str(kind) in KIND_LABELS else UNUSED,
                "text": str(form.get(f"bagian-{i}-teks", ""))[:100],
                "digits": int(digits) if digits.isdigit() and int(digits) in DIGIT_LABELS else 3,
            }
        )
    return rows


def _part(row: dict[str, Any]) -> Part:
    return Part(row["kind"], row["text"], row["digits"])


@router.get(SAMPLE_PATH)
async def sample_letter_page(
    staff: DesaStaff, runtime: RuntimeDep, session: SessionDep
) -> Response:
    content = await sample_letter(runtime, session, staff.desa_code)
    return pdf_response(content, SAMPLE_FILENAME, inline=True)
