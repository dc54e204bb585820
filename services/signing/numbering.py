"""Letter numbers: `<kode klasifikasi>/<nomor urut>/<kode desa>/<bulan romawi>/<tahun>`, the
nomor urut counting per desa, kode klasifikasi and year (WIB), without duplicates or gaps."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

WIB = ZoneInfo("Asia/Jakarta")

ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@dataclass(frozen=True)
class LetterNumber:
    kode_klasifikasi: str
    sequence: int
    desa_code: str
    month: int
    year: int

    def __str__(self) -> str:
        return format_number(self)


def format_number(n: LetterNumber) -> str:
    """The OpenSID default format. A function (not a constant) so that it can become a per-desa
    setting later without touching the allocation."""
    return (
        f"{n.kode_klasifikasi}/{n.sequence:03d}/{n.desa_code}/{ROMAN_MONTHS[n.month - 1]}/{n.year}"
    )


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
