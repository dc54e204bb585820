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
from common.domain.purposes import MAX_PURPOSES
from services.verification import kecamatan, staff_tasks
from services.verification.api.deps import (
    CatalogueDep,
    CurrentStaff,
    KabupatenOperator,
    KabupatenStaff,
    RuntimeDep,
    SessionDep,
)
from services.verification.api.routes.onboarding import (
    PasswordLinkOut,
    SignerIn,
    SignerOut,
    signer_out,
    upload_of,
)
from services.verification.models import DesaSettings, KecamatanLetterType, Staff
from services.verification.onboarding import NO_PASSWORD, CertificateUpload
from services.verification.route_admin import DayHoursIO, hhmm, hours_of
from services.verification.routes import DEFAULT_RULES, DesaRules, StepSpec, rules_of
from services.verification.staff_tasks import EscalatedTask

router = APIRouter(tags=["kecamatan"])

KecamatanCode = Annotated[
    str, Path(min_length=1, max_length=12, description="kode kecamatan Kemendagri")
]
LetterTypeCode = Annotated[str, Path(min_length=1, max_length=40)]
Username = Annotated[str, Path(min_length=1, max_length=64)]


class KecamatanAccountIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(description="camat | sekcam | kasi_pelayanan_kecamatan")
    # As printed on letters: required for the camat (the "mengetahui" stamp).
    full_name: str = Field(default="", max_length=200)


class KecamatanAccountOut(BaseModel):
    username: str
    role: str
    full_name: str
    active: bool
    password_set: bool


class KecamatanAccountPatch(BaseModel):
    full_name: str = Field(max_length=200)


class KecamatanOut(BaseModel):
    code: str
    name: str
    desa_count: int
    # Active accounts by role (camat, sekcam, kasi_pelayanan_kecamatan).
    accounts: dict[str, int]


def _account_out(s: Staff) -> KecamatanAccountOut:
    return KecamatanAccountOut(
        username=s.username,
        role=s.role,
        full_name=s.full_name,
        active=s.active,
        password_set=s.password_hash != NO_PASSWORD,
    )


class StepIn(BaseModel):
    role: str = Field(min_length=1, max_length=40)
    deadline_working_hours: int = Field(default=8, ge=1)
    skippable: bool = False


class KecamatanLetterTypeIn(BaseModel):
    # Without steps: the kasi pelayanan of the kecamatan checks, then the camat (8 working
    # hours each).
    steps: list[StepIn] | None = Field(default=None, max_length=3)
    # Only letters whose purpose (keperluan) names one of these go through the kecamatan,
    # matched as whole words ignoring case (common/domain/purposes.py). Empty or absent: every
    # letter of the type. A PUT replaces the whole row, purposes included.
    purposes: list[str] = Field(default_factory=list, max_length=MAX_PURPOSES)


class KecamatanLetterTypeOut(BaseModel):
    letter_type: str
    steps: list[StepIn]
    purposes: list[str]  # [] = every purpose
    updated_by: str
    updated_at: datetime


class CalendarIn(BaseModel):
    """A kecamatan office's working week and its own days off (national holidays and cuti
    bersama always count)."""

    hours: list[DayHoursIO] = Field(min_length=1, max_length=7)
    local_days_off: list[str] = Field(default_factory=list, max_length=366)


class CalendarOut(CalendarIn):
    code: str  # the kecamatan's code, or the kabupaten's for its default
    # Where these hours come from: "kecamatan" (its own), "kabupaten" (the kabupaten's default
    # for its kecamatan) or "default" (neither is set: Monday to Friday 08:00-16:00).
    source: str
    updated_by: str | None = None
    updated_at: datetime | None = None


def _calendar_out(
    code: str, rules: DesaRules, source: str, row: DesaSettings | None
) -> CalendarOut:
    return CalendarOut(
        code=code,
        hours=[
            DayHoursIO(weekday=d.weekday, start=hhmm(d.start_minute), end=hhmm(d.end_minute))
            for d in rules.schedule
        ],
        local_days_off=list(rules.local_days_off),
        source=source,
        updated_by=row.updated_by if row else None,
        updated_at=as_utc(row.updated_at) if row else None,
    )


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
        purposes=list(kecamatan.purposes_of(row)),
        updated_by=row.updated_by,
        updated_at=as_utc(row.updated_at),
    )


@router.get("/kabupaten/kecamatan")
async def list_kecamatan(staff: KabupatenStaff, session: SessionDep) -> list[KecamatanOut]:
    """Every kecamatan of the kabupaten, with its active accounts by role."""
    return [
        KecamatanOut(
            code=r.area.code,
            name=r.area.name,
            desa_count=len(r.area.desa_codes),
            accounts=r.accounts,
        )
        for r in await kecamatan.kecamatan_rows(session, staff.kabupaten_code)
    ]


@router.get("/kabupaten/kecamatan/{code}/accounts")
async def list_kecamatan_accounts(
    code: KecamatanCode, staff: KabupatenStaff, session: SessionDep
) -> list[KecamatanAccountOut]:
    area = kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code)
    return [_account_out(s) for s in await kecamatan.kecamatan_accounts(session, area.code)]


@router.patch("/kabupaten/kecamatan/{code}/accounts/{username}")
async def rename_kecamatan_account(
    code: KecamatanCode,
    username: Username,
    body: KecamatanAccountPatch,
    staff: KabupatenOperator,
    session: SessionDep,
) -> KecamatanAccountOut:
    """The holder's name as printed on letters. The camat's is printed from the next
    certificate installed on (signing keeps the name with the certificate)."""
    account = await kecamatan.set_account_name(session, staff, code, username, body.full_name)
    return _account_out(account)


@router.post("/kabupaten/kecamatan/{code}/accounts/{username}/password-link", status_code=201)
async def new_kecamatan_password_link(
    code: KecamatanCode,
    username: Username,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> PasswordLinkOut:
    """Another one-time link for a kecamatan account; the earlier one stops working."""
    link = await kecamatan.new_kecamatan_password_link(runtime, session, staff, code, username)
    account = await kecamatan.kecamatan_account(session, code, username)
    return PasswordLinkOut(
        username=account.username,
        role=account.role,
        set_password_path=link.path,
        expires_at=as_utc(link.expires_at),
    )


@router.put("/kabupaten/kecamatan/{code}/signers/camat")
async def install_camat_signer(
    code: KecamatanCode,
    body: SignerIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> SignerOut:
    """Installs (or replaces) the camat's certificate and key for the "mengetahui" signature,
    with the same checks as a desa signer's (issued by the kabupaten root, valid, allowed to
    sign, not revoked, key matches); used from the next letter on, in every signing replica,
    without a restart. The active camat account's full name is printed on the stamp (409
    without one)."""
    info = await kecamatan.install_camat_signer(runtime, session, staff, code, upload_of(body))
    return signer_out(info)


class BsreCamatIn(BaseModel):
    # The camat's NIK as BSrE knows their certificate by (16 digits); kept by signing only.
    nik: str = Field(min_length=1, max_length=32)


@router.put("/kabupaten/kecamatan/{code}/signers/camat/bsre")
async def mark_camat_bsre(
    code: KecamatanCode,
    body: BsreCamatIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> SignerOut:
    """Marks the kecamatan's camat as signing "mengetahui" through BSrE (no certificate kept
    here): from the next letter on, in every signing replica, the camat gives their BSrE
    passphrase with their approval. The active camat account's full name is printed on the
    stamp (409 without one); 409 when signing is not connected to BSrE."""
    upload = CertificateUpload(bsre_nik=body.nik)
    info = await kecamatan.install_camat_signer(runtime, session, staff, code, upload)
    return signer_out(info)


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
        runtime, session, staff, code, body.username, body.role, body.full_name
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
    """The letter type goes through the kecamatan (letters started from now on), for every
    purpose or only for the purposes listed."""
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
    row = await kecamatan.set_kecamatan_letter_type(
        session, staff, letter_type, steps, tuple(body.purposes)
    )
    return _type_out(row)


@router.delete("/kabupaten/kecamatan-letter-types/{letter_type}", status_code=204)
async def delete_kecamatan_letter_type(
    letter_type: LetterTypeCode, staff: KabupatenOperator, session: SessionDep
) -> Response:
    """The letter type no longer goes through the kecamatan (running letters keep theirs)."""
    await kecamatan.unset_kecamatan_letter_type(session, staff, letter_type)
    return Response(status_code=204)


@router.get("/kabupaten/kecamatan-calendar")
async def get_default_kecamatan_calendar(staff: KabupatenStaff, session: SessionDep) -> CalendarOut:
    """The kabupaten's default working calendar for its kecamatan offices: kecamatan steps'
    deadlines count in it unless the kecamatan has its own."""
    code = staff.kabupaten_code
    row = await kecamatan.calendar_row(session, code)
    if row is None:
        return _calendar_out(code, DEFAULT_RULES, kecamatan.CALENDAR_DEFAULT, None)
    return _calendar_out(code, rules_of(row), kecamatan.CALENDAR_KABUPATEN, row)


@router.put("/kabupaten/kecamatan-calendar")
async def put_default_kecamatan_calendar(
    body: CalendarIn, staff: KabupatenOperator, session: SessionDep
) -> CalendarOut:
    """Sets the default (letters started from now on)."""
    row = await kecamatan.save_calendar(
        session, staff, staff.kabupaten_code, hours_of(body.hours), tuple(body.local_days_off)
    )
    return _calendar_out(staff.kabupaten_code, rules_of(row), kecamatan.CALENDAR_KABUPATEN, row)


@router.get("/kabupaten/kecamatan/{code}/calendar")
async def get_kecamatan_calendar(
    code: KecamatanCode, staff: KabupatenStaff, session: SessionDep
) -> CalendarOut:
    """The calendar the kecamatan's steps count in: its own, else the kabupaten's default."""
    area = kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code)
    rules, source = await kecamatan.kecamatan_calendar(session, area.code, area.kabupaten_code)
    row = await kecamatan.calendar_row(
        session, area.code if source == kecamatan.CALENDAR_KECAMATAN else area.kabupaten_code
    )
    return _calendar_out(area.code, rules, source, row)


@router.put("/kabupaten/kecamatan/{code}/calendar")
async def put_kecamatan_calendar(
    code: KecamatanCode, body: CalendarIn, staff: KabupatenOperator, session: SessionDep
) -> CalendarOut:
    """The kecamatan's own calendar, instead of the kabupaten's default."""
    area = kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code)
    row = await kecamatan.save_calendar(
        session, staff, area.code, hours_of(body.hours), tuple(body.local_days_off)
    )
    return _calendar_out(area.code, rules_of(row), kecamatan.CALENDAR_KECAMATAN, row)


@router.delete("/kabupaten/kecamatan/{code}/calendar", status_code=204)
async def delete_kecamatan_calendar(
    code: KecamatanCode, staff: KabupatenOperator, session: SessionDep
) -> Response:
    """The kecamatan follows the kabupaten's default again."""
    area = kecamatan.kecamatan_in_kabupaten(staff.kabupaten_code, code)
    await kecamatan.reset_calendar(session, staff, area.code)
    return Response(status_code=204)


@router.get("/kecamatan/tasks")
async def list_kecamatan_tasks(staff: CurrentStaff, session: SessionDep) -> list[EscalatedTask]:
    """The kecamatan staff member's inbox: open tasks of their kecamatan's desa at their role's
    step or escalated to their role, each with its desa by code and name."""
    return await staff_tasks.kecamatan_tasks(session, staff)
