"""Pengajuan langsung: the operator files an application for a resident at the desa office, with
the documents scanned there (/pengajuan-langsung), and prints the resident a receipt.

Without script, in steps on one page:
1. choose the letter type (its fields and syarat come from intake);
2. find the resident in the desa's population register by name, NIK or KK number (POST
   /pengajuan-langsung/cari: the number travels in the body, never in a URL) and choose one
   (named in the URL by the register's opaque id); a NIK the register does not hold can be
   added to it here (POST /pengajuan-langsung/penduduk-baru), or filed as typed;
3. fill what the register does not hold (purpose, phone, the letter's own facts), choose one
   scan per syarat, and file. The register's values are shown read-only: intake writes them.

Every scan chosen is kept at once (services.verification.walk_in_scans) under a token in the
form, so a refusal re-shows the form with every value and every scan still there; only a scan
intake refused is to be chosen again. The receipt (GET /pengajuan-langsung/{id}) prints on A4
or a thermal roll: number, letter type, date, how to follow it, the NIK masked.
"""

import re
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from smartdesa.v1 import intake_pb2
from starlette.datastructures import UploadFile

from common.domain.errors import DomainError, NotFound
from common.rpc import MAX_SCANS_PER_MESSAGE
from common.web.refusals import refusal_of
from common.wib import indonesian_date
from common.wilayah import find_desa
from services.verification import access_log, walk_in, walk_in_scans
from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.desa_service import closed_reason
from services.verification.intake_reader import read_application
from services.verification.models import Staff
from services.verification.population.models import STATUS_LABELS, Resident
from services.verification.population.register import (
    CODED_FIELDS,
    FIELD_LABELS,
    ResidentData,
    digits_only,
)
from services.verification.routes import not_offered
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.penduduk import _fields_of, _options

router = APIRouter(include_in_schema=False)

PATH = "/pengajuan-langsung"
ACCEPT = "application/pdf,image/jpeg,image/png"
NOT_OFFERED = "Desa ini belum melayani surat ini (lihat Pengaturan › Jenis surat)."
_RESIDENT_ID = re.compile(r"^[0-9a-f]{32}$")
NOT_REGISTERED = (
    "NIK ini belum terdaftar di data penduduk desa. Tambahkan warga ke data penduduk (isian "
    "surat lalu diambil darinya), atau isi permohonan tanpa data penduduk."
)


def field_name(intake_field: str) -> str:
    """The form input for intake's name of an input ("" for the form as a whole)."""
    if intake_field.startswith("fields."):
        return "isian_" + intake_field.removeprefix("fields.")
    if intake_field.startswith("attachments."):
        return "berkas_" + intake_field.removeprefix("attachments.")
    return {"nik": "nik", "phone": "hp", "purpose": "keperluan", "letter_type": "jenis"}.get(
        intake_field, ""
    )


def _type_of(
    catalogue: intake_pb2.LetterTypeCatalogue, code: str
) -> intake_pb2.LetterTypeInfo | None:
    return next((t for t in catalogue.letter_types if t.code == code), None)


async def _offered_catalogue(
    runtime: RuntimeDep, session: SessionDep, desa_code: str
) -> intake_pb2.LetterTypeCatalogue:
    """Intake's catalogue without the types the desa switched off: a walk-in, like a resident's
    own application, is only of a type the desa offers."""
    catalogue = await walk_in.catalogue(runtime.intake, runtime.settings.intake_timeout_seconds)
    off = await not_offered(session, desa_code)
    offered = [t for t in catalogue.letter_types if t.code not in off]
    del catalogue.letter_types[:]
    catalogue.letter_types.extend(offered)
    return catalogue


_SEX_WORDS = {"L": "Laki-laki", "P": "Perempuan"}


def _shown(spec: intake_pb2.FormFieldInfo, value: str) -> str:
    """A register value as staff read it: dates in Indonesian, sex written out."""
    if spec.kind == "date":
        try:
            return indonesian_date(date.fromisoformat(value))
        except ValueError:
            return value
    if spec.name == "jenis_kelamin":
        return _SEX_WORDS.get(value, value)
    return value


def _size(size_bytes: int) -> str:
    return f"{max(1, round(size_bytes / 1024))} KB"


def _form_page(
    request: Request,
    page: StaffPage,
    catalogue: intake_pb2.LetterTypeCatalogue,
    letter_type: intake_pb2.LetterTypeInfo | None,
    *,
    resident: Resident | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    flash: str | None = None,
    found: list[Resident] | None = None,
    query: str = "",
    adding: dict[str, str] | None = None,
    adding_error: tuple[str, str] | None = None,
    token: str = "",
    kept: dict[str, walk_in_scans.Kept] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = values or {}
    field_names = [f.name for f in letter_type.fields] if letter_type else []
    held = walk_in.from_register(field_names, resident) if resident is not None else {}
    if resident is not None and "hp" not in values:
        values = {**values, "hp": walk_in.phone_on_record(resident)}
    return render(
        request,
        "pengajuan_langsung.html",
        {
            "title": "Pengajuan langsung",
            "nav_active": "pengajuan-langsung",
            "letter_type": letter_type,
            "type_options": [("", "— pilih jenis surat —")]
            + [(t.code, t.name) for t in catalogue.letter_types],
            "choice_options": {
                f.name: [("", "— pilih —")] + [(c, c) for c in f.choices]
                for f in (letter_type.fields if letter_type else [])
            },
            "resident": resident,
            "held": {
                f.name: _shown(f, held[f.name])
                for f in (letter_type.fields if letter_type else [])
                if f.name in held
            },
            "values": values,
            "errors": errors or {},
            "found": found,
            "query": query,
            "STATUS_LABELS": STATUS_LABELS,
            "adding": adding,
            "adding_field": adding_error[0] if adding_error else None,
            "adding_message": adding_error[1] if adding_error else None,
            "options": {name: _options(name) for name in CODED_FIELDS},
            "labels": FIELD_LABELS,
            "request_id": values.get("request_id") or uuid.uuid4().hex,
            "token": token or walk_in_scans.new_token(),
            "kept": {k: (v.filename, _size(v.size_bytes)) for k, v in (kept or {}).items()},
            "accept": ACCEPT,
            "max_mb": catalogue.max_attachment_bytes // (1024 * 1024),
            "flash": flash,
            "flash_kind": "galat" if flash else None,
        },
        page=page,
        status_code=status_code,
    )


async def _resident_or_refusal(
    session: SessionDep, staff: Staff, resident_id: str
) -> tuple[Resident | None, str | None]:
    """The chosen resident (read for the walk-in, logged), or the reason it cannot be used."""
    if not resident_id:
        return None, None
    if not _RESIDENT_ID.match(resident_id):
        return None, "Penduduk tidak ditemukan di data penduduk desa Anda."
    try:
        return await walk_in.chosen_resident(session, staff, resident_id), None
    except DomainError as exc:
        return None, refusal_of(exc).message


@router.get(PATH)
async def walk_in_form(
    request: Request,
    runtime: RuntimeDep,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    jenis: Annotated[str, Query(max_length=20)] = "",
    penduduk: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    walk_in.require_filer(roles)
    catalogue = await _offered_catalogue(runtime, session, staff.desa_code)
    letter_type = _type_of(catalogue, jenis) if jenis else None
    errors = {"jenis": "Jenis surat tidak tersedia."} if jenis and letter_type is None else None
    resident, refused = await _resident_or_refusal(session, staff, penduduk)
    return _form_page(
        request,
        page,
        catalogue,
        letter_type,
        resident=resident,
        errors=errors,
        flash=refused,
        status_code=404 if refused else 200,
    )


@router.post(PATH + "/cari")
async def find_resident(
    request: Request,
    runtime: RuntimeDep,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    jenis: Annotated[str, Form(max_length=20)] = "",
    cari: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """The register searched for the walk-in (the query is in this body, never in a URL)."""
    walk_in.require_filer(roles)
    catalogue = await _offered_catalogue(runtime, session, staff.desa_code)
    letter_type = _type_of(catalogue, jenis)
    try:
        found = await walk_in.find_residents(session, staff, cari)
    except DomainError as exc:
        return _form_page(
            request,
            page,
            catalogue,
            letter_type,
            query=cari,
            errors={"cari": refusal_of(exc).message},
            status_code=refusal_of(exc).status,
        )
    number = digits_only(cari)
    unregistered_nik = (
        len(number) == 16
        and number == cari.strip()
        and not any(r.nik == number for r in found)
        and not any(r.kk_number == number for r in found)
    )
    return _form_page(
        request,
        page,
        catalogue,
        letter_type,
        found=found,
        query=cari,
        # A NIK nobody holds: offered for the register, and typed into the form meanwhile.
        adding={"nik": number, "citizenship": "1"} if unregistered_nik else None,
        values={"nik": number} if unregistered_nik else None,
    )


@router.post(PATH + "/penduduk-baru")
async def add_resident(
    request: Request,
    runtime: RuntimeDep,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> Response:
    """A NIK the register does not hold, added to it in the walk-in's flow; then the walk-in
    continues with the new record chosen."""
    walk_in.require_filer(roles)
    form = await request.form()
    typed = {k: str(v)[:200] for k, v in form.items() if isinstance(v, str)}
    jenis = typed.get("jenis", "")[:20]
    try:
        resident = await walk_in.add_to_register(
            session, staff, roles, ResidentData(**_fields_of(form))
        )
    except DomainError as exc:
        refused = refusal_of(exc)
        if refused.status not in (409, 422):
            raise
        catalogue = await _offered_catalogue(runtime, session, staff.desa_code)
        return _form_page(
            request,
            page,
            catalogue,
            _type_of(catalogue, jenis),
            adding=typed,
            adding_error=(refused.field or "", refused.message),
            values={"nik": typed.get("nik", "")},
            status_code=refused.status,
        )
    return RedirectResponse(f"{PATH}?jenis={jenis}&penduduk={resident.id}", status_code=303)


@router.post(PATH)
async def file_walk_in(
    request: Request,
    runtime: RuntimeDep,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> Response:
    walk_in.require_filer(roles)
    catalogue = await _offered_catalogue(runtime, session, staff.desa_code)
    form = await request.form()  # already read (and its CSRF token checked) by the dependency

    def text(name: str, limit: int = 2000) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    values = {
        "request_id": text("request_id", 64),
        "jenis": text("jenis", 20),
        "nik": text("nik", 32),
        "hp": text("hp", 32),
        "keperluan": text("keperluan"),
    }
    token = walk_in_scans.token_of(text("berkas_token", 32))
    letter_type = _type_of(catalogue, values["jenis"])
    if letter_type is None:
        return _form_page(
            request,
            page,
            catalogue,
            None,
            errors={"jenis": NOT_OFFERED if values["jenis"] else "Pilih jenis surat."},
            status_code=422,
        )
    errors: dict[str, str] = {}
    optional = {r.code for r in letter_type.optional_syarat}
    kept = await walk_in_scans.kept(session, token, staff)
    # Every scan chosen now is kept before anything else is checked: no refusal loses it. The
    # optional ones too, while they leave room for every required one in one message.
    for requirement in [*letter_type.requirements, *letter_type.optional_syarat]:
        upload = form.get(f"berkas_{requirement.code}")
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = await upload.read(catalogue.max_attachment_bytes + 1)
        if len(content) > catalogue.max_attachment_bytes:
            errors[f"berkas_{requirement.code}"] = (
                f"Berkas terlalu besar: paling besar "
                f"{catalogue.max_attachment_bytes // (1024 * 1024)} MB."
            )
            continue
        if requirement.code in optional:
            optional_kept = (optional & set(kept)) | {requirement.code}
            if len(letter_type.requirements) + len(optional_kept) > MAX_SCANS_PER_MESSAGE:
                errors[f"berkas_{requirement.code}"] = (
                    f"Tidak disimpan: paling banyak {MAX_SCANS_PER_MESSAGE} berkas pindaian "
                    "per permohonan, termasuk yang wajib."
                )
                continue
        await walk_in_scans.keep(session, token, staff, requirement.code, upload.filename, content)
        kept = await walk_in_scans.kept(session, token, staff)
    for requirement in letter_type.requirements:
        name = f"berkas_{requirement.code}"
        if requirement.code not in kept and name not in errors:
            errors[name] = f"Pilih berkas pindaian {requirement.name}."

    resident, refused_resident = await _resident_or_refusal(session, staff, text("penduduk", 64))
    if refused_resident:
        errors["penduduk"] = refused_resident
    held = (
        walk_in.from_register([f.name for f in letter_type.fields], resident)
        if resident is not None
        else {}
    )
    fields: dict[str, str] = {}
    for spec in letter_type.fields:
        if spec.name in held:
            continue  # the register's: intake writes it, whatever a form says
        value = text(f"isian_{spec.name}", 1000)
        values[f"isian_{spec.name}"] = value
        if value.strip():
            fields[spec.name] = value

    def again(
        errors: dict[str, str], flash: str | None = None, status_code: int = 422
    ) -> HTMLResponse:
        return _form_page(
            request,
            page,
            catalogue,
            letter_type,
            resident=resident,
            values=values,
            errors=errors,
            flash=flash,
            token=token,
            kept=kept,
            status_code=status_code,
        )

    if errors:
        return again(errors)
    # A desa switched off takes no new application, at the counter either (desa_service.py).
    closed = await closed_reason(session, staff.desa_code)
    if closed:
        return again({}, flash=closed, status_code=409)
    try:
        filed = await walk_in.file(
            runtime.intake,
            staff,
            walk_in.WalkInForm(
                request_id=values["request_id"],
                letter_type=letter_type.code,
                nik=resident.nik if resident is not None else values["nik"],
                phone=values["hp"],
                purpose=values["keperluan"],
                fields=fields,
                scans=[(kind, scan.filename, scan.content) for kind, scan in kept.items()],
            ),
            # Scans take a while on a desa office's uplink.
            runtime.settings.intake_timeout_seconds * 6,
        )
    except walk_in.Refused as refused:
        name = field_name(refused.field)
        if not refused.retry:
            values["request_id"] = ""  # nothing was filed: a fresh request id next time
        if name.startswith("berkas_"):
            # That scan itself was refused: it is the one to choose again.
            kind = name.removeprefix("berkas_")
            await walk_in_scans.drop(session, token, staff, kind)
            kept.pop(kind, None)
        return again(
            {name: refused.message} if name else {},
            flash=None if name else refused.message,
            status_code=503 if refused.retry else 422,
        )
    await walk_in_scans.drop(session, token, staff)
    return RedirectResponse(f"{PATH}/{filed.application_id}", status_code=303)


def masked_phone(phone: str) -> str:
    """6281234567890 -> 0812****890: enough for the resident to recognise their number."""
    local = "0" + phone.removeprefix("62") if phone.startswith("62") else phone
    return local[:4] + "*" * max(0, len(local) - 7) + local[-3:]


@router.get(PATH + "/{application_id}")
async def walk_in_filed(
    request: Request,
    application_id: str,
    runtime: RuntimeDep,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> HTMLResponse:
    """The receipt for the resident (printed) and what they will be told."""
    walk_in.require_filer(roles)
    timeout = runtime.settings.intake_timeout_seconds
    application = await read_application(runtime.intake, application_id, timeout)
    if application.desa_code != staff.desa_code or application.channel != "walk_in":
        raise NotFound("not-found", "Permohonan tidak ditemukan.")
    await access_log.record_now(
        session,
        staff,
        access_log.KIND_WALK_IN,
        application_id=application.id,
        purpose=application.number,
    )
    catalogue = await walk_in.catalogue(runtime.intake, timeout)
    letter_type = _type_of(catalogue, application.letter_type)
    contact = await walk_in.contact(runtime.intake, application_id, timeout)
    desa = find_desa(application.desa_code)
    submitted = (
        application.submitted_at.ToDatetime()
        if application.HasField("submitted_at")
        else application.created_at.ToDatetime()
    )
    return render(
        request,
        "pengajuan_langsung_selesai.html",
        {
            "title": "Tanda terima permohonan",
            "nav_active": "pengajuan-langsung",
            "application": application,
            "letter_type_name": letter_type.name if letter_type else application.letter_type,
            "desa_name": desa.name if desa else application.desa_code,
            "resident_name": application.fields.get("nama", ""),
            "nik": walk_in.masked_nik(application.nik),
            "submitted": submitted,
            "phone": masked_phone(contact),
            "portal": runtime.settings.portal_url,
            "flash": "Permohonan warga sudah didaftarkan dan diteruskan untuk diperiksa.",
            "flash_kind": "ok",
        },
        page=page,
    )
