"""Which letter types the desa offers and their routes (/pengaturan/surat), the same use cases
as /api/v1/routes (`route_admin`): every desa staff member sees them; the Sekdes and the Kades (or the
operator they allowed: `RouteEditor`) switch a type on or off and edit its route."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.domain import DESA_ROLES, ROLE_LABELS, Role
from common.domain.errors import DomainError
from common.web.refusals import Refusal, refusal_of
from services.verification import route_admin
from services.verification.api.deps import CatalogueDep, DesaStaff, RouteEditor, SessionDep
from services.verification.route_admin import RouteIn, RouteOut, StepIO
from services.verification.routes import MAX_STEP_HOURS, MAX_STEPS
from services.verification.web.pages import StaffPageDep, render
from services.verification.web.routes.settings import (
    administers,
    done,
    flash_of,
    refusal_flash,
)

router = APIRouter(prefix="/pengaturan/surat", include_in_schema=False)

LetterType = Annotated[str, Path(min_length=1, max_length=20)]
NO_ROLE = ""


@router.get("")
async def letter_types_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaStaff,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> HTMLResponse:
    return render(
        request,
        "pengaturan/surat.html",
        {
            "title": "Jenis surat dan alurnya",
            "nav_active": "pengaturan",
            "routes": await route_admin.routes_of(session, catalogue, staff.desa_code),
            "may_edit": await administers(page, session),
            **flash_of(request),
        },
        page=page,
    )


@router.get("/{letter_type}/hentikan")
async def stop_confirmation(
    request: Request,
    letter_type: LetterType,
    page: StaffPageDep,
    staff: RouteEditor,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> HTMLResponse:
    """Before a service stops: what happens to new requests and to letters in progress."""
    current = await route_admin.route_of(session, catalogue, staff.desa_code, letter_type)
    return render(
        request,
        "pengaturan/hentikan.html",
        {
            "title": f"Hentikan layanan {current.name}?",
            "nav_active": "pengaturan",
            "route": current,
            "in_progress": await route_admin.letters_in_progress(
                session, catalogue, staff.desa_code, current.letter_type
            ),
        },
        page=page,
    )


@router.post("/{letter_type}/layanan")
async def switch_offered(
    letter_type: LetterType,
    staff: RouteEditor,
    session: SessionDep,
    catalogue: CatalogueDep,
    dilayani: Annotated[str, Form(max_length=1)] = "",
    yakin: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    if dilayani != "1" and yakin != "1":
        # Stopping is asked first (an old page's one-click form lands on the question).
        code = await route_admin.known(catalogue, letter_type)
        return RedirectResponse(f"/pengaturan/surat/{code}/hentikan", status_code=303)
    await route_admin.offer(session, catalogue, staff, letter_type, dilayani == "1")
    return done("/pengaturan/surat", "layanan-diubah")


def _rows(route: RouteIn) -> list[dict[str, Any]]:
    """The steps as form rows, with empty rows to add steps (up to MAX_STEPS)."""
    rows: list[dict[str, Any]] = [
        {"role": s.role, "hours": s.deadline_working_hours, "skippable": s.skippable}
        for s in route.steps
    ]
    while len(rows) < min(MAX_STEPS, len(route.steps) + 2):
        rows.append({"role": NO_ROLE, "hours": 8, "skippable": False})
    return rows


async def _editor(
    request: Request,
    page: StaffPageDep,
    current: RouteOut,
    shown: RouteIn,
    *,
    rows: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    roles = [(r, ROLE_LABELS[r]) for r in DESA_ROLES]
    return render(
        request,
        "pengaturan/alur.html",
        {
            "title": f"Alur {current.name}",
            "nav_active": "pengaturan",
            "route": current,
            "shown": shown,
            "rows": rows if rows is not None else _rows(shown),
            "step_roles": [(NO_ROLE, "(tidak dipakai)"), *roles],
            # An operator prepares letters and never signs them (route_problems refuses it).
            "signer_roles": [(r, label) for r, label in roles if r != Role.OPERATOR],
            "on_behalf_roles": [(NO_ROLE, "(tidak ada)"), *roles],
            "max_hours": MAX_STEP_HOURS,
            **(extra if extra is not None else flash_of(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get("/{letter_type}")
async def route_editor_page(
    request: Request,
    letter_type: LetterType,
    page: StaffPageDep,
    staff: RouteEditor,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> HTMLResponse:
    current = await route_admin.route_of(session, catalogue, staff.desa_code, letter_type)
    return await _editor(request, page, current, current)


@router.post("/{letter_type}")
async def save_route(
    request: Request,
    letter_type: LetterType,
    page: StaffPageDep,
    staff: RouteEditor,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> Response:
    current = await route_admin.route_of(session, catalogue, staff.desa_code, letter_type)
    form = await request.form()
    rows: list[dict[str, Any]] = []
    for i in range(MAX_STEPS):
        role = form.get(f"langkah-{i}-peran")
        if role is None:
            break
        rows.append(
            {
                "role": str(role),
                "hours": str(form.get(f"langkah-{i}-jam", "")).strip(),
                "skippable": form.get(f"langkah-{i}-lewati") == "1",
            }
        )
    signer = str(form.get("penanda_tangan", ""))
    on_behalf = str(form.get("atas_nama", ""))
    # What was chosen, shown again as it came (checked below, never saved unchecked).
    shown = RouteIn.model_construct(steps=[], signer_role=signer, on_behalf_of_role=on_behalf)
    body = _route_of_form(rows, signer, on_behalf)
    refused = body if isinstance(body, Refusal) else None
    if isinstance(body, RouteIn):
        try:
            await route_admin.save_route(session, catalogue, staff, letter_type, body)
        except DomainError as exc:
            refused = refusal_of(exc)
            if refused.status != 422:
                raise
    if refused is not None:
        return await _editor(
            request,
            page,
            current,
            shown,
            rows=rows,
            extra=refusal_flash(refused),
            status_code=422,
        )
    return done(f"/pengaturan/surat/{current.letter_type}", "rute-disimpan")


def _route_of_form(rows: list[dict[str, Any]], signer: str, on_behalf: str) -> RouteIn | Refusal:
    """The route the form describes, or why it cannot be read (before the route's own rules)."""
    steps: list[StepIO] = []
    for number, row in enumerate(rows, start=1):
        if row["role"] == NO_ROLE:
            continue
        try:
            hours = int(row["hours"])
        except ValueError:
            return Refusal(422, f"Langkah {number}: tenggat ditulis dengan angka jam kerja.")
        try:
            steps.append(
                StepIO(role=row["role"], deadline_working_hours=hours, skippable=row["skippable"])
            )
        except ValidationError:
            return Refusal(422, f"Langkah {number}: isian tidak sesuai.")
    try:
        return RouteIn(steps=steps, signer_role=signer, on_behalf_of_role=on_behalf)
    except ValidationError:
        return Refusal(422, "Isian alur tidak sesuai. Periksa kembali.")


@router.post("/{letter_type}/bawaan")
async def reset(
    letter_type: LetterType, staff: RouteEditor, session: SessionDep, catalogue: CatalogueDep
) -> Response:
    current = await route_admin.reset_route(session, catalogue, staff, letter_type)
    return done(f"/pengaturan/surat/{current.letter_type}", "rute-bawaan")
