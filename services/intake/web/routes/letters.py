"""The resident's own applications, choosing a letter type with its syarat, and the form that
creates the draft (checked by the same code as POST /api/v1/applications)."""

from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain.errors import DomainError, NotFound, Unavailable
from common.nik import kecamatan_code
from common.web import is_tls
from common.wilayah import by_kecamatan, find_desa
from services.intake import register_corrections, register_data, resident_actions
from services.intake.api.deps import RuntimeDep, SessionDep
from services.intake.applications import TooManyDrafts, application_errors, owned_applications
from services.intake.letter_types import PURPOSE_MAX_LENGTH, LetterType
from services.intake.models import Resident
from services.intake.offered import NOT_OFFERED_CODE, serving_desa
from services.intake.register_data import registered_desa
from services.intake.runtime import Runtime
from services.intake.web.labels import status_badge, status_label
from services.intake.web.pages import ResidentPageDep, render

router = APIRouter(include_in_schema=False)

NEW_PATH = "/permohonan/baru"
FIELD_PREFIX = "isian_"
# Tells the portal's script (static/pwa.js) which letter type's saved draft to forget: the
# draft became an application. Holds only a letter type code.
DRAFT_DONE_COOKIE = "sd_draf_selesai"


@dataclass(frozen=True)
class ListedApplication:
    id: str
    letter_name: str
    desa: str
    created_at: datetime
    status_label: str
    status_badge: str
    number: str | None = None


@router.get("/permohonan")
async def my_applications(
    request: Request, page: ResidentPageDep, session: SessionDep
) -> HTMLResponse:
    """The same query as GET /api/v1/applications: only this resident's own, each named as
    its letter type was named when it started (kept with it: no catalogue read)."""
    listed = []
    for a in await owned_applications(session, page.resident.subject):
        desa = find_desa(a.desa_code)
        listed.append(
            ListedApplication(
                id=a.id,
                letter_name=a.letter_type_name or a.letter_type,
                desa=desa.name if desa else a.desa_code,
                created_at=a.created_at,
                status_label=status_label(a.status),
                status_badge=status_badge(a.status),
                number=a.number,
            )
        )
    return render(
        request,
        "permohonan-daftar.html",
        {"title": "Permohonan saya", "nav_active": "permohonan", "applications": listed},
        page=page,
    )


@router.get(NEW_PATH)
async def choose_letter_type(
    request: Request, page: ResidentPageDep, runtime: RuntimeDep
) -> HTMLResponse:
    letter_types = (await runtime.catalogue.current()).values()
    return render(
        request,
        "permohonan-pilih.html",
        {"title": "Ajukan surat", "nav_active": "baru", "letter_types": letter_types},
        page=page,
    )


async def _letter_type_or_404(runtime: Runtime, type_code: str) -> LetterType:
    letter_type = await runtime.catalogue.find(type_code)
    if letter_type is None:
        raise NotFound("not-found", "Jenis surat tidak tersedia.")
    return letter_type


@dataclass(frozen=True)
class DesaPicker:
    """The desa select: grouped by kecamatan, the resident's own first; their register's desa
    chosen already when the register holds them."""

    groups: list[tuple[str, list[tuple[str, str]]]]
    preselected: str
    hint: str


async def _desa_picker(runtime: Runtime, session: SessionDep, resident_id: str) -> DesaPicker:
    resident = await session.get(Resident, resident_id)
    nik = resident.nik if resident is not None else ""
    registered = (
        await registered_desa(runtime.population, nik, resident.phone)
        if resident is not None
        else None
    )
    home = find_desa(registered) if registered else None
    first = home.kecamatan_code if home else kecamatan_code(nik)
    # Only the desa the kabupaten has switched on (all, if verification does not answer).
    serving = await serving_desa(runtime.directory)
    groups = [
        (
            f"Kecamatan {k.name}" + (" (kecamatan Anda)" if k.code == first else ""),
            [(d.code, d.name) for d in k.desa if serving is None or d.code in serving],
        )
        for k in by_kecamatan(first)
    ]
    groups = [(label, desa) for label, desa in groups if desa]
    if home is not None and serving is not None and home.code not in serving:
        hint = (
            f"Desa Anda menurut data penduduk desa, {home.name}, belum melayani permohonan "
            "surat melalui Smart Desa. Silakan mengurus surat langsung di kantor desa."
        )
        home = None
    elif home is not None:
        hint = f"Desa Anda menurut data penduduk desa: {home.name}, Kecamatan {home.kecamatan}."
    elif any(label.endswith("(kecamatan Anda)") for label, _ in groups):
        hint = "Desa di kecamatan Anda (menurut NIK) ada di urutan teratas."
    else:
        hint = ""
    return DesaPicker(groups, home.code if home else "", hint)


@dataclass(frozen=True)
class FromRegister:
    """What the register holds for the form: the resident's own register-held values (for the
    desa whose register holds them) and, for a letter about a family member, their KK."""

    desa_code: str = ""
    held: dict[str, str] = default(default_factory=dict)
    members: list[register_data.Member] = default(default_factory=list)


PURPOSE_FORM = "warga mengisi permohonan surat"


async def _from_register(
    runtime: Runtime, session: AsyncSession, resident_id: str, letter_type: LetterType
) -> FromRegister:
    """The form shows what the register fills; when it cannot be asked, the form asks for
    everything (creating is refused then anyway, with its own message)."""
    try:
        mine = await register_corrections.own_register(runtime, session, resident_id)
        if mine is None:
            return FromRegister()
        members: list[register_data.Member] = []
        if letter_type.subject:
            _, members = await register_data.family(
                runtime.population,
                await resident_actions.nik_of(session, resident_id),
                PURPOSE_FORM,
                register_data.actor(resident_id),
            )
    except Unavailable:
        return FromRegister()
    held = {e.name: e.value for e in mine.entries if e.value and e.name in letter_type.field_index}
    return FromRegister(mine.desa_code, held, members)


async def _form_page(
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: Runtime,
    letter_type: LetterType,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    flash: str | None = None,
    status_code: int = 200,
    registered: FromRegister | None = None,
) -> HTMLResponse:
    if registered is None:
        registered = await _from_register(runtime, session, page.resident.subject, letter_type)
    chosen_desa = (values or {}).get("desa_code", "")
    # The register's values are the letter's only in the desa whose register holds them.
    held = registered.held if chosen_desa in ("", registered.desa_code) else {}
    register_desa = find_desa(registered.desa_code) if registered.desa_code else None
    return render(
        request,
        "permohonan-isi.html",
        {
            "title": letter_type.name,
            "nav_active": "baru",
            "letter_type": letter_type,
            "held": held,
            "held_labels": {f.name: f.label for f in letter_type.fields},
            "register_desa": register_desa,
            "members": registered.members,
            "subject_fields": set(register_data.SUBJECT_FIELDS.get(letter_type.code, {})),
            "desa": await _desa_picker(runtime, session, page.resident.subject),
            "values": values or {},
            "errors": errors or {},
            "prefix": FIELD_PREFIX,
            "purpose_max": PURPOSE_MAX_LENGTH,
            "flash": flash or ("Periksa kembali isian yang ditandai." if errors else None),
            "flash_kind": "galat",
        },
        page=page,
        status_code=status_code,
    )


@router.get(NEW_PATH + "/{type_code}")
async def letter_form(
    type_code: str,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> HTMLResponse:
    letter_type = await _letter_type_or_404(runtime, type_code)
    return await _form_page(request, page, session, runtime, letter_type)


def _form_key(error_key: str) -> str:
    """application_errors' key ('fields.nama') -> the form's input name ('isian_nama')."""
    if error_key.startswith("fields."):
        return FIELD_PREFIX + error_key.removeprefix("fields.")
    return error_key


@router.post(NEW_PATH + "/{type_code}")
async def create_draft(
    type_code: str,
    request: Request,
    page: ResidentPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    letter_type = await _letter_type_or_404(runtime, type_code)
    form = await request.form()
    values = {
        name: value
        for name in (
            "desa_code",
            "purpose",
            *(FIELD_PREFIX + f.name for f in letter_type.fields),
        )
        if isinstance(value := form.get(name), str)
    }
    fields = {
        f.name: values[FIELD_PREFIX + f.name]
        for f in letter_type.fields
        if FIELD_PREFIX + f.name in values
    }
    desa_code = values.get("desa_code", "")
    purpose = values.get("purpose", "")
    subject_id = str(form.get("subject_id", "")).strip()[:64]
    if subject_id:
        values["subject_id"] = subject_id
    registered = await _from_register(runtime, session, page.resident.subject, letter_type)
    # The register fills what it holds (the resident typed none of it); the chosen member's
    # record fills the subject's fields.
    prefilled = {**fields, **(registered.held if desa_code == registered.desa_code else {})}
    errors = application_errors(desa_code, letter_type.code, purpose, prefilled, letter_type)
    if subject_id:
        subject_fields = register_data.SUBJECT_FIELDS.get(letter_type.code, {})
        errors = {
            k: v for k, v in errors.items() if k.removeprefix("fields.") not in subject_fields
        }
    if not desa_code:
        errors["desa_code"] = "Pilih desa tujuan permohonan."
    if not errors:
        try:
            application = await resident_actions.create(
                runtime,
                session,
                page.resident.subject,
                desa_code,
                letter_type.code,
                purpose,
                fields,
                subject_id or None,
            )
        except TooManyDrafts as exc:
            # Not about any one input: said at the top of the form, which keeps what was typed.
            return await _form_page(
                request,
                page,
                session,
                runtime,
                letter_type,
                values=values,
                flash=exc.message,
                status_code=409,
                registered=registered,
            )
        except DomainError as exc:
            # A type the chosen desa switched off: the choice of desa is what to change here.
            field = "desa_code" if exc.code == NOT_OFFERED_CODE else exc.field or "desa_code"
            errors = {field: exc.message}
    if errors:
        return await _form_page(
            request,
            page,
            session,
            runtime,
            letter_type,
            values=values,
            errors={_form_key(k): v for k, v in errors.items()},
            status_code=422,
            registered=registered,
        )
    response = RedirectResponse(f"/permohonan/{application.id}", status_code=303)
    response.set_cookie(
        DRAFT_DONE_COOKIE,
        letter_type.code,
        max_age=600,
        path="/",
        secure=is_tls(request, runtime.settings.web_cookie_secure),
        samesite="lax",
    )
    return response
