"""Letter numbers: the nomor urut counts per desa, kode klasifikasi and year (WIB), without
duplicates or gaps; how the number is written is a per-desa template, by default the skeleton's
(and OpenSID's) `<kode klasifikasi>/<nomor urut>/<kode desa>/<bulan romawi>/<tahun>`."""

import re
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from common.wib import WIB

ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

DEFAULT_NUMBER_FORMAT = "{kode}/{seq:03d}/{desa_code}/{bulan_romawi}/{tahun}"
# What a number format may use: kode klasifikasi, nomor urut, Kemendagri desa code, month (roman
# or 2-digit), year, letter type code (e.g. "SKU").
NUMBER_FIELDS = frozenset({"kode", "seq", "desa_code", "bulan_romawi", "bulan", "tahun", "jenis"})
# The counter runs per kode and year: a format without them would repeat numbers.
REQUIRED_NUMBER_FIELDS = frozenset({"kode", "seq", "tahun"})
# Shown instead of the nomor urut where no number has been taken (a preview).
SEQUENCE_PLACEHOLDER = "___"


class InvalidNumberFormat(ValueError):
    """A desa's number format cannot be used. `str(exc)` says why (Indonesian)."""


@dataclass(frozen=True)
class LetterNumber:
    kode_klasifikasi: str
    sequence: int
    desa_code: str
    month: int
    year: int

    def __str__(self) -> str:
        return format_number(self)


def check_number_format(fmt: str) -> None:
    used: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise InvalidNumberFormat(f"Format nomor surat tidak valid: {exc}.") from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in NUMBER_FIELDS:
            raise InvalidNumberFormat(
                f"Format nomor surat memakai isian tidak dikenal {{{name}}}; yang tersedia: "
                + ", ".join(sorted(NUMBER_FIELDS))
                + "."
            )
        if conversion or (spec and not (name == "seq" and _is_int_spec(spec))):
            raise InvalidNumberFormat(
                f"Format isian {{{name}}} tidak didukung (hanya {{seq:03d}} dan sejenisnya)."
            )
        used.add(name)
    missing = REQUIRED_NUMBER_FIELDS - used
    if missing:
        raise InvalidNumberFormat(
            "Format nomor surat wajib memuat "
            + ", ".join(f"{{{m}}}" for m in sorted(missing))
            + " agar nomor tidak berulang."
        )


# {seq:03d}, {seq:4d}: a width of one digit at most, so a format cannot ask for a number
# millions of characters wide.
_INT_SPEC = re.compile(r"0?[1-9]?d")


def _is_int_spec(spec: str) -> bool:
    return _INT_SPEC.fullmatch(spec) is not None


def _values(n: LetterNumber, letter_type: str) -> dict[str, object]:
    return {
        "kode": n.kode_klasifikasi,
        "seq": n.sequence,
        "desa_code": n.desa_code,
        "bulan_romawi": ROMAN_MONTHS[n.month - 1],
        "bulan": f"{n.month:02d}",
        "tahun": n.year,
        "jenis": letter_type,
    }


def format_number(n: LetterNumber, fmt: str | None = None, letter_type: str = "") -> str:
    """The number as the desa writes it (`fmt` checked with check_number_format)."""
    return (fmt or DEFAULT_NUMBER_FORMAT).format(**_values(n, letter_type))


def format_placeholder(
    fmt: str | None, kode: str, desa_code: str, at: datetime, letter_type: str = ""
) -> str:
    """The number a letter would get, with the nomor urut left open (for a preview)."""
    local = at.astimezone(WIB)
    values = _values(LetterNumber(kode, 0, desa_code, local.month, local.year), letter_type)
    out: list[str] = []
    for literal, name, spec, _conversion in string.Formatter().parse(fmt or DEFAULT_NUMBER_FORMAT):
        out.append(literal)
        if name is None:
            continue
        out.append(SEQUENCE_PLACEHOLDER if name == "seq" else format(values[name], spec or ""))
    return "".join(out)


# Insert-if-missing first: on SQLite this first write statement takes the database's write lock
# (waiting on busy_timeout) before anything is read, so no transaction can read a counter another
# is about to change. On PostgreSQL the UPDATE takes the row lock. Either way the increment and
# the caller's Letter insert commit or roll back together: no duplicate, no gap.
_ENSURE_COUNTER = text(
    "INSERT INTO number_counter (desa_code, kode_klasifikasi, year, value) "
    "VALUES (:desa_code, :kode, :year, 0) "
    "ON CONFLICT (desa_code, kode_klasifikasi, year) DO NOTHING"
)
_INCREMENT = text(
    "UPDATE number_counter SET value = value + 1 "
    "WHERE desa_code = :desa_code AND kode_klasifikasi = :kode AND year = :year "
    "RETURNING value"
)


async def allocate_number(
    session: AsyncSession, desa_code: str, kode_klasifikasi: str, at: datetime
) -> LetterNumber:
    """Take the next number inside the caller's transaction (commit it with the letter row).
    Must be the transaction's first write on SQLite (see above)."""
    local = at.astimezone(WIB)
    params = {"desa_code": desa_code, "kode": kode_klasifikasi, "year": local.year}
    conn = await session.connection()
    await conn.execute(_ENSURE_COUNTER, params)
    sequence = (await conn.execute(_INCREMENT, params)).scalar_one()
    return LetterNumber(kode_klasifikasi, int(sequence), desa_code, local.month, local.year)


# The kecamatan's register (buku register surat of the kecamatan): its own counter in the same
# table, keyed by the kecamatan code (never a desa code: those have four parts) and this kode,
# so it is gap-free and per year like a desa's numbers.
KECAMATAN_REGISTER_KODE = "REG-KEC"
# e.g. 470/012/32.13.11/XII/2026: 470 is the kode klasifikasi of population matters.
KECAMATAN_REGISTER_FORMAT = "470/{seq:03d}/{desa_code}/{bulan_romawi}/{tahun}"


async def allocate_kecamatan_register(
    session: AsyncSession, kecamatan_code: str, at: datetime
) -> str:
    """The kecamatan's next register number, inside the caller's transaction (see above)."""
    number = await allocate_number(session, kecamatan_code, KECAMATAN_REGISTER_KODE, at)
    return format_number(number, KECAMATAN_REGISTER_FORMAT)
