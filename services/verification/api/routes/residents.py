"""The desa's population register (penduduk) on the staff API. Rules: services/verification/
population/register.py; the OpenSID import: population/importer.py.

Every desa staff member may search and read; each read of a resident is logged with its
`purpose` (the application or task it is for). The operator, the Sekdes and the Kades (own role
or Plt) import, add, correct and mark residents moved or deceased. A NIK or KK number travels
only in request bodies: residents are named in URLs by their opaque id.
"""

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, UploadFile, status
from pydantic import BaseModel, Field

from common.db import as_utc
from services.verification.api.deps import DesaStaff, HeldRoles, SessionDep
from services.verification.population.importer import (
    MAX_IMPORT_BYTES,
    import_register,
    log_import,
)
from services.verification.population.models import (
    STATUS_LABELS,
    Resident,
    ResidentChange,
)
from services.verification.population.register import (
    CODED_FIELDS,
    FIELD_LABELS,
    MAX_TEXT,
    ResidentData,
    add_resident,
    correct_resident,
    family,
    history_of,
    read_resident,
    require_editor,
    search,
)

router = APIRouter(prefix="/residents", tags=["data penduduk"])

ResidentId = Annotated[str, Path(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=MAX_TEXT)]


class Coded(BaseModel):
    code: int
    label: str


def _coded(name: str, value: int | None) -> Coded | None:
    return None if value is None else Coded(code=value, label=CODED_FIELDS[name].name(value))


class ResidentSummary(BaseModel):
    id: str
    nik: str
    kk_number: str
    name: str
    relation: Coded | None
    sex: Coded
    birth_date: date | None
    dusun: str
    rw: str
    rt: str
    status: str
    status_label: str

    @classmethod
    def of(cls, r: Resident) -> "ResidentSummary":
        sex = _coded("sex", r.sex)
        assert sex is not None
        return cls(
            id=r.id,
            nik=r.nik,
            kk_number=r.kk_number,
            name=r.name,
            relation=_coded("kk_level", r.kk_level),
            sex=sex,
            birth_date=r.birth_date,
            dusun=r.dusun,
            rw=r.rw,
            rt=r.rt,
            status=r.status,
            status_label=STATUS_LABELS[r.status],
        )


class ResidentOut(ResidentSummary):
    birth_place: str
    religion: Coded | None
    marital_status: Coded | None
    occupation: Coded | None
    education: Coded | None
    education_ongoing: Coded | None
    citizenship: Coded | None
    blood_type: Coded | None
    address: str
    father_name: str
    father_nik: str
    mother_name: str
    mother_nik: str
    phones: list[str]
    email: str
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, r: Resident) -> "ResidentOut":
        return cls(
            **ResidentSummary.of(r).model_dump(),
            birth_place=r.birth_place,
            religion=_coded("religion", r.religion),
            marital_status=_coded("marital_status", r.marital_status),
            occupation=_coded("occupation", r.occupation),
            education=_coded("education", r.education),
            education_ongoing=_coded("education_ongoing", r.education_ongoing),
            citizenship=_coded("citizenship", r.citizenship),
            blood_type=_coded("blood_type", r.blood_type),
            address=r.address,
            father_name=r.father_name,
            father_nik=r.father_nik,
            mother_name=r.mother_name,
            mother_nik=r.mother_nik,
            phones=[p for p in r.phones.split(",") if p],
            email=r.email,
            version=r.version,
            updated_at=as_utc(r.updated_at),
        )


class ChangeOut(BaseModel):
    version: int
    field: str  # "" for the record's creation
    field_label: str
    old_value: str
    new_value: str
    source: str
    note: str
    changed_by: str
    changed_at: datetime

    @classmethod
    def of(cls, c: ResidentChange) -> "ChangeOut":
        return cls(
            version=c.version,
            field=c.field,
            field_label=FIELD_LABELS.get(c.field, "Data dibuat"),
            old_value=c.old_value,
            new_value=c.new_value,
            source=c.source,
            note=c.note,
            changed_by=c.changed_by,
            changed_at=as_utc(c.changed_at),
        )


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=100)  # a NIK, a KK number or part of a name
    purpose: str = Field(min_length=1, max_length=MAX_TEXT)


class FamilyIn(BaseModel):
    kk_number: str = Field(min_length=1, max_length=40)
    purpose: str = Field(min_length=1, max_length=MAX_TEXT)


class ResidentFields(BaseModel):
    """A record's fields; coded ones take OpenSID's ids (see GET /residents/codes)."""

    nik: str = Field(max_length=40)
    name: str = Field(max_length=MAX_TEXT)
    sex: int
    kk_number: str = Field(default="", max_length=40)
    kk_level: int | None = None
    birth_place: str = Field(default="", max_length=MAX_TEXT)
    birth_date: date | None = None
    religion: int | None = None
    marital_status: int | None = None
    occupation: int | None = None
    education: int | None = None
    education_ongoing: int | None = None
    citizenship: int | None = None
    address: str = Field(default="", max_length=MAX_TEXT)
    dusun: str = Field(default="", max_length=MAX_TEXT)
    rw: str = Field(default="", max_length=20)
    rt: str = Field(default="", max_length=20)
    father_name: str = Field(default="", max_length=MAX_TEXT)
    father_nik: str = Field(default="", max_length=40)
    mother_name: str = Field(default="", max_length=MAX_TEXT)
    mother_nik: str = Field(default="", max_length=40)
    blood_type: int | None = None
    phones: list[str] = Field(default_factory=list, max_length=5)
    email: str = Field(default="", max_length=MAX_TEXT)


class ResidentIn(ResidentFields):
    note: str = Field(default="", max_length=MAX_TEXT)  # e.g. "pindah datang dari Desa X"


class ResidentPatch(BaseModel):
    """Only the fields given change (status: POST /residents/{id}/status)."""

    nik: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=MAX_TEXT)
    sex: int | None = None
    kk_number: str | None = Field(default=None, max_length=40)
    kk_level: int | None = None
    birth_place: str | None = Field(default=None, max_length=MAX_TEXT)
    birth_date: date | None = None
    religion: int | None = None
    marital_status: int | None = None
    occupation: int | None = None
    education: int | None = None
    education_ongoing: int | None = None
    citizenship: int | None = None
    address: str | None = Field(default=None, max_length=MAX_TEXT)
    dusun: str | None = Field(default=None, max_length=MAX_TEXT)
    rw: str | None = Field(default=None, max_length=20)
    rt: str | None = Field(default=None, max_length=20)
    father_name: str | None = Field(default=None, max_length=MAX_TEXT)
    father_nik: str | None = Field(default=None, max_length=40)
    mother_name: str | None = Field(default=None, max_length=MAX_TEXT)
    mother_nik: str | None = Field(default=None, max_length=40)
    blood_type: int | None = None
    phones: list[str] | None = Field(default=None, max_length=5)
    email: str | None = Field(default=None, max_length=MAX_TEXT)
    note: str = Field(default="", max_length=MAX_TEXT)  # why; kept in the history

    def updates(self) -> dict[str, Any]:
        given = self.model_dump(exclude_unset=True, exclude={"note"})
        if "phones" in given:
            given["phones"] = ",".join(given["phones"] or [])
        return given


class StatusIn(BaseModel):
    status: str = Field(max_length=20)  # hidup | pindah | meninggal | hilang
    note: str = Field(default="", max_length=MAX_TEXT)  # e.g. the surat pindah or death date


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: list[dict[str, Any]]


class CodeTableOut(BaseModel):
    column: str
    label: str
    codes: dict[int, str]


@router.get("/codes")
async def code_tables(staff: DesaStaff) -> dict[str, CodeTableOut]:
    """OpenSID's code tables the register's coded fields use, by field name."""
    del staff  # any desa staff member
    return {
        name: CodeTableOut(column=t.column, label=t.label, codes=t.names)
        for name, t in CODED_FIELDS.items()
    }


@router.post("/import")
async def import_file(
    file: UploadFile, staff: DesaStaff, roles: HeldRoles, session: SessionDep
) -> ImportOut:
    """OpenSID's penduduk spreadsheet (.xlsx, or .csv with the same header): good rows are
    written, bad rows reported by their row number; in one transaction."""
    require_editor(roles)
    content = await file.read(MAX_IMPORT_BYTES + 1)
    result = await import_register(
        session, staff.desa_code, file.filename or "", content, actor=staff.username
    )
    log_import(staff.desa_code, staff.id, result)
    return ImportOut(**result.as_json())


@router.post("/search")
async def search_residents(
    body: SearchIn, staff: DesaStaff, session: SessionDep
) -> list[ResidentSummary]:
    """By NIK or KK number (16 digits) or part of the name; each resident found is logged as
    seen by this staff member for `purpose`."""
    found = await search(
        session, staff.desa_code, body.query, actor=staff.username, purpose=body.purpose
    )
    return [ResidentSummary.of(r) for r in found]


@router.post("/family")
async def family_by_kk(
    body: FamilyIn, staff: DesaStaff, session: SessionDep
) -> list[ResidentSummary]:
    """The members of one KK in the desa's register, the head of the family first."""
    members = await family(
        session, staff.desa_code, body.kk_number, actor=staff.username, purpose=body.purpose
    )
    return [ResidentSummary.of(m) for m in members]


@router.get("/{resident_id}")
async def get_resident(
    resident_id: ResidentId, purpose: Purpose, staff: DesaStaff, session: SessionDep
) -> ResidentOut:
    resident = await read_resident(
        session, staff.desa_code, resident_id, actor=staff.username, purpose=purpose
    )
    return ResidentOut.of(resident)


@router.get("/{resident_id}/history")
async def get_history(
    resident_id: ResidentId, purpose: Purpose, staff: DesaStaff, session: SessionDep
) -> list[ChangeOut]:
    """Every change of the record, newest first: who, when, which field from what to what."""
    changes = await history_of(
        session, staff.desa_code, resident_id, actor=staff.username, purpose=purpose
    )
    return [ChangeOut.of(c) for c in changes]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_resident(
    body: ResidentIn, staff: DesaStaff, roles: HeldRoles, session: SessionDep
) -> ResidentOut:
    """A resident new to the desa (a newcomer, a birth): status hidup."""
    fields = body.model_dump(exclude={"note", "phones"})
    require_editor(roles)
    resident = await add_resident(
        session,
        staff.desa_code,
        ResidentData(**fields, phones=",".join(body.phones)),
        actor=staff.username,
        note=body.note,
    )
    return ResidentOut.of(resident)


@router.patch("/{resident_id}")
async def patch_resident(
    resident_id: ResidentId,
    body: ResidentPatch,
    staff: DesaStaff,
    roles: HeldRoles,
    session: SessionDep,
) -> ResidentOut:
    """Corrects the fields given; each change is kept in the history with `note`."""
    require_editor(roles)
    resident = await correct_resident(
        session,
        staff.desa_code,
        resident_id,
        body.updates(),
        actor=staff.username,
        note=body.note,
    )
    return ResidentOut.of(resident)


@router.post("/{resident_id}/status")
async def set_status(
    resident_id: ResidentId, body: StatusIn, staff: DesaStaff, roles: HeldRoles, session: SessionDep
) -> ResidentOut:
    """Marks the resident pindah, meninggal or hilang (or hidup again); the record stays."""
    require_editor(roles)
    resident = await correct_resident(
        session,
        staff.desa_code,
        resident_id,
        {"status": body.status},
        actor=staff.username,
        note=body.note,
    )
    return ResidentOut.of(resident)
