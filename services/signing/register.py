"""Reading the register of issued letters for the public: what a verification page may show
(no personal data: no name, no NIK, no purpose)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.wib import WIB, indonesian_date
from services.signing.catalogue.store import definition_for_letter
from services.signing.composition import signature_of_letter
from services.signing.models import DesaProfile, Letter, LetterStatus, as_utc

STATUS_LABELS = {LetterStatus.VALID.value: "Berlaku", LetterStatus.REVOKED.value: "Dicabut"}
# Verification codes are token_urlsafe strings; anything longer is not one of ours.
MAX_CODE_LENGTH = 64


def initials(name: str) -> str:
    """ "Ani Suryani" -> "A. S."; "" for no name."""
    return " ".join(f"{word[0].upper()}." for word in name.split() if word[0].isalpha())


@dataclass(frozen=True)
class PublicLetter:
    number: str
    letter_type: str
    letter_title: str
    desa_code: str
    desa_name: str
    kecamatan: str
    kabupaten: str
    issued_at: datetime
    signer_role: str
    signer_title: str
    status: str
    sha256: str
    verification_url: str
    signer_name: str = ""
    nik_masked: str = ""  # as the letter's purpose needs it shown, never in full
    revoked_at: datetime | None = None
    holder_initials: str = ""  # "A. S.": the page shows these, never the NIK

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def issued_at_wib(self) -> str:
        return _wib(self.issued_at)

    @property
    def revoked_at_wib(self) -> str | None:
        return _wib(self.revoked_at) if self.revoked_at else None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "letter_type": self.letter_type,
            "letter_title": self.letter_title,
            "desa_code": self.desa_code,
            "desa_name": self.desa_name,
            "kecamatan": self.kecamatan,
            "kabupaten": self.kabupaten,
            "issued_at": self.issued_at.isoformat(),
            "issued_at_wib": self.issued_at_wib,
            "signer_role": self.signer_role,
            "signer_title": self.signer_title,
            "status": self.status,
            "status_label": self.status_label,
            "sha256": self.sha256,
            "verification_url": self.verification_url,
            "signer_name": self.signer_name,
            "nik_masked": self.nik_masked,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_at_wib": self.revoked_at_wib,
            "holder_initials": self.holder_initials,
        }


NIK_SHOWN_DIGITS = 4


def mask_nik(nik: str) -> str:
    """What the public may see of a NIK: its last four digits (3213115705900001 ->
    ************0001). Masking a masked value gives the same, so letters registered when
    more was kept (the area code too) are shown the same way."""
    nik = nik.strip()
    if len(nik) <= NIK_SHOWN_DIGITS * 2:
        return "*" * len(nik)
    return "*" * (len(nik) - NIK_SHOWN_DIGITS) + nik[-NIK_SHOWN_DIGITS:]


def _wib(at: datetime) -> str:
    local = at.astimezone(WIB)
    return f"{indonesian_date(local.date())}, pukul {local:%H.%M} WIB"


async def _public(
    session: AsyncSession, letter: Letter | None, base_url: str
) -> PublicLetter | None:
    if letter is None or not letter.issued:
        return None
    assert letter.issued_at is not None and letter.sha256 is not None
    profile = await session.get(DesaProfile, letter.desa_code)
    letter_type = await definition_for_letter(session, letter.template_version)
    desa_name = profile.name if profile else letter.desa_code
    # The jabatan as the letter and its stamp print it (a.n., Plt.).
    signature = signature_of_letter(letter)
    return PublicLetter(
        number=letter.number,
        letter_type=letter.letter_type,
        letter_title=letter_type.title if letter_type else letter.letter_type,
        desa_code=letter.desa_code,
        desa_name=desa_name,
        kecamatan=profile.kecamatan if profile else "",
        kabupaten=profile.kabupaten if profile else "",
        issued_at=as_utc(letter.issued_at),
        signer_role=letter.signer_role,
        signer_title=signature.jabatan(desa_name),
        status=letter.status,
        sha256=letter.sha256,
        verification_url=f"{base_url.rstrip('/')}/verifikasi/{letter.verification_code}",
        signer_name=letter.signer_name,
        nik_masked=mask_nik(letter.nik_masked),
        revoked_at=as_utc(letter.revoked_at) if letter.revoked_at else None,
        holder_initials=letter.holder_initials,
    )


async def find_by_code(session: AsyncSession, code: str, base_url: str) -> PublicLetter | None:
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    query = select(Letter).where(col(Letter.verification_code) == code)
    return await _public(session, (await session.exec(query)).first(), base_url)


async def find_by_sha256(session: AsyncSession, sha256: str, base_url: str) -> PublicLetter | None:
    query = select(Letter).where(col(Letter.sha256) == sha256)
    return await _public(session, (await session.exec(query)).first(), base_url)
