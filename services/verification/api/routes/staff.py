"""The desa's staff accounts and their roles, for the desa's administrators (Sekdes, Kades, or
the operator they allowed): list, create, change role, deactivate and reactivate, set a new
initial password. Rules: services/verification/staff_admin.py."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from common.db import as_utc
from common.domain import role_label
from services.verification.api.deps import DesaAdmin, HeldRoles, SessionDep
from services.verification.models import Staff, StaffChange
from services.verification.staff_admin import (
    MAX_PASSWORD_LENGTH,
    change_account,
    create_account,
    desa_accounts,
    recent_changes,
    set_password,
)

router = APIRouter(prefix="/staff", tags=["akun staf"])

Username = Annotated[str, Path(min_length=1, max_length=64)]


class StaffOut(BaseModel):
    username: str
    role: str
    role_label: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, staff: Staff) -> "StaffOut":
        return cls(
            username=staff.username,
            role=staff.role,
            role_label=role_label(staff.role),
            active=staff.active,
            created_at=as_utc(staff.created_at),
        )


class StaffCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(max_length=40)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class StaffPatch(BaseModel):
    role: str | None = Field(default=None, max_length=40)
    active: bool | None = None


class PasswordIn(BaseModel):
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class StaffChangeOut(BaseModel):
    username: str
    action: str
    detail: str
    changed_by: str
    changed_at: datetime

    @classmethod
    def of(cls, change: StaffChange) -> "StaffChangeOut":
        return cls(
            username=change.username,
            action=change.action,
            detail=change.detail,
            changed_by=change.changed_by,
            changed_at=as_utc(change.changed_at),
        )


@router.get("")
async def list_staff(staff: DesaAdmin, session: SessionDep) -> list[StaffOut]:
    """Every account of the desa, active or not."""
    return [StaffOut.of(s) for s in await desa_accounts(session, staff.desa_code)]


@router.get("/changes")
async def list_changes(staff: DesaAdmin, session: SessionDep) -> list[StaffChangeOut]:
    """The latest changes to the desa's accounts, newest first."""
    return [StaffChangeOut.of(c) for c in await recent_changes(session, staff.desa_code)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_staff(
    body: StaffCreate, staff: DesaAdmin, roles: HeldRoles, session: SessionDep
) -> StaffOut:
    created = await create_account(session, staff, roles, body.username, body.role, body.password)
    return StaffOut.of(created)


@router.patch("/{username}")
async def patch_staff(
    username: Username, body: StaffPatch, staff: DesaAdmin, roles: HeldRoles, session: SessionDep
) -> StaffOut:
    """Change the role and/or deactivate (active=false) or reactivate (active=true)."""
    changed = await change_account(
        session, staff, roles, username, role=body.role, active=body.active
    )
    return StaffOut.of(changed)


@router.post("/{username}/password")
async def new_password(
    username: Username, body: PasswordIn, staff: DesaAdmin, roles: HeldRoles, session: SessionDep
) -> StaffOut:
    """Sets a new initial password (e.g. when a staff member forgot theirs)."""
    return StaffOut.of(await set_password(session, staff, roles, username, body.password))
