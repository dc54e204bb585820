"""Importing a desa's register from OpenSID's penduduk spreadsheet (.xlsx, or .csv with the same
header), as the desa exports it today.

Columns are found by their header name in the first row (OpenSID's names: alamat, dusun, rw,
rt, nama, no_kk, nik, sex, tempatlahir, tanggallahir, agama_id, pendidikan_kk_id,
pendidikan_sedang_id, pekerjaan_id, status_kawin, kk_level, warganegara_id, ayah_nik, nama_ayah,
ibu_nik, nama_ibu, golongan_darah_id, ..., status_dasar; ours: telepon, email); other columns
are ignored. Codes are OpenSID's ids (codes.py), or their names as OpenSID's own import accepts.

What a row does:
- a NIK new to the desa creates a record; a NIK already there updates it when something
  differs (each changed field in the history) and is counted unchanged otherwise;
- an empty cell keeps what the register holds (as in OpenSID's import): a spreadsheet never
  blanks a field; phones in `telepon` are added to those on record, never removed (that is a
  staff act after an in-person check, see docs/design.md);
- a bad row (a NIK that is not 16 valid digits, a NIK twice in the file, an unknown code, ...)
  is left out and reported with its spreadsheet row number and an Indonesian reason.
All of it is written in one transaction: a failure part-way leaves the register as it was.
Set-based: one read of the desa's records, then bulk inserts and updates.
"""

import csv
import io
import logging
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain.errors import Invalid
from services.verification.population import codes
from services.verification.population.models import (
    HIDUP,
    HILANG,
    MENINGGAL,
    PINDAH,
    Resident,
    ResidentChange,
    new_resident_id,
)
from services.verification.population.register import (
    CODED_FIELDS,
    DATA_FIELDS,
    LIVING_ELSEWHERE,
    SOURCE_IMPORT,
    InvalidResident,
    ResidentData,
    changes_between,
    check_data,
    digits_only,
    living_elsewhere,
    phones_of,
)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
# Without these the file is not a penduduk spreadsheet: refused as a whole.
REQUIRED_COLUMNS = ("nik", "nama", "no_kk", "kk_level", "dusun", "rw", "rt")
# Spreadsheet column -> register field, for the plain text columns.
TEXT_COLUMNS = {
    "alamat": "address",
    "dusun": "dusun",
    "rw": "rw",
    "rt": "rt",
    "nama": "name",
    "tempatlahir": "birth_place",
    "nama_ayah": "father_name",
    "nama_ibu": "mother_name",
    "email": "email",
}
CODED_COLUMNS = {table.column: name for name, table in CODED_FIELDS.items()}
STATUS_OF_BASIC = {1: HIDUP, 2: MENINGGAL, 3: PINDAH, 4: HILANG, 6: PINDAH}
# OpenSID writes "-" for an unknown value, and 0 for an unknown code or NIK.
_BLANK_TEXT = {"", "-"}
_BLANK_CODES = {"", "-", "0"}
_EXCEL_EPOCH = date(1899, 12, 30)

log = logging.getLogger(__name__)


class UnreadableFile(Invalid):
    """The file as a whole cannot be imported."""

    def __init__(self, message: str) -> None:
        super().__init__("unreadable-file", message, field="file")


@dataclass
class Rejected:
    row: int
    reason: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# -- reading the file --------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    # A leading apostrophe keeps Excel from reading a NIK as a number.
    return str(value).strip().lstrip("'").strip()


def _rows_of_xlsx(content: bytes) -> Iterator[list[str]]:
    # Imported on the first spreadsheet: openpyxl costs the idle service about 9 MB.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile("Berkas .xlsx tidak dapat dibaca.") from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in values]
    finally:
        workbook.close()


def _rows_of_csv(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")  # saved by an older Excel
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    for values in csv.reader(io.StringIO(text), delimiter=delimiter):
        yield [_cell_text(v) for v in values]


def read_table(filename: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {column: text}) of every non-empty row under the header."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _rows_of_xlsx(content)
    elif name.endswith(".csv"):
        rows = _rows_of_csv(content)
    else:
        raise UnreadableFile("Berkas harus .xlsx atau .csv (format impor penduduk OpenSID).")
    header: list[str] | None = None
    table: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(rows, start=1):
        if not any(values):
            continue
        if header is None:
            header = [v.strip().lower() for v in values]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise UnreadableFile(
                    "Baris pertama berkas harus berisi judul kolom OpenSID. Kolom yang tidak "
                    f"ada: {', '.join(missing)}."
                )
            continue
        if len(table) >= MAX_ROWS:
            raise UnreadableFile(f"Berkas berisi lebih dari {MAX_ROWS} baris penduduk.")
        table.append((number, {h: v for h, v in zip(header, values, strict=False) if h}))
    if header is None:
        raise UnreadableFile("Berkas kosong.")
    return table


# -- one row -----------------------------------------------------------------------------------


def parse_date(raw: str) -> date | None:
    """YYYY-MM-DD as OpenSID writes it; DD-MM-YYYY and DD/MM/YYYY; an Excel day number."""
    text = raw.strip()
    if not text:
        return None
    if text.isdigit() and len(text) <= 5:
        return _EXCEL_EPOCH + timedelta(days=int(text))
    for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    raise InvalidResident(
        f"Tanggal lahir '{text}' tidak dapat dibaca (tulis TTTT-BB-HH, misalnya 1990-08-17).",
        "birth_date",
    )


@dataclass(frozen=True)
class RowValues:
    """A row as read: each field given (None where the cell is empty, kept from the register)."""

    values: dict[str, Any]
    phones: list[str]


def row_values(cells: dict[str, str]) -> RowValues:
    values: dict[str, Any] = {}
    for column, name in TEXT_COLUMNS.items():
        text = " ".join(cells.get(column, "").split())
        values[name] = None if text in _BLANK_TEXT else text
    values["nik"] = digits_only(cells.get("nik", ""))
    kk = digits_only(cells.get("no_kk", ""))
    values["kk_number"] = kk if kk.strip("0") else None
    for column, name in CODED_COLUMNS.items():
        raw = cells.get(column, "").strip()
        if raw in _BLANK_CODES:
            values[name] = None
            continue
        table = CODED_FIELDS[name]
        code = table.code_of(raw)
        if code is None:
            raise InvalidResident(f"Kode {table.label} '{raw}' tidak dikenal.", name)
        values[name] = code
    for column, name in (("ayah_nik", "father_nik"), ("ibu_nik", "mother_nik")):
        number = digits_only(cells.get(column, ""))
        values[name] = number if number.strip("0") else None
    values["birth_date"] = parse_date(cells.get("tanggallahir", ""))
    raw_status = cells.get("status_dasar", "").strip()
    if raw_status in _BLANK_CODES:
        values["status"] = None
    else:
        basic = codes.BASIC_STATUS.code_of(raw_status)
        if basic is None:
            raise InvalidResident(f"Kode status dasar '{raw_status}' tidak dikenal.", "status")
        values["status"] = STATUS_OF_BASIC[basic]
    return RowValues(values=values, phones=phones_of(cells.get("telepon", "")))


def merged(existing: ResidentData | None, row: RowValues) -> ResidentData:
    """The record the row asks for: the register's values where the row's cells are empty."""
    given = {k: v for k, v in row.values.items() if v is not None}
    if existing is None:
        nik = given.get("nik", "")
        if "sex" not in given and len(nik) == 16 and nik[6:8].isdigit():
            # As printed on the KTP: the NIK's day of birth is +40 for women.
            given["sex"] = codes.SEX_FEMALE if int(nik[6:8]) > 40 else codes.SEX_MALE
        base = ResidentData(nik=nik, name="", sex=codes.SEX_MALE)
        phones = row.phones
    else:
        base = existing
        on_record = [p for p in existing.phones.split(",") if p]
        phones = on_record + [p for p in row.phones if p not in on_record]
    return replace(base, **given, phones=",".join(phones))


# -- the import --------------------------------------------------------------------------------


async def import_register(
    session: AsyncSession, desa_code: str, filename: str, content: bytes, *, actor: str
) -> ImportResult:
    """Reads the file and writes its good rows in one transaction (committed at the end; on
    any error nothing of it stays)."""
    if len(content) > MAX_IMPORT_BYTES:
        raise UnreadableFile(
            f"Berkas terlalu besar (paling besar {MAX_IMPORT_BYTES // (1024 * 1024)} MB)."
        )
    table = read_table(filename, content)
    result = ImportResult()

    # NIKs that occur more than once in the file: none of those rows is taken.
    rows_of_nik: dict[str, list[int]] = defaultdict(list)
    for number, cells in table:
        rows_of_nik[digits_only(cells.get("nik", ""))].append(number)

    existing = {
        r.nik: r
        for r in (await session.exec(select(Resident).where(Resident.desa_code == desa_code)))
    }
    elsewhere = await living_elsewhere(session, desa_code, [n for n in rows_of_nik if n])

    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for number, cells in table:
        nik = digits_only(cells.get("nik", ""))
        if len(rows_of_nik[nik]) > 1 and len(nik) == 16:
            others = ", ".join(str(n) for n in rows_of_nik[nik] if n != number)
            result.rejected.append(
                Rejected(number, f"NIK yang sama juga ada di baris {others} berkas ini.")
            )
            continue
        current = existing.get(nik)
        old = ResidentData.of(current) if current is not None else None
        try:
            data = check_data(merged(old, row_values(cells)))
        except InvalidResident as exc:
            result.rejected.append(Rejected(number, str(exc)))
            continue
        comes_alive = data.status == HIDUP and (current is None or current.status != HIDUP)
        if comes_alive and nik in elsewhere:
            result.rejected.append(Rejected(number, LIVING_ELSEWHERE))
            continue
        if current is None:
            resident_id = new_resident_id()
            new_rows.append(
                {
                    "id": resident_id,
                    "desa_code": desa_code,
                    **{f: getattr(data, f) for f in DATA_FIELDS},
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            history.append(_change(resident_id, desa_code, 1, ("", "", ""), actor, now))
            result.created += 1
            continue
        assert old is not None
        changed = changes_between(old, data)
        if not changed:
            result.unchanged += 1
            continue
        version = current.version + 1
        updates.append(
            {
                "id": current.id,
                **{f: getattr(data, f) for f in DATA_FIELDS},
                "version": version,
                "updated_at": now,
            }
        )
        history.extend(_change(current.id, desa_code, version, c, actor, now) for c in changed)
        result.updated += 1

    if updates:
        await session.exec(update(Resident), params=updates)
    if new_rows:
        await session.exec(insert(Resident), params=new_rows)
    if history:
        await session.exec(insert(ResidentChange), params=history)
    await session.commit()
    return result


def log_import(desa_code: str, staff_id: int | None, result: ImportResult) -> None:
    """Counts only; the staff member by id (a username may be a person's name)."""
    log.info(
        "register import in desa %s by staff %s: %d created, %d updated, %d unchanged, %d rejected",
        desa_code,
        staff_id,
        result.created,
        result.updated,
        result.unchanged,
        len(result.rejected),
    )


def _change(
    resident_id: str,
    desa_code: str,
    version: int,
    change: tuple[str, str, str],
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    name, old, new = change
    return {
        "resident_id": resident_id,
        "desa_code": desa_code,
        "version": version,
        "field": name,
        "old_value": old,
        "new_value": new,
        "source": SOURCE_IMPORT,
        "note": "",
        "changed_by": actor,
        "changed_at": at,
    }
