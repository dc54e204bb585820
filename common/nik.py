"""NIK (Nomor Induk Kependudukan) structure: `PP KK CC DDMMYY SSSS`.

Only the structure is checked here: 16 digits, a birth date that can exist (day + 40 for
women), a serial from 0001. The region prefix is where the NIK was issued, which may differ
from today's address after a kecamatan split, so it is never compared with the desa.
"""

import calendar
from dataclasses import dataclass
from typing import Literal

INVALID_NIK_MESSAGE = "NIK harus 16 digit angka dengan tanggal lahir yang valid."

# Day counts with February at 29: the two-digit year cannot tell us the century, so a
# 29 February is accepted as long as some year makes it real.
_MAX_DAY = {m: calendar.monthrange(2000, m)[1] for m in range(1, 13)}


class InvalidNik(ValueError):
    """The NIK does not have a valid structure. `str(exc)` is the Indonesian message."""

    def __init__(self) -> None:
        super().__init__(INVALID_NIK_MESSAGE)


@dataclass(frozen=True)
class NikInfo:
    region: str  # PPKKCC: province, kabupaten/kota, kecamatan of issue
    birth_day: int
    birth_month: int
    birth_year_2d: int
    sex: Literal["L", "P"]
    serial: str


def parse_nik(nik: str) -> NikInfo:
    """Returns the NIK's parts, or raises InvalidNik."""
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        raise InvalidNik()
    day = int(nik[6:8])
    month = int(nik[8:10])
    year = int(nik[10:12])
    sex: Literal["L", "P"] = "L"
    if day > 40:
        day -= 40
        sex = "P"
    if not 1 <= month <= 12 or not 1 <= day <= _MAX_DAY[month]:
        raise InvalidNik()
    serial = nik[12:16]
    if serial == "0000":
        raise InvalidNik()
    return NikInfo(
        region=nik[:6],
        birth_day=day,
        birth_month=month,
        birth_year_2d=year,
        sex=sex,
        serial=serial,
    )


def kecamatan_code(nik: str) -> str:
    """The Kemendagri code of the kecamatan where the NIK was issued: '3213111508900001' ->
    '32.13.11'; "" for a NIK that is not one. Where a resident most likely lives when nothing
    better is known (a newcomer keeps the NIK of where they came from)."""
    if not is_valid_nik(nik):
        return ""
    return f"{nik[0:2]}.{nik[2:4]}.{nik[4:6]}"


def is_valid_nik(nik: str) -> bool:
    try:
        parse_nik(nik)
    except InvalidNik:
        return False
    return True
