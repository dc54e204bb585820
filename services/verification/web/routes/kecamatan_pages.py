"""The kecamatan tier in the kabupaten's staff client, over the same functions and rules as
/api/v1/kabupaten/kecamatan... (services/verification/kecamatan.py): every kecamatan of the
kabupaten; one kecamatan's accounts (camat, sekcam, kasi pelayanan) with one-time password
links, and its camat's certificate; and which letter types go through the kecamatan. The
kabupaten's staff read; only the kabupaten operator changes anything. (The kecamatan staff's
own inbox is /kotak-masuk: routes/inbox.py.)"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain import KECAMATAN_ROLES, Role, role_label
from common.domain.errors import Conflict, DomainError, Invalid
from common.web.refusals import refusal_of
from services.verification import kecamatan, onboarding
from services.verification.api.deps import (
    KabupatenOperator,
    RuntimeDep,
    SessionDep,
    kabupaten_staff,
)
from services.verification.models import KecamatanLetterType
from services.verification.routes import MAX_STEP_HOURS, StepSpec
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.onboarding import link_shown, uploaded_file

router = APIRouter(include_in_schema=False)

LIST_PATH = "/kabupaten/kecamatan"
TYPES_PATH = "/kabupaten/kecamatan/jenis-surat"
KecamatanCode = Annotated[str, Path(min_length=1, max_length=12)]
Username = Annotated[str, Path(min_length=1, max_length=64)]
MESSAGES = {
    "sertifikat": "Sertifikat Camat terpasang; surat berikutnya ditandatangani dengannya.",
    "nama": "Nama tersimpan.",
    "jenis": "Jenis surat disimpan: permohonan baru jenis ini melalui kecamatan.",
    "jenis-hapus": "Jenis surat tidak lagi melalui kecamatan (permohonan yang berjalan tetap).",
}


def refused(exc: DomainError) -> dict[str, Any]:
    return {"flash": exc.message, "flash_kind": "galat"}


def _flash(request: Request) -> dict[str, Any]:
    message = MESSAGES.get(request.query_params.get("pesan", ""))
    return {"flash": message, "flash_kind": "ok"} if message else {}


@router.get(LIST_PATH, dependencies=[Depends(kabupaten_staff)])
async def kecamatan_list(request: Request, page: StaffPageDep, session: SessionDep) -> HTMLResponse:
    rows = await kecamatan.kecamatan_rows(session, page.staff.kabupaten_code)
    return render(
        request,
        "kabupaten_kecamatan.html",
        {"title": "Kecamatan", "nav_active": "kecamatan", "rows": rows},
        page=page,
    )


# -- which letter types go through the kecamatan (before /{code}: its path is fixed) --------

STEP_SLOTS = 3
# The purposes textarea, one per line: 30 purposes of at most 100 characters fit.
MAX_PURPOSES_TEXT = 4000


def purposes_from_text(text: str) -> tuple[str, ...]:
    """The textarea's purposes, one a line; blank lines are left out."""
    return tuple(line for line in (" ".join(x.split()) for x in text.splitlines()) if line)


def _loaded_form(row: KecamatanLetterType) -> dict[str, Any]:
    """The form filled with a type as saved, so that saving it again keeps its purposes."""
    return {
        "jenis": row.letter_type,
        "loaded": row.letter_type,
        "steps": [(s.role, s.deadline_working_hours) for s in kecamatan.steps_of(row)],
        "purposes": "\n".join(kecamatan.purposes_of(row)),
    }


async def _types_page(
    request: Request,
    page: StaffPage,
    runtime: RuntimeDep,
    session: SessionDep,
    *,
    extra: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = await kecamatan.kecamatan_letter_types(session, page.staff.kabupaten_code)
    names = await runtime.catalogue.names()
    if form is None:
        # ?ubah=SKTM opens a saved type in the form (its steps and purposes).
        editing = request.query_params.get("ubah", "")
        row = next((r for r in rows if r.letter_type == editing), None)
        form = _loaded_form(row) if row is not None else None
    default_form = {
        "jenis": "",
        "loaded": "",
        "steps": [(s.role, s.deadline_working_hours) for s in kecamatan.DEFAULT_STEPS],
        "purposes": "",
    }
    return render(
        request,
        "kabupaten_kecamatan_surat.html",
        {
            "title": "Jenis surat melalui kecamatan",
            "nav_active": "kecamatan",
            "rows": [
                (
                    r,
                    names.get(r.letter_type, r.letter_type),
                    kecamatan.steps_of(r),
                    kecamatan.purposes_of(r),
                )
                for r in rows
            ],
            "type_options": sorted(names.items(), key=lambda kv: kv[1]),
            "role_options": [("", "(tidak dipakai)")]
            + [(r, role_label(r)) for r in KECAMATAN_ROLES],
            "slots": STEP_SLOTS,
            "max_hours": MAX_STEP_HOURS,
            "may_change": page.staff.role == Role.KABUPATEN_OPERATOR,
            "form": form or default_form,
            **(extra if extra is not None else _flash(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get(TYPES_PATH, dependencies=[Depends(kabupaten_staff)])
async def letter_types_page(
    request: Request, page: StaffPageDep, runtime: RuntimeDep, session: SessionDep
) -> HTMLResponse:
    return await _types_page(request, page, runtime, session)


@router.post(TYPES_PATH)
async def set_letter_type(
    request: Request,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    """As PUT /api/v1/kabupaten/kecamatan-letter-types/{type}: the steps in order, empty
    slots left out, and the purposes (`keperluan`, one a line; none: every purpose). The PUT
    replaces the whole row, so a type already saved with purposes is only saved from a form
    that was filled with them (`dimuat`, from ?ubah=): a form opened blank for it is shown
    again with its purposes, and nothing is lost by a save that never showed them."""
    data = await request.form()
    jenis = str(data.get("jenis") or "")[:40]
    loaded = str(data.get("dimuat") or "")[:40]
    purposes_text = str(data.get("keperluan") or "")[:MAX_PURPOSES_TEXT]
    steps: list[tuple[str, str]] = []
    for i in range(STEP_SLOTS):
        role = str(data.get(f"peran_{i}") or "")[:40]
        hours = str(data.get(f"jam_{i}") or "")[:4]
        if role:
            steps.append((role, hours))
    form = {"jenis": jenis, "loaded": loaded, "steps": steps, "purposes": purposes_text}
    saved: KecamatanLetterType | None = None
    try:
        if await runtime.catalogue.known(jenis) is None:
            raise Invalid("unknown-letter-type", "Pilih jenis surat dari katalog.", field="jenis")
        saved = await session.get(KecamatanLetterType, (staff.kabupaten_code, jenis))
        if saved is not None and loaded != jenis and kecamatan.purposes_of(saved):
            raise Conflict(
                "purposes-not-shown",
                "Jenis surat ini sudah melalui kecamatan hanya untuk keperluan tertentu; "
                "daftarnya dimuat di bawah. Periksa lalu simpan lagi.",
                field="purposes",
            )
        specs = []
        for role, hours in steps:
            if not hours.isdigit():
                raise Invalid(
                    "invalid-steps",
                    f"Batas waktu tiap langkah 1–{MAX_STEP_HOURS} jam kerja (angka).",
                    field="steps",
                )
            specs.append(StepSpec(role, int(hours)))
        await kecamatan.set_kecamatan_letter_type(
            session, staff, jenis, tuple(specs), purposes_from_text(purposes_text)
        )
    except DomainError as exc:
        if exc.code == "purposes-not-shown" and saved is not None:
            # The typed steps stay; the saved purposes are filled in to be confirmed.
            form = form | {"loaded": jenis, "purposes": _loaded_form(saved)["purposes"]}
        return await _types_page(
            request,
            page,
            runtime,
            session,
            extra=refused(exc),
            form=form,
            status_code=refusal_of(exc).status,
        )
    return RedirectResponse(f"{TYPES_PATH}?pesan=jenis", status_code=303)


@router.post(TYPES_PATH + "/{letter_type}/hapus")
async def unset_letter_type(
    request: Request,
    letter_type: Annotated[str, Path(min_length=1, max_length=40)],
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    try:
        await kecamatan.unset_kecamatan_letter_type(session, staff, letter_type)
    except DomainError as exc:
        return await _types_page(
            request, page, runtime, session, extra=refused(exc), status_code=refusal_of(exc).status
        )
    return RedirectResponse(f"{TYPES_PATH}?pesan=jenis-hapus", status_code=303)


# -- one kecamatan ---------------------------------------------------------------------------


async def _kecamatan_page(
    request: Request,
    page: StaffPage,
    runtime: RuntimeDep,
    session: SessionDep,
    code: str,
    *,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    area = kecamatan.kecamatan_in_kabupaten(page.staff.kabupaten_code, code)
    accounts = await kecamatan.kecamatan_accounts(session, area.code)
    return render(
        request,
        "kabupaten_kecamatan_rinci.html",
        {
            "title": f"Kecamatan {area.name}",
            "nav_active": "kecamatan",
            "area": area,
            "accounts": accounts,
            "camat": await kecamatan.active_camat(session, area.code),
            "has_camat_certificate": Role.CAMAT
            in await onboarding.signer_roles(runtime, area.code),
            "may_change": page.staff.role == Role.KABUPATEN_OPERATOR,
            "role_options": [(r, role_label(r)) for r in KECAMATAN_ROLES],
            "no_password": onboarding.NO_PASSWORD,
            **(extra if extra is not None else _flash(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get(LIST_PATH + "/{code}", dependencies=[Depends(kabupaten_staff)])
async def kecamatan_page(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    runtime: RuntimeDep,
    session: SessionDep,
) -> HTMLResponse:
    return await _kecamatan_page(request, page, runtime, session, code)


async def _refused_page(
    request: Request,
    page: StaffPage,
    runtime: RuntimeDep,
    session: SessionDep,
    code: str,
    exc: DomainError,
    extra: dict[str, Any] | None = None,
) -> HTMLResponse:
    return await _kecamatan_page(
        request,
        page,
        runtime,
        session,
        code,
        extra=refused(exc) | (extra or {}),
        status_code=refusal_of(exc).status,
    )


@router.post(LIST_PATH + "/{code}/akun")
async def new_account(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        _account, link = await kecamatan.create_kecamatan_account(
            runtime, session, staff, code, username, role, full_name
        )
    except DomainError as exc:
        typed = {"username": username, "role": role, "full_name": full_name}
        return await _refused_page(
            request, page, runtime, session, code, exc, {"account_form": typed}
        )
    # The link is shown this once (only its hash is kept): no redirect that would lose it.
    return await _kecamatan_page(
        request, page, runtime, session, code, extra=link_shown(request, link)
    )


@router.post(LIST_PATH + "/{code}/akun/{username}/tautan")
async def new_link(
    request: Request,
    code: KecamatanCode,
    username: Username,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    try:
        link = await kecamatan.new_kecamatan_password_link(runtime, session, staff, code, username)
    except DomainError as exc:
        return await _refused_page(request, page, runtime, session, code, exc)
    extra = link_shown(request, link) | {
        "flash": f"Tautan baru untuk {link.username}; tautan sebelumnya tidak berlaku lagi."
    }
    return await _kecamatan_page(request, page, runtime, session, code, extra=extra)


@router.post(LIST_PATH + "/{code}/akun/{username}/nama")
async def rename(
    request: Request,
    code: KecamatanCode,
    username: Username,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
    full_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        await kecamatan.set_account_name(session, staff, code, username, full_name)
    except DomainError as exc:
        return await _refused_page(request, page, runtime, session, code, exc)
    return RedirectResponse(f"{LIST_PATH}/{code}?pesan=nama", status_code=303)


@router.post(LIST_PATH + "/{code}/sertifikat")
async def camat_certificate(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> Response:
    data = await request.form()
    upload = onboarding.CertificateUpload(
        pkcs12=await uploaded_file(data.get("pkcs12")),
        certificate_pem=await uploaded_file(data.get("sertifikat")),
        key_pem=await uploaded_file(data.get("kunci")),
        password=str(data.get("sandi") or "")[:256].encode(),
    )
    try:
        await kecamatan.install_camat_signer(runtime, session, staff, code, upload)
    except DomainError as exc:
        return await _refused_page(request, page, runtime, session, code, exc)
    return RedirectResponse(f"{LIST_PATH}/{code}?pesan=sertifikat", status_code=303)
