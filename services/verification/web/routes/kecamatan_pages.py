"""The kecamatan tier in the kabupaten's staff client, over the same functions and rules as
/api/v1/kabupaten/kecamatan... (services/verification/kecamatan.py): every kecamatan of the
kabupaten; one kecamatan's accounts (camat, sekcam, kasi pelayanan) with one-time password
links, and its camat's certificate; and which letter types go through the kecamatan. The
kabupaten's staff read; only the kabupaten operator changes anything. (The kecamatan staff's
own inbox is /kotak-masuk: routes/inbox.py.)"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.domain import KECAMATAN_ROLES, Role, SignerKind, role_label
from common.domain.errors import Conflict, DomainError, Invalid
from common.web.refusals import Refusal, refusal_of
from common.wib import DAY_NAMES, WIB
from services.verification import kecamatan, onboarding, request_view
from services.verification.api.deps import (
    KabupatenOperator,
    RuntimeDep,
    SessionDep,
    kabupaten_staff,
)
from services.verification.models import KecamatanLetterType, Staff
from services.verification.route_admin import DayHoursIO, hhmm, hours_of
from services.verification.routes import (
    DEFAULT_RULES,
    MAX_STEP_HOURS,
    DesaRules,
    StepSpec,
    rules_of,
)
from services.verification.web.pages import StaffPage, StaffPageDep, render
from services.verification.web.routes.onboarding import certificate_upload, link_shown
from services.verification.web.routes.settings import (
    DEFAULT_DAY,
    END_TIMES,
    START_TIMES,
    calendar_context,
    month_of,
    refusal_flash,
)

router = APIRouter(include_in_schema=False)

LIST_PATH = "/kabupaten/kecamatan"
TYPES_PATH = "/kabupaten/kecamatan/jenis-surat"
KecamatanCode = Annotated[str, Path(min_length=1, max_length=12)]
Username = Annotated[str, Path(min_length=1, max_length=64)]
MESSAGES = {
    "sertifikat": "Sertifikat Camat terpasang; surat berikutnya ditandatangani dengannya.",
    "bsre": "Camat menandatangani melalui BSrE: pada surat berikutnya Camat mengisi passphrase "
    "BSrE saat menyetujui.",
    "nama": "Nama tersimpan.",
    "jenis": "Jenis surat disimpan: permohonan baru jenis ini melalui kecamatan.",
    "jenis-hapus": "Jenis surat tidak lagi melalui kecamatan (permohonan yang berjalan tetap).",
    "jam": "Jam kerja disimpan; berlaku untuk permohonan yang diajukan sesudahnya.",
    "jam-bawaan": "Kecamatan ini kembali memakai jam kerja bawaan kabupaten.",
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


# -- the working calendar kecamatan steps count in (as /api/v1/kabupaten/kecamatan-calendar and
# /api/v1/kabupaten/kecamatan/{code}/calendar): the kabupaten's default, a kecamatan's own ----

CALENDAR_PATH = LIST_PATH + "/jam-kerja"
CALENDAR_SOURCES = {
    kecamatan.CALENDAR_KECAMATAN: "jam kerja kecamatan ini sendiri",
    kecamatan.CALENDAR_KABUPATEN: "jam kerja bawaan kabupaten untuk kantor kecamatan",
    kecamatan.CALENDAR_DEFAULT: "jam kerja bawaan layanan (Senin–Jumat 08.00–16.00)",
}


def _calendar_values(rules: DesaRules) -> dict[str, Any]:
    """The form's values from saved rules (the shape of the desa's jam-kerja page)."""
    hours = {d.weekday: (hhmm(d.start_minute), hhmm(d.end_minute)) for d in rules.schedule}
    return {
        "week": {
            d: {
                "open": d in hours,
                "start": hours.get(d, DEFAULT_DAY)[0],
                "end": hours.get(d, DEFAULT_DAY)[1],
            }
            for d in DAY_NAMES
        },
        "local_days_off": sorted(rules.local_days_off),
    }


async def _calendar_page(
    request: Request,
    page: StaffPage,
    session: SessionDep,
    code: str | None,
    *,
    values: dict[str, Any] | None = None,
    month: str = "",
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """`code`: a kecamatan's calendar; None: the kabupaten's default."""
    kabupaten = page.staff.kabupaten_code
    area = kecamatan.kecamatan_in_kabupaten(kabupaten, code) if code else None
    if area is not None:
        rules, source = await kecamatan.kecamatan_calendar(session, area.code, kabupaten)
    else:
        row = await kecamatan.calendar_row(session, kabupaten)
        rules = rules_of(row) if row is not None else DEFAULT_RULES
        source = kecamatan.CALENDAR_KABUPATEN if row is not None else kecamatan.CALENDAR_DEFAULT
    values = values or _calendar_values(rules)
    first = month_of(month, datetime.now(WIB).date())
    action = f"{LIST_PATH}/{area.code}/jam-kerja" if area is not None else CALENDAR_PATH
    return render(
        request,
        "kabupaten_kecamatan_jam.html",
        {
            "title": f"Jam kerja Kecamatan {area.name}"
            if area is not None
            else "Jam kerja bawaan kantor kecamatan",
            "nav_active": "kecamatan",
            "area": area,
            "source": source,
            "source_text": CALENDAR_SOURCES[source],
            "action": action,
            "values": values,
            "days": DAY_NAMES,
            "start_times": START_TIMES,
            "end_times": END_TIMES,
            "may_change": page.staff.role == Role.KABUPATEN_OPERATOR,
            **calendar_context(values, first),
            **(extra if extra is not None else _flash(request)),
        },
        page=page,
        status_code=status_code,
    )


async def _save_calendar(
    request: Request, page: StaffPage, staff: Staff, session: SessionDep, code: str | None
) -> Response:
    form = await request.form()
    week = {
        d: {
            "open": form.get(f"hari-{d}-buka") == "1",
            "start": str(form.get(f"hari-{d}-mulai", DEFAULT_DAY[0]))[:5],
            "end": str(form.get(f"hari-{d}-selesai", DEFAULT_DAY[1]))[:5],
        }
        for d in DAY_NAMES
    }
    days_off = sorted({str(d)[:10] for d in form.getlist("libur")})
    values: dict[str, Any] = {"week": week, "local_days_off": days_off}
    shown = form.get("tampil")
    if shown is not None:  # another month: the form as filled, not yet saved
        return await _calendar_page(
            request, page, session, code, values=values, month=str(shown), extra={"unsaved": True}
        )
    month = str(form.get("bulan", ""))[:7]
    try:
        hours = [
            DayHoursIO(weekday=d, start=w["start"], end=w["end"])
            for d, w in week.items()
            if w["open"]
        ]
    except ValidationError:
        refused = Refusal(422, "Isian tidak sesuai. Periksa jam buka dan jam tutup.")
    else:
        try:
            # As the API's PUTs: the same checks (every broken rule, in Indonesian), one row.
            office = (
                kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code).code
                if code
                else staff.kabupaten_code
            )
            await kecamatan.save_calendar(session, staff, office, hours_of(hours), tuple(days_off))
        except DomainError as exc:
            refused = refusal_of(exc)
            if refused.status not in (409, 422):
                raise
        else:
            path = f"{LIST_PATH}/{code}/jam-kerja" if code else CALENDAR_PATH
            return RedirectResponse(f"{path}?pesan=jam&bulan={month}", status_code=303)
    return await _calendar_page(
        request,
        page,
        session,
        code,
        values=values,
        month=month,
        extra=refusal_flash(refused),
        status_code=refused.status,
    )


@router.get(CALENDAR_PATH, dependencies=[Depends(kabupaten_staff)])
async def default_calendar_page(
    request: Request,
    page: StaffPageDep,
    session: SessionDep,
    bulan: Annotated[str, Query(max_length=7)] = "",
) -> HTMLResponse:
    return await _calendar_page(request, page, session, None, month=bulan)


@router.post(CALENDAR_PATH)
async def save_default_calendar(
    request: Request, page: StaffPageDep, staff: KabupatenOperator, session: SessionDep
) -> Response:
    return await _save_calendar(request, page, staff, session, None)


@router.get(LIST_PATH + "/{code}/jam-kerja", dependencies=[Depends(kabupaten_staff)])
async def kecamatan_calendar_page(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    session: SessionDep,
    bulan: Annotated[str, Query(max_length=7)] = "",
) -> HTMLResponse:
    return await _calendar_page(request, page, session, code, month=bulan)


@router.post(LIST_PATH + "/{code}/jam-kerja")
async def save_kecamatan_calendar(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    session: SessionDep,
) -> Response:
    return await _save_calendar(request, page, staff, session, code)


@router.post(LIST_PATH + "/{code}/jam-kerja/bawaan")
async def reset_kecamatan_calendar(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    session: SessionDep,
) -> Response:
    try:
        area = kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code)
        await kecamatan.reset_calendar(session, staff, area.code)
    except DomainError as exc:
        return await _calendar_page(
            request, page, session, code, extra=refused(exc), status_code=refusal_of(exc).status
        )
    return RedirectResponse(f"{LIST_PATH}/{code}/jam-kerja?pesan=jam-bawaan", status_code=303)


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
            # How the camat signs: BSrE (a passphrase at each approval) or a key kept here.
            "camat_bsre": await request_view.signer_kind(runtime, area.code) == SignerKind.BSRE,
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
    upload = await certificate_upload(await request.form())
    try:
        await kecamatan.install_camat_signer(runtime, session, staff, code, upload)
    except DomainError as exc:
        return await _refused_page(request, page, runtime, session, code, exc)
    return RedirectResponse(f"{LIST_PATH}/{code}?pesan=sertifikat", status_code=303)


@router.post(LIST_PATH + "/{code}/bsre")
async def camat_bsre(
    request: Request,
    code: KecamatanCode,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
    nik: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The API's `PUT .../signers/camat/bsre`: the camat signs through BSrE, by this NIK."""
    upload = onboarding.CertificateUpload(bsre_nik=nik.strip())
    try:
        if not upload.bsre_nik:
            raise Invalid("nik-required", "Isi NIK Camat yang terdaftar di BSrE.", field="nik")
        await kecamatan.install_camat_signer(runtime, session, staff, code, upload)
    except DomainError as exc:
        return await _refused_page(request, page, runtime, session, code, exc)
    return RedirectResponse(f"{LIST_PATH}/{code}?pesan=bsre", status_code=303)
