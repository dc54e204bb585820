"""Tables of the population register (penduduk): the residents of each desa, every change made
to them, and every time a staff member or another service read one of them.

A resident row is never deleted: a resident who moved away, died or went missing keeps their
record with that status. A NIK has at most one record per desa (unique (desa_code, nik)), and
at most one record with status hidup across the service (checked by `register`): a person is
registered in one desa at a time, and the desa they left keeps its record as pindah.
"""

from datetime import date, datetime
from uuid import uuid4

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from common.db import utcnow

# The register's four states of a resident (OpenSID's status_dasar, see codes.BASIC_STATUS).
HIDUP = "hidup"
PINDAH = "pindah"
MENINGGAL = "meninggal"
HILANG = "hilang"
STATUSES = (HIDUP, PINDAH, MENINGGAL, HILANG)
STATUS_LABELS = {HIDUP: "Hidup", PINDAH: "Pindah", MENINGGAL: "Meninggal", HILANG: "Hilang"}


def new_resident_id() -> str:
    """Opaque: pages and URLs name a resident by this, never by their NIK."""
    return uuid4().hex


class Resident(SQLModel, table=True):
    """One resident as the desa registers them. Coded fields hold OpenSID's ids (codes.py)."""

    __tablename__ = "population_resident"
    __table_args__ = (UniqueConstraint("desa_code", "nik"),)

    id: str = Field(default_factory=new_resident_id, primary_key=True)
    desa_code: str = Field(index=True)
    nik: str = Field(index=True)
    kk_number: str = Field(default="", index=True)  # "" for a resident without a KK yet
    kk_level: int | None = None  # relation in the KK (codes.RELATION); None without a KK
    name: str
    birth_place: str = ""
    birth_date: date | None = None
    sex: int  # codes.SEX
    religion: int | None = None  # codes.RELIGION
    marital_status: int | None = None  # codes.MARITAL_STATUS
    occupation: int | None = None  # codes.OCCUPATION
    education: int | None = None  # codes.EDUCATION (as in the KK)
    education_ongoing: int | None = None  # codes.EDUCATION_ONGOING
    citizenship: int | None = None  # codes.CITIZENSHIP
    address: str = ""
    dusun: str = ""
    rw: str = ""
    rt: str = ""
    father_name: str = ""
    father_nik: str = ""
    mother_name: str = ""
    mother_nik: str = ""
    blood_type: int | None = None  # codes.BLOOD_TYPE
    status: str = Field(default=HIDUP, index=True)
    # Mobile numbers as E.164 digits (common.phone), comma-separated, most recent first.
    phones: str = ""
    email: str = ""
    version: int = 1  # +1 on every change: a letter records which version it was filled from
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ResidentChange(SQLModel, table=True):
    """One field of one resident changed (or the resident created: field ""), by whom, how."""

    __tablename__ = "population_resident_change"

    id: int | None = Field(default=None, primary_key=True)
    resident_id: str = Field(index=True)
    desa_code: str = Field(index=True)
    version: int  # the resident's version this change made
    field: str = ""  # the Resident attribute; "" when the resident was created
    old_value: str = ""
    new_value: str = ""
    source: str  # "import", "staff" (the staff pages and API)
    note: str = ""  # e.g. why a resident was marked pindah
    changed_by: str  # staff username
    changed_at: datetime = Field(default_factory=utcnow)


class ResidentAccess(SQLModel, table=True):
    """Someone saw one resident's data: a staff member (by username) on the staff pages or
    API, or a service over PopulationService (actor as the caller named it), and why."""

    __tablename__ = "population_resident_access"

    id: int | None = Field(default=None, primary_key=True)
    resident_id: str = Field(index=True)
    desa_code: str = Field(index=True)
    actor: str
    purpose: str  # the application or task it was for, or the staff member's own words
    kind: str  # view | search | family | history | service
    at: datetime = Field(default_factory=utcnow, index=True)


# A correction request's states (CorrectionRequest.status).
CORRECTION_PENDING = "menunggu"
CORRECTION_ACCEPTED = "diterima"
CORRECTION_DECLINED = "ditolak"
CORRECTION_LABELS = {
    CORRECTION_PENDING: "Menunggu",
    CORRECTION_ACCEPTED: "Diterima",
    CORRECTION_DECLINED: "Ditolak",
}


class CorrectionRequest(SQLModel, table=True):
    """A resident said one field of their own record is wrong ("Data tidak sesuai? Ajukan
    perbaikan" on the portal). The operator accepts it (the record is corrected through
    `register.correct_resident`, so the history says so) or declines it with a reason."""

    __tablename__ = "population_correction_request"

    id: str = Field(default_factory=new_resident_id, primary_key=True)
    resident_id: str = Field(index=True)
    desa_code: str = Field(index=True)
    field: str  # a Resident attribute (corrections.CORRECTABLE)
    current_value: str = ""  # the register's value when asked (register.shown)
    proposed_value: str
    note: str = ""
    requested_by: str  # the caller's actor, e.g. intake:resident:<id>; never a NIK
    status: str = Field(default=CORRECTION_PENDING, index=True)
    decline_reason: str = ""
    accepted_value: str = ""  # the record's value after the accepted correction
    decided_by: str = ""  # staff username
    decided_at: datetime | None = None
    # An optional photo or PDF the resident sent (already checked and cleaned by intake).
    document: bytes | None = None
    document_content_type: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)


TABLES: list[type[SQLModel]] = [Resident, ResidentChange, ResidentAccess, CorrectionRequest]
