"""Pengajuan langsung: the operator files an application for a resident at the desa office, with
the documents scanned there (/pengajuan-langsung), and sees what the resident will receive.

Two steps without script: choose the letter type (its fields and syarat come from intake),
then fill NIK, phone, purpose, the type's fields and one scan per syarat. Intake checks it all
(services.verification.walk_in.file); a refusal re-renders the form with intake's message next
to the field and every value kept except the files, which a browser never refills.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from smartdesa.v1 import intake_pb2
from starlette.datastructures import UploadFile

from common.domain.errors import NotFound
from services.verification import walk_in
from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.intake_reader import read_application
from services.verification.routes import not_offered
from services.verification.web.pages import StaffPageDep, render

router = APIRouter(include_in_schema=False)

PATH = "/pengajuan-langsung"
ACCEPT = "application/pdf,image/jpeg,image/png"
NOT_OFFERED = "Desa ini belum melayani surat ini (lihat Pengaturan › Jenis surat)."
FILES_AGAIN = (
    "Demi keamanan, peramban tidak menyimpan berkas yang sudah dipilih: pilih lagi semua "
    "berkas pindaian sebelum mengirim ulang."
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


def _form_page(
    request: Request,
    page: Any,
    catalogue: intake_pb2.LetterTypeCatalogue,
    letter_type: intake_pb2.LetterTypeInfo | None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = values or {}
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
            "values": values,
            "errors": errors or {},
            "request_id": values.get("request_id") or uuid.uuid4().hex,
            "accept": ACCEPT,
            "max_mb": catalogue.max_attachment_bytes // (1024 * 1024),
            "files_again": FILES_AGAIN if errors or flash else "",
            "flash": flash,
            "flash_kind": "galat" if flash else None,
        },
        page=page,
        status_code=status_code,
    )


@router.get(PATH)
async def walk_in_form(
    request: Request,
    runtime: RuntimeDep,
    page: StaffPageDep,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    jenis: str = "",
) -> HTMLResponse:
    walk_in.require_filer(roles)
    catalogue = await _offered_catalogue(runtime, session, staff.desa_code)
    letter_type = _type_of(catalogue, jenis) if jenis else None
    errors = {"jenis": "Jenis surat tidak tersedia."} if jenis and letter_type is None else None
    return _form_page(request, page, catalogue, letter_type, errors=errors)


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
    fields: dict[str, str] = {}
    for spec in letter_type.fields:
        value = text(f"isian_{spec.name}", 1000)
        values[f"isian_{spec.name}"] = value
        if value.strip():
            fields[spec.name] = value
    scans: list[tuple[str, bytes]] = []
    errors: dict[str, str] = {}
    for requirement in letter_type.requirements:
        upload = form.get(f"berkas_{requirement.code}")
        if not isinstance(upload, UploadFile) or not upload.filename:
            errors[f"berkas_{requirement.code}"] = f"Pilih berkas pindaian {requirement.name}."
            continue
        # One byte past intake's limit is enough for intake to refuse it with its message.
        content = await upload.read(catalogue.max_attachment_bytes + 1)
        scans.append((requirement.code, content))
    if errors:
        return _form_page(
            request, page, catalogue, letter_type, values=values, errors=errors, status_code=422
        )
    try:
        filed = await walk_in.file(
            runtime.intake,
            staff,
            walk_in.WalkInForm(
                request_id=values["request_id"],
                letter_type=letter_type.code,
                nik=values["nik"],
                phone=values["hp"],
                purpose=values["keperluan"],
                fields=fields,
                scans=scans,
            ),
            # Scans take a while on a desa office's uplink.
            runtime.settings.intake_timeout_seconds * 6,
        )
    except walk_in.Refused as refused:
        name = field_name(refused.field)
        if not refused.retry:
            values["request_id"] = ""  # nothing was filed: a fresh request id next time
        return _form_page(
            request,
            page,
            catalogue,
            letter_type,
            values=values,
            errors={name: refused.message} if name else {},
            flash=None if name else refused.message,
            status_code=503 if refused.retry else 422,
        )
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
) -> HTMLResponse:
    walk_in.require_filer(roles)
    timeout = runtime.settings.intake_timeout_seconds
    application = await read_application(runtime.intake, application_id, timeout)
    if application.desa_code != staff.desa_code or application.channel != "walk_in":
        raise NotFound("not-found", "Permohonan tidak ditemukan.")
    catalogue = await walk_in.catalogue(runtime.intake, timeout)
    letter_type = _type_of(catalogue, application.letter_type)
    contact = await walk_in.contact(runtime.intake, application_id, timeout)
    return render(
        request,
        "pengajuan_langsung_selesai.html",
        {
            "title": "Permohonan terdaftar",
            "nav_active": "pengajuan-langsung",
            "application": application,
            "letter_type_name": letter_type.name if letter_type else application.letter_type,
            "phone": masked_phone(contact),
            "flash": "Permohonan warga sudah didaftarkan dan diteruskan untuk diperiksa.",
            "flash_kind": "ok",
        },
        page=page,
    )
