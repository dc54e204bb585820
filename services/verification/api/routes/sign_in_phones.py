"""Residents' sign-in as the desa's operator keeps it, on the staff API: the bindings a first
sign-in made by proving family knowledge (list, undo) and a phone changed at the office after
an in-person check. Rules: services/verification/population/sign_in_phone.py."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from services.verification.api.deps import DesaStaff, HeldRoles, RuntimeDep, SessionDep
from services.verification.population import sign_in_phone

router = APIRouter(tags=["data penduduk"])

BindingId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f-]+$")]
ResidentId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]


class BindingOut(BaseModel):
    id: str
    resident_id: str | None  # the register's record in this desa; None when no longer held
    name: str
    nik: str
    phone: str
    bound_at: datetime
    undone_at: datetime | None
    undone_by: str


class UndoOut(BaseModel):
    undone: bool  # false when it had been undone already


class PhoneIn(BaseModel):
    phone: str = Field(max_length=32, examples=["081234567890"])
    # The operator checked the resident's KTP and KK in person at the office.
    checked_in_person: bool
    note: str = Field(default="", max_length=200)


class PhoneOut(BaseModel):
    resident_id: str
    phones: list[str]
    version: int
    old_numbers_told: int


@router.get("/sign-in-bindings")
async def list_bindings(
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
    include_undone: bool = False,
) -> list[BindingOut]:
    """Phones bound to a NIK the register holds without one, by a first sign-in that proved
    the KK number and mother's name; newest first. Each resident listed is a logged read."""
    found = await sign_in_phone.list_bindings(
        session,
        runtime.intake,
        runtime.settings.intake_timeout_seconds,
        desa_code=staff.desa_code,
        roles=roles,
        actor=staff.username,
        include_undone=include_undone,
    )
    return [
        BindingOut(
            id=b.id,
            resident_id=b.resident.id if b.resident else None,
            name=b.resident.name if b.resident else "",
            nik=b.resident.nik if b.resident else "",
            phone=b.phone,
            bound_at=b.bound_at,
            undone_at=b.undone_at,
            undone_by=b.undone_by,
        )
        for b in found
    ]


@router.post("/sign-in-bindings/{binding_id}/undo")
async def undo_binding(
    binding_id: BindingId, staff: DesaStaff, roles: HeldRoles, runtime: RuntimeDep
) -> UndoOut:
    """The phone no longer signs in for the NIK, and every session of the resident ends."""
    undone = await sign_in_phone.undo_binding(
        runtime.intake,
        runtime.settings.intake_timeout_seconds,
        desa_code=staff.desa_code,
        roles=roles,
        actor=staff.username,
        binding_id=binding_id,
    )
    return UndoOut(undone=undone)


@router.post("/residents/{resident_id}/phone")
async def change_phone(
    resident_id: ResidentId,
    body: PhoneIn,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> PhoneOut:
    """The resident's new phone, after their KTP and KK were checked in person: the register
    holds only it, the change is in the history, the resident's sessions end and each old
    number is told."""
    resident, told = await sign_in_phone.change_phone(
        session,
        runtime.intake,
        runtime.settings.intake_timeout_seconds,
        desa_code=staff.desa_code,
        roles=roles,
        actor=staff.username,
        resident_id=resident_id,
        phone=body.phone,
        checked_in_person=body.checked_in_person,
        note=body.note,
    )
    return PhoneOut(
        resident_id=resident.id,
        phones=[p for p in resident.phones.split(",") if p],
        version=resident.version,
        old_numbers_told=told,
    )
