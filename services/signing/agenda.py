"""The register of issued letters as the desa keeps it: buku agenda surat keluar (Permendagri
47/2016, Administrasi Umum), one year at a time, for the desa's own staff. No NIK: the register
records the letter, not the resident's identity numbers."""

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.wib import WIB
from services.signing.catalogue.store import definition_for_letter
from services.signing.composition import signature_of_letter
from services.signing.models import Letter, LetterStatus, as_utc
from services.signing.register import STATUS_LABELS

# Column order and Indonesian headers of the exported book.
CSV_HEADERS = (
    "No. Urut",
    "Nomor Surat",
    "Tanggal Surat",
    "Jenis Surat",
    "Perihal/Keperluan",
    "Tujuan",
    "Penandatangan",
    "Status",
)
# A spreadsheet would run a cell starting with one of these as a formula; the texts come from
# residents (keperluan), so they are neutralised.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RegisterEntry:
    no_urut: int
    letter_id: str
    number: str
    letter_date: date  # WIB
    letter_type: str
    letter_title: str
    purpose: str
    addressee: str
    signed_by: str
    status: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "no_urut": self.no_urut,
            "letter_id": self.letter_id,
            "number": self.number,
            "date": self.letter_date.isoformat(),
            "letter_type": self.letter_type,
            "letter_title": self.letter_title,
            "purpose": self.purpose,
            "addressee": self.addressee,
            "signed_by": self.signed_by,
            "status": self.status,
            "status_label": self.status_label,
        }


async def entries(session: AsyncSession, desa_code: str, year: int) -> list[RegisterEntry]:
    """The desa's letters of `year` in the order their numbers were taken; letters still being
    signed are not in the book yet."""
    query = (
        select(Letter)
        .where(
            col(Letter.desa_code) == desa_code,
            col(Letter.year) == year,
            col(Letter.status) != LetterStatus.ISSUING.value,
            # A letter through the kecamatan enters the book once the camat signed it too.
            (col(Letter.kecamatan_code) == "") | col(Letter.kecamatan_approved_at).is_not(None),
        )
        .order_by(col(Letter.created_at), col(Letter.id))
    )
    out = []
    for i, letter in enumerate((await session.exec(query)).all(), start=1):
        lt = await definition_for_letter(session, letter.template_version)
        out.append(
            RegisterEntry(
                no_urut=i,
                letter_id=letter.id,
                number=letter.number,
                letter_date=as_utc(letter.created_at).astimezone(WIB).date(),
                letter_type=letter.letter_type,
                letter_title=lt.title.title() if lt else letter.letter_type,
                purpose=letter.purpose,
                addressee=letter.addressee,
                signed_by=signature_of_letter(letter).label,
                status=letter.status,
            )
        )
    return out


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(rows: list[RegisterEntry]) -> str:
    out = io.StringIO()
    # BOM: spreadsheet programs then read the file as UTF-8.
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for r in rows:
        writer.writerow(
            _cell(v)
            for v in (
                r.no_urut,
                r.number,
                r.letter_date.strftime("%d-%m-%Y"),
                r.letter_title,
                r.purpose,
                r.addressee,
                r.signed_by,
                r.status_label,
            )
        )
    return out.getvalue()
