"""Staff accounts and their roles (/pengaturan/akun), for the desa's administrators exactly as
/api/v1/staff allows them (`DesaAdmin`); others get the refusal page."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from common.domain import DESA_ROLES, ROLE_LABELS
from common.domain.errors import Conflict, Invalid
from common.web.refusals import refusal_of
from services.verification.api.deps import DesaAdmin, HeldRoles, SessionDep
from services.verification.models import StaffChange
from services.verification.staff_admin import (
    MIN_PASSWORD_LENGTH,
    account_of,
    change_account,
    create_account,
    desa_accounts,
    recent_changes,
    set_password,
)
from services.verification.web.pages import StaffPageDep, render
from services.verification.web.routes.settings import done, flash_of, problem_flash

router = APIRouter(prefix="/pengaturan/akun", include_in_schema=False)

Username = Annotated[str, Path(min_length=1, max_length=64)]
ACTIONS = {
    "created": "Akun dibuat",
    "role": "Jabatan diubah",
    "deactivated": "Dinonaktifkan",
    "reactivated": "Diaktifkan kembali",
    "password": "Kata sandi awal diganti",
    "own-password": "Kata sandi diganti oleh pemilik akun",
    "password-link": "Kata sandi diatur lewat tautan sekali pakai",
}


def describe(change: StaffChange) -> str:
    """'Jabatan diubah (Kasi Pemerintahan → Kasi Kesejahteraan Rakyat)'."""
    text = ACTIONS.get(change.action, change.action)
    if change.detail:
        roles = [ROLE_LABELS.get(r.strip(), r.strip()) for r in change.detail.split("->")]
        text += f" ({' → '.join(roles)})"
    return text


def _role_options() -> list[tuple[str, str]]:
    return [(r, ROLE_LABELS[r]) for r in DESA_ROLES]


async def _list_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaAdmin,
    session: SessionDep,
    *,
    form: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "pengaturan/akun.html",
        {
            "title": "Akun staf dan jabatan",
            "nav_active": "pengaturan",
            "accounts": await desa_accounts(session, staff.desa_code),
            "changes": await recent_changes(session, staff.desa_code, limit=20),
            "describe": describe,
            "role_options": _role_options(),
            "min_password": MIN_PASSWORD_LENGTH,
            "form": form or {},
            **(extra if extra is not None else flash_of(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get("")
async def accounts_page(
    request: Request, page: StaffPageDep, staff: DesaAdmin, session: SessionDep
) -> HTMLResponse:
    return await _list_page(request, page, staff, session)


@router.post("")
async def create(
    request: Request,
    page: StaffPageDep,
    staff: DesaAdmin,
    roles: HeldRoles,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        await create_account(session, staff, roles, username, role, password)
    except (Conflict, Invalid) as exc:
        return await _list_page(
            request,
            page,
            staff,
            session,
            form={"username": username, "role": role},
            extra=problem_flash(exc),
            status_code=refusal_of(exc).status,
        )
    return done("/pengaturan/akun", "akun-dibuat")


async def _account_page(
    request: Request,
    page: StaffPageDep,
    staff: DesaAdmin,
    session: SessionDep,
    username: str,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    account = await account_of(session, staff.desa_code, username)
    return render(
        request,
        "pengaturan/akun_ubah.html",
        {
            "title": f"Akun {account.username}",
            "nav_active": "pengaturan",
            "account": account,
            "is_me": account.username == staff.username,
            "role_options": _role_options(),
            "min_password": MIN_PASSWORD_LENGTH,
            **(extra if extra is not None else flash_of(request)),
        },
        page=page,
        status_code=status_code,
    )


@router.get("/{username}")
async def account_page(
    request: Request, username: Username, page: StaffPageDep, staff: DesaAdmin, session: SessionDep
) -> HTMLResponse:
    return await _account_page(request, page, staff, session, username)


@router.post("/{username}/jabatan")
async def change_role(
    request: Request,
    username: Username,
    page: StaffPageDep,
    staff: DesaAdmin,
    roles: HeldRoles,
    session: SessionDep,
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        await change_account(session, staff, roles, username, role=role)
    except (Conflict, Invalid) as exc:
        return await _account_page(
            request, page, staff, session, username, problem_flash(exc), refusal_of(exc).status
        )
    return done(f"/pengaturan/akun/{username}", "jabatan-diubah")


@router.post("/{username}/status")
async def change_status(
    request: Request,
    username: Username,
    page: StaffPageDep,
    staff: DesaAdmin,
    roles: HeldRoles,
    session: SessionDep,
    aktif: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    active = aktif == "1"
    try:
        await change_account(session, staff, roles, username, active=active)
    except (Conflict, Invalid) as exc:
        return await _account_page(
            request, page, staff, session, username, problem_flash(exc), refusal_of(exc).status
        )
    return done(f"/pengaturan/akun/{username}", "akun-aktif" if active else "akun-nonaktif")


@router.post("/{username}/sandi")
async def new_password(
    request: Request,
    username: Username,
    page: StaffPageDep,
    staff: DesaAdmin,
    roles: HeldRoles,
    session: SessionDep,
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        await set_password(session, staff, roles, username, password)
    except (Conflict, Invalid) as exc:
        return await _account_page(
            request, page, staff, session, username, problem_flash(exc), refusal_of(exc).status
        )
    return done(f"/pengaturan/akun/{username}", "sandi-diubah")
