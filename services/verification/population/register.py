"""The population register's rules: what a resident's record may hold, who may change it, how
a change is recorded, and reads that leave a trace.

Every refusal is a domain error (common.domain.errors) whose text is Indonesian (shown to staff
as is); the API and the pages map it as they map every domain error.

Rules:
- a record's fields are checked by `check_data` (one definition for the import, the staff
  pages and API): a NIK of valid structure (common.nik; its region may be anywhere, people
  move), a KK number of 16 digits or none, a name, dusun, RT and RW, OpenSID's codes, phones
  that are Indonesian mobile numbers, a birth date not in the future;
- a NIK has one record per desa, and one living (hidup) record across the service: a person is
  registered where they live, and the desa they left marks its record pindah first;
- records are never deleted; a change bumps `version` and writes one `ResidentChange` per field;
- all desa staff may read (every read of one resident is logged with its purpose); the
  operator, the Sekdes and the Kades (own role or Plt) add, correct, mark and import.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain import Role
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound
from common.nik import InvalidNik, parse_nik
from common.phone import InvalidPhone, normalize_phone
from services.verification.access_log import record_register_reads
from services.verification.population import codes
from services.verification.population.models import (
    HIDUP,
    STATUSES,
    Resident,
    ResidentAccess,
    ResidentChange,
)

# Who keeps the register (own role or Plt); every other desa staff member only reads it.
EDITOR_ROLES: tuple[Role, ...] = (Role.OPERATOR, Role.SEKDES, Role.KADES)
SEARCH_LIMIT = 50
MIN_NAME_QUERY = 3
MAX_TEXT = 200
SOURCE_IMPORT = "import"
SOURCE_STAFF = "staff"
ACCESS_KINDS = ("view", "search", "family", "history", "service")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_SEPARATORS = re.compile(r"[,;/]")
_NOT_DIGITS = re.compile(r"[^0-9]")


class InvalidResident(Invalid):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__("invalid-resident", message, field=field or None)


class ResidentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "resident-not-found", "Penduduk tidak ditemukan di data penduduk desa Anda."
        )


class ResidentConflict(Conflict):
    """`resident_id`: the record of this desa that already holds the NIK, when there is one."""

    def __init__(self, message: str, resident_id: str = "") -> None:
        details = {"resident_id": resident_id} if resident_id else {}
        super().__init__("resident-conflict", message, field="nik", **details)


class NotAnEditor(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "register-editors-only",
            "Hanya Operator Desa, Sekretaris Desa atau Kepala Desa (juga sebagai Plt) yang "
            "dapat mengubah data penduduk.",
        )


NIK_TAKEN_HERE = "NIK ini sudah terdaftar di data penduduk desa ini."
LIVING_ELSEWHERE = (
    "NIK ini tercatat sebagai penduduk hidup di desa lain. Desa itu perlu menandainya pindah "
    "lebih dulu."
)


def require_editor(roles: Sequence[str]) -> None:
    if not any(r in EDITOR_ROLES for r in roles):
        raise NotAnEditor()


def may_edit(roles: Sequence[str]) -> bool:
    return any(r in EDITOR_ROLES for r in roles)


@dataclass(frozen=True)
class ResidentData:
    """The fields of a record that the desa keeps (everything but id, desa, version, times)."""

    nik: str
    name: str
    sex: int
    kk_number: str = ""
    kk_level: int | None = None
    birth_place: str = ""
    birth_date: date | None = None
    religion: int | None = None
    marital_status: int | None = None
    occupation: int | None = None
    education: int | None = None
    education_ongoing: int | None = None
    citizenship: int | None = None
    address: str = ""
    dusun: str = ""
    rw: str = ""
    rt: str = ""
    father_name: str = ""
    father_nik: str = ""
    mother_name: str = ""
    mother_nik: str = ""
    blood_type: int | None = None
    status: str = HIDUP
    phones: str = ""
    email: str = ""

    @classmethod
    def of(cls, resident: Resident) -> "ResidentData":
        return cls(**{f: getattr(resident, f) for f in DATA_FIELDS})


DATA_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ResidentData))

# The coded fields and the OpenSID table each draws from.
CODED_FIELDS: dict[str, codes.CodeTable] = {
    "sex": codes.SEX,
    "kk_level": codes.RELATION,
    "religion": codes.RELIGION,
    "marital_status": codes.MARITAL_STATUS,
    "occupation": codes.OCCUPATION,
    "education": codes.EDUCATION,
    "education_ongoing": codes.EDUCATION_ONGOING,
    "citizenship": codes.CITIZENSHIP,
    "blood_type": codes.BLOOD_TYPE,
}

# How each field is named to staff (messages, the history table).
FIELD_LABELS: dict[str, str] = {
    "nik": "NIK",
    "name": "Nama",
    "sex": "Jenis kelamin",
    "kk_number": "Nomor KK",
    "kk_level": "Hubungan dalam keluarga",
    "birth_place": "Tempat lahir",
    "birth_date": "Tanggal lahir",
    "religion": "Agama",
    "marital_status": "Status perkawinan",
    "occupation": "Pekerjaan",
    "education": "Pendidikan (dalam KK)",
    "education_ongoing": "Pendidikan yang sedang ditempuh",
    "citizenship": "Kewarganegaraan",
    "address": "Alamat",
    "dusun": "Dusun",
    "rw": "RW",
    "rt": "RT",
    "father_name": "Nama ayah",
    "father_nik": "NIK ayah",
    "mother_name": "Nama ibu",
    "mother_nik": "NIK ibu",
    "blood_type": "Golongan darah",
    "status": "Status",
    "phones": "Nomor HP",
    "email": "Email",
}


def digits_only(raw: str) -> str:
    """Disdukcapil exports sometimes carry invisible characters in NIK and KK numbers."""
    return _NOT_DIGITS.sub("", raw)


def phones_of(raw: str) -> list[str]:
    """Numbers separated by ',', ';' or '/', each normalised (common.phone); InvalidResident
    names a number that is not an Indonesian mobile number."""
    numbers: list[str] = []
    for part in _PHONE_SEPARATORS.split(raw):
        if not part.strip():
            continue
        try:
            number = normalize_phone(part.strip())
        except InvalidPhone as exc:
            raise InvalidResident(str(exc), "phones") from exc
        if number not in numbers:
            numbers.append(number)
    return numbers


def folded(text: str) -> str:
    """Names compared ignoring case and spacing (a mother's name typed by a resident)."""
    return " ".join(text.casefold().split())


def check_data(data: ResidentData, today: date | None = None) -> ResidentData:
    """The record normalised (trimmed text, digits-only numbers, phones as E.164), or
    InvalidResident with the first thing wrong."""
    text = {
        f: " ".join(str(getattr(data, f)).split())
        for f in DATA_FIELDS
        if isinstance(getattr(data, f), str)
    }
    for name, value in text.items():
        if len(value) > MAX_TEXT:
            raise InvalidResident(
                f"{FIELD_LABELS[name]} terlalu panjang (paling banyak {MAX_TEXT} karakter).", name
            )
    try:
        parse_nik(text["nik"])
    except InvalidNik as exc:
        raise InvalidResident(str(exc), "nik") from exc
    if not text["name"]:
        raise InvalidResident("Nama wajib diisi.", "name")
    for place in ("dusun", "rw", "rt"):
        if not text[place]:
            raise InvalidResident(f"{FIELD_LABELS[place]} wajib diisi.", place)
    kk_number = text["kk_number"]
    if kk_number and (len(kk_number) != 16 or not kk_number.isdigit()):
        raise InvalidResident("Nomor KK harus 16 digit angka.", "kk_number")
    if kk_number and data.kk_level is None:
        raise InvalidResident("Hubungan dalam keluarga wajib diisi bila ada nomor KK.", "kk_level")
    for name, table in CODED_FIELDS.items():
        value = getattr(data, name)
        if value is not None and value not in table.names:
            raise InvalidResident(f"Kode {table.label} '{value}' tidak dikenal.", name)
    for parent in ("father_nik", "mother_nik"):
        if text[parent] and not text[parent].isdigit():
            raise InvalidResident(f"{FIELD_LABELS[parent]} hanya berisi angka.", parent)
    if data.birth_date is not None and data.birth_date > (today or date.today()):
        raise InvalidResident("Tanggal lahir tidak boleh di masa depan.", "birth_date")
    if data.status not in STATUSES:
        raise InvalidResident(f"Status '{data.status}' tidak dikenal.", "status")
    email = text["email"]
    if email and not _EMAIL.match(email):
        raise InvalidResident("Alamat email tidak valid.", "email")
    phones = ",".join(phones_of(text["phones"]))
    normalised: dict[str, Any] = {**text, "phones": phones, "email": email.lower()}
    return replace(data, **normalised)


def shown(name: str, value: object) -> str:
    """A field's value as the history stores and shows it."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    table = CODED_FIELDS.get(name)
    if table is not None and isinstance(value, int):
        return f"{value} ({table.name(value)})"
    return str(value)


def changes_between(old: ResidentData, new: ResidentData) -> list[tuple[str, str, str]]:
    """(field, from, to) for every field that differs."""
    return [
        (f, shown(f, getattr(old, f)), shown(f, getattr(new, f)))
        for f in DATA_FIELDS
        if getattr(old, f) != getattr(new, f)
    ]


async def living_elsewhere(session: AsyncSession, desa_code: str, niks: Iterable[str]) -> set[str]:
    """Of these NIKs, those with a living record in another desa."""
    wanted = list(set(niks))
    found: set[str] = set()
    for start in range(0, len(wanted), 900):  # SQLite binds at most 999 parameters
        chunk = wanted[start : start + 900]
        rows = await session.exec(
            select(Resident.nik).where(
                col(Resident.nik).in_(chunk),
                Resident.desa_code != desa_code,
                Resident.status == HIDUP,
            )
        )
        found.update(rows.all())
    return found


async def _check_nik_free(
    session: AsyncSession, desa_code: str, data: ResidentData, resident_id: str = ""
) -> None:
    here = (
        await session.exec(
            select(Resident).where(
                Resident.desa_code == desa_code,
                Resident.nik == data.nik,
                Resident.id != resident_id,
            )
        )
    ).first()
    if here is not None:
        raise ResidentConflict(NIK_TAKEN_HERE, resident_id=here.id)
    if data.status == HIDUP and await living_elsewhere(session, desa_code, [data.nik]):
        raise ResidentConflict(LIVING_ELSEWHERE)


def _record_changes(
    session: AsyncSession,
    resident: Resident,
    changed: list[tuple[str, str, str]],
    *,
    actor: str,
    source: str,
    note: str = "",
) -> None:
    now = utcnow()
    for name, old, new in changed:
        session.add(
            ResidentChange(
                resident_id=resident.id,
                desa_code=resident.desa_code,
                version=resident.version,
                field=name,
                old_value=old,
                new_value=new,
                source=source,
                note=note,
                changed_by=actor,
                changed_at=now,
            )
        )


async def add_resident(
    session: AsyncSession, desa_code: str, data: ResidentData, *, actor: str, note: str = ""
) -> Resident:
    """A new record in the desa's register (committed), with its creation in the history."""
    data = check_data(data)
    await _check_nik_free(session, desa_code, data)
    resident = Resident(desa_code=desa_code, **{f: getattr(data, f) for f in DATA_FIELDS})
    session.add(resident)
    _record_changes(session, resident, [("", "", "")], actor=actor, source=SOURCE_STAFF, note=note)
    await session.commit()
    return resident


async def correct_resident(
    session: AsyncSession,
    desa_code: str,
    resident_id: str,
    updates: dict[str, Any],
    *,
    actor: str,
    note: str = "",
) -> Resident:
    """Changes some fields of a record (committed); each changed field goes to the history.
    Changing nothing changes nothing (no new version)."""
    resident = await _resident_of(session, desa_code, resident_id)
    unknown = set(updates) - set(DATA_FIELDS)
    if unknown:
        raise InvalidResident(f"Isian tidak dikenal: {', '.join(sorted(unknown))}.")
    old = ResidentData.of(resident)
    new = check_data(replace(old, **updates))
    changed = changes_between(old, new)
    if not changed:
        return resident
    if set(phones_of(old.phones)) - set(phones_of(new.phones)):
        # Taking a number away ends sign-ins and must tell that number: only the in-person
        # phone change does both (population/sign_in_phone.py). Adding one is a correction.
        raise Conflict(
            "phone-change-at-office",
            "Nomor HP yang sudah tercatat hanya dapat diganti atau dihapus lewat 'Ganti nomor "
            "HP', setelah KTP dan KK diperiksa di kantor: sesi lama berakhir dan nomor lama "
            "diberi tahu.",
            field="phones",
        )
    if new.nik != old.nik or (new.status == HIDUP and old.status != HIDUP):
        await _check_nik_free(session, desa_code, new, resident_id=resident.id)
    for name in DATA_FIELDS:
        setattr(resident, name, getattr(new, name))
    resident.version += 1
    resident.updated_at = utcnow()
    session.add(resident)
    _record_changes(session, resident, changed, actor=actor, source=SOURCE_STAFF, note=note)
    await session.commit()
    return resident


async def _resident_of(session: AsyncSession, desa_code: str, resident_id: str) -> Resident:
    """The desa's record; another desa's is as unknown as a missing one."""
    resident = await session.get(Resident, resident_id)
    if resident is None or resident.desa_code != desa_code:
        raise ResidentNotFound()
    return resident


def log_reads(
    session: AsyncSession, residents: Iterable[Resident], *, actor: str, purpose: str, kind: str
) -> None:
    """Adds an access row per resident to the session (the caller commits), and, for a staff
    member's read, the resident-facing access log's rows (access_log.record_register_reads)."""
    assert kind in ACCESS_KINDS
    now = utcnow()
    residents = list(residents)
    session.add_all(record_register_reads([r.id for r in residents], actor))
    for resident in residents:
        session.add(
            ResidentAccess(
                resident_id=resident.id,
                desa_code=resident.desa_code,
                actor=actor,
                purpose=purpose,
                kind=kind,
                at=now,
            )
        )


def checked_purpose(purpose: str) -> str:
    purpose = " ".join(purpose.split())
    if not purpose:
        raise InvalidResident(
            "Sebutkan keperluan membuka data penduduk (misalnya nomor permohonan).", "purpose"
        )
    if len(purpose) > MAX_TEXT:
        raise InvalidResident("Keperluan terlalu panjang.", "purpose")
    return purpose


async def read_resident(
    session: AsyncSession, desa_code: str, resident_id: str, *, actor: str, purpose: str
) -> Resident:
    """One record of the desa, its read logged (committed)."""
    purpose = checked_purpose(purpose)
    resident = await _resident_of(session, desa_code, resident_id)
    log_reads(session, [resident], actor=actor, purpose=purpose, kind="view")
    await session.commit()
    return resident


async def history_of(
    session: AsyncSession, desa_code: str, resident_id: str, *, actor: str, purpose: str
) -> list[ResidentChange]:
    """The record's changes, newest first; the read logged (committed)."""
    purpose = checked_purpose(purpose)
    resident = await _resident_of(session, desa_code, resident_id)
    rows = await session.exec(
        select(ResidentChange)
        .where(ResidentChange.resident_id == resident.id)
        .order_by(col(ResidentChange.version).desc(), col(ResidentChange.id).desc())
    )
    log_reads(session, [resident], actor=actor, purpose=purpose, kind="history")
    await session.commit()
    return list(rows.all())


async def search(
    session: AsyncSession, desa_code: str, query: str, *, actor: str, purpose: str
) -> list[Resident]:
    """Residents of the desa by NIK or KK number (16 digits, exact) or by a part of the name
    (at least three letters); living residents first. Every one found is logged as seen."""
    purpose = checked_purpose(purpose)
    query = " ".join(query.split())
    number = digits_only(query)
    where = Resident.desa_code == desa_code
    if len(number) == 16 and len(number) == len(query.replace(" ", "")):
        match = or_(col(Resident.nik) == number, col(Resident.kk_number) == number)
    elif len(query) >= MIN_NAME_QUERY:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        match = col(Resident.name).ilike(f"%{escaped}%", escape="\\")
    else:
        raise InvalidResident(
            "Ketik NIK atau nomor KK (16 digit), atau paling sedikit tiga huruf nama.", "query"
        )
    rows = await session.exec(
        select(Resident)
        .where(where, match)
        .order_by(
            (col(Resident.status) != HIDUP).asc(), func.lower(col(Resident.name)), Resident.id
        )
        .limit(SEARCH_LIMIT)
    )
    found = list(rows.all())
    log_reads(session, found, actor=actor, purpose=purpose, kind="search")
    await session.commit()
    return found


def family_order(resident: Resident) -> tuple[int, date, str]:
    """Head of the family first, then by relation code, then the eldest."""
    return (resident.kk_level or 99, resident.birth_date or date.max, resident.name)


async def family(
    session: AsyncSession,
    desa_code: str | None,
    kk_number: str,
    *,
    actor: str,
    purpose: str,
    kind: str = "family",
) -> list[Resident]:
    """The members of a KK (in one desa, or in any when desa_code is None), logged as seen."""
    purpose = checked_purpose(purpose)
    kk_number = digits_only(kk_number)
    if len(kk_number) != 16:
        raise InvalidResident("Nomor KK harus 16 digit angka.", "kk_number")
    query = select(Resident).where(Resident.kk_number == kk_number)
    if desa_code is not None:
        query = query.where(Resident.desa_code == desa_code)
    members = sorted((await session.exec(query)).all(), key=family_order)
    log_reads(session, members, actor=actor, purpose=purpose, kind=kind)
    await session.commit()
    return members


async def living_record(session: AsyncSession, nik: str) -> Resident | None:
    """The NIK's living record, in whichever desa holds it."""
    rows = await session.exec(select(Resident).where(Resident.nik == nik, Resident.status == HIDUP))
    return rows.first()


async def latest_record(session: AsyncSession, nik: str) -> Resident | None:
    """The NIK's living record, else its most recently changed one."""
    rows = await session.exec(
        select(Resident)
        .where(Resident.nik == nik)
        .order_by((col(Resident.status) != HIDUP).asc(), col(Resident.updated_at).desc())
    )
    return rows.first()
