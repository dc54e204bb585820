"""The kecamatan tier (services/verification/kecamatan.py): the kabupaten operator's kecamatan
accounts and the letter types that go through the kecamatan; the kecamatan staff's inbox. A
kecamatan task is seen and decided through `GET/POST /tasks/{application_id}...` like a desa's
(staff_tasks.desk_for lets kecamatan staff at their kecamatan's open tasks only)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from common.db import as_utc
from common.domain.errors import Invalid
from services.verification import kecamatan, staff_tasks
from services.verification.api.deps import (
    CatalogueDep,
    CurrentStaff,
    KabupatenOperator,
    KabupatenStaff,
    RuntimeDep,
    SessionDep,
)
from services.verification.api.routes.onboarding import PasswordLinkOut
from services.verification.models import KecamatanLetterType
from services.verification.routes import StepSpec
from services.verification.staff_tasks import EscalatedTask

router = APIRouter(tags=["kecamatan"])

KecamatanCode = Annotated[
    str, Path(min_length=1, max_length=12, description="kode kecamatan Kemendagri")
]
LetterTypeCode = Annotated[str, Path(min_length=1, max_length=40)]


class KecamatanAccountIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(description="camat | sekcam | kasi_pelayanan_kecamatan")


class KecamatanAccountOut(BaseModel):
    username: str
    role: str
    active: bool
    password_set: bool


class StepIn(BaseModel):
    role: str = Field(min_length=1, max_length=40)
    deadline_working_hours: int = Field(default=8, ge=1)
    skippable: bool = False


class KecamatanLetterTypeIn(BaseModel):
    # Without steps: the kasi pelayanan of the kecamatan checks, then the camat (8 working
    # hours each).
    steps: list[StepIn] | None = Field(default=None, max_length=3)


class KecamatanLetterTypeOut(BaseModel):
    letter_type: str
    steps: list[StepIn]
    updated_by: str
    updated_at: datetime


def _type_out(row: KecamatanLetterType) -> KecamatanLetterTypeOut:
    return KecamatanLetterTypeOut(
        letter_type=row.letter_type,
        steps=[
            StepIn(
                role=s.role,
                deadline_working_hours=s.deadline_working_hours,
                skippable=s.skippable,
            )
            for s in kecamatan.steps_of(row)
        ],
        updated_by=row.updated_by,
        updated_at=as_utc(row.updated_at),
    )


@router.get("/kabupaten/kecamatan/{code}/accounts")
async def list_kecamatan_accounts(
    code: KecamatanCode, staff: KabupatenStaff, session: SessionDep
) -> list[KecamatanAccountOut]:
    area = kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code)
    return [
        KecamatanAccountOut(
            username=s.username,
            role=s.role,
            active=s.active,
            password_set=not s.password_hash.startswith("!"),
        )
        for s in await kecamatan.kecamatan_accounts(session, area.code)
    ]


@router.post("/kabupaten/kecamatan/{code}/accounts", status_code=201)
async def create_kecamatan_account(
    code: KecamatanCode,
    body: KecamatanAccountIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> PasswordLinkOut:
    """A kecamatan account (camat, sekcam, kasi pelayanan kecamatan) without a password, and
    the one-time link its holder sets their own password with."""
    account, link = await kecamatan.create_kecamatan_account(
        runtime, session, staff, code, body.username, body.role
    )
    return PasswordLinkOut(
        username=account.username,
        role=account.role,
        set_password_path=link.path,
        expires_at=as_utc(link.expires_at),
    )


@router.get("/kabupaten/kecamatan-letter-types")
async def list_kecamatan_letter_types(
    staff: KabupatenStaff, session: SessionDep
) -> list[KecamatanLetterTypeOut]:
    """The letter types that go through the kecamatan in this kabupaten, with its steps."""
    return [
        _type_out(r) for r in await kecamatan.kecamatan_letter_types(session, staff.kabupaten_code)
    ]


@router.put("/kabupaten/kecamatan-letter-types/{letter_type}")
async def put_kecamatan_letter_type(
    letter_type: LetterTypeCode,
    body: KecamatanLetterTypeIn,
    staff: KabupatenOperator,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> KecamatanLetterTypeOut:
    """The letter type goes through the kecamatan (letters started from now on)."""
    if await catalogue.known(letter_type) is None:
        raise Invalid(
            "unknown-letter-type",
            f"Jenis surat {letter_type!r} tidak ada di katalog.",
            field="letter_type",
        )
    steps = (
        tuple(StepSpec(s.role, s.deadline_working_hours, s.skippable) for s in body.steps)
        if body.steps is not None
        else kecamatan.DEFAULT_STEPS
    )
    row = await kecamatan.set_kecamatan_letter_type(session, staff, letter_type, steps)
    return _type_out(row)


@router.delete("/kabupaten/kecamatan-letter-types/{letter_type}", status_code=204)
async def delete_kecamatan_letter_type(
    letter_type: LetterTypeCode, staff: KabupatenOperator, session: SessionDep
) -> Response:
    """The letter type no longer goes through the kecamatan (running letters keep theirs)."""
    await kecamatan.unset_kecamatan_letter_type(session, staff, letter_type)
    return Response(status_code=204)


@router.get("/kecamatan/tasks")
async def list_kecamatan_tasks(staff: CurrentStaff, session: SessionDep) -> list[EscalatedTask]:
    """The kecamatan staff member's inbox: open tasks of their kecamatan's desa at their role's
    step or escalated to their role, each with its desa by code and name."""
    return await staff_tasks.kecamatan_tasks(session, staff)
