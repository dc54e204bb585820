"""What goes on a letter besides the resident's data: the desa's kop surat, its number format
and kode klasifikasi, and the signature block (a.n. / Plt.), all from the desa's data. Shared by
issuing and preview, so that a preview shows exactly the letter that will be issued."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role, role_label
from services.signing.catalogue.definition import KODE_NOT_SET
from services.signing.catalogue.definition import LetterTypeDef as LetterType
from services.signing.models import DesaOfficial, DesaProfile, Letter
from services.signing.numbering import InvalidNumberFormat, check_number_format
from services.signing.rendering import PAPERS, LetterContent

# Kode klasifikasi: three digits, then dotted sub-codes (Permendagri 83/2022, e.g. 400.12.2).
_KODE = re.compile(r"\d{3}(\.\d{1,3}){0,4}")


class ProfileIncomplete(Exception):
    """The desa's data cannot make this letter yet. `str(exc)` says why (Indonesian)."""


@dataclass(frozen=True)
class Signature:
    signer_title: str  # e.g. "Sekretaris Desa", "Plt. Kepala Desa"
    authority: str  # the office the letter speaks for
    signer_name: str
    signer_nip: str = ""  # printed under the name, where the official has one

    @property
    def on_behalf(self) -> bool:
        return self.authority != self.signer_title

    @property
    def label(self) -> str:
        """Penandatangan as the register lists it."""
        if self.on_behalf:
            return f"{self.signer_name} ({self.signer_title}, a.n. {self.authority})"
        return f"{self.signer_name} ({self.signer_title})"

    def jabatan(self, desa: str) -> str:
        """The jabatan as the letter's signature block prints it, on one line (the visible
        stamp, the verification page): "a.n. Kepala Desa X, Sekretaris Desa", "Plt. Kepala
        Desa X"."""
        if self.on_behalf:
            return f"a.n. {self.authority} {desa}, {self.signer_title}"
        return f"{self.signer_title} {desa}"


@dataclass(frozen=True)
class SignerInfo:
    role: str
    username: str = ""
    on_behalf_of_role: str = ""
    is_plt: bool = False


def title_of(role: str) -> str:
    return role_label(role)


def _titles(signer: SignerInfo) -> tuple[str, str]:
    """(the signer's own title, the office the letter speaks for)."""
    title = ("Plt. " if signer.is_plt else "") + title_of(signer.role)
    authority = (
        title_of(signer.on_behalf_of_role)
        if signer.on_behalf_of_role and signer.on_behalf_of_role != signer.role
        else title
    )
    return title, authority


def signature_of_letter(letter: Letter) -> Signature:
    """The signature an issued letter carries, from what the register recorded."""
    title, authority = _titles(
        SignerInfo(
            letter.signer_role,
            letter.signer_username,
            letter.on_behalf_of_role,
            letter.signer_is_plt,
        )
    )
    return Signature(signer_title=title, authority=authority, signer_name=letter.signer_name)


async def signature_for(
    session: AsyncSession, profile: DesaProfile, signer: SignerInfo
) -> Signature:
    title, authority = _titles(signer)
    name = nip = ""
    if signer.username:
        official = await session.get(DesaOfficial, (profile.code, signer.username))
        if official is not None:
            name, nip = official.name, official.nip
    if not name and not signer.is_plt:  # the holder of the office, as the profile names them
        holders: dict[str, tuple[str, str]] = {
            Role.KADES: (profile.kades_name, profile.kades_nip),
            Role.SEKDES: (profile.sekdes_name, profile.sekdes_nip),
        }
        name, nip = holders.get(signer.role, ("", ""))
    if not name:
        raise ProfileIncomplete(
            f"Nama pejabat penandatangan ({title}) desa {profile.name} belum terdaftar."
        )
    return Signature(signer_title=title, authority=authority, signer_name=name, signer_nip=nip)


def contact_line(profile: DesaProfile) -> str:
    """The kop surat's line of the office's contacts ("" when none are given)."""
    parts = []
    if profile.phone:
        parts.append(f"Telp. {profile.phone}")
    if profile.email:
        parts.append(f"Email: {profile.email}")
    return " · ".join(parts)


def kode_for(profile: DesaProfile, letter_type: LetterType) -> str:
    """The desa's own kode for the type, else the catalogue's. A type whose kode the catalogue
    leaves "belum ditetapkan" cannot be numbered until the desa sets one."""
    kode = (profile.kode_klasifikasi or {}).get(letter_type.code) or letter_type.kode_klasifikasi
    if kode == KODE_NOT_SET:
        raise ProfileIncomplete(
            f"Kode klasifikasi {letter_type.name} belum ditetapkan dalam katalog; desa "
            f"{profile.name} perlu menetapkannya di profil surat lebih dulu."
        )
    return kode


def check_profile(profile: DesaProfile) -> None:
    if profile.paper not in PAPERS:
        raise ProfileIncomplete(
            f"Ukuran kertas desa {profile.name} tidak dikenal: {profile.paper}."
        )
    for code, kode in (profile.kode_klasifikasi or {}).items():
        if not _KODE.fullmatch(kode):
            raise ProfileIncomplete(
                f"Kode klasifikasi {kode!r} untuk {code} di desa {profile.name} tidak valid "
                "(contoh: 400.12.2)."
            )
    if profile.number_format:
        try:
            check_number_format(profile.number_format)
        except InvalidNumberFormat as exc:
            raise ProfileIncomplete(str(exc)) from exc


def addressee_for(letter_type: LetterType, profile: DesaProfile, fields: Mapping[str, str]) -> str:
    given = fields.get("instansi_tujuan", "").strip()
    if given:
        return given
    return letter_type.default_addressee.replace("{desa.kecamatan}", profile.kecamatan).replace(
        "{desa.nama}", profile.name
    )


def logo_path(profile: DesaProfile, assets_dir: Path) -> Path | None:
    if not profile.logo_file:
        return None
    path = (assets_dir / profile.logo_file).resolve()
    # A logo outside the assets folder (or missing) is left off rather than read.
    if assets_dir.resolve() not in path.parents or not path.is_file():
        return None
    return path


@dataclass(frozen=True)
class Composition:
    """Everything of a letter except its number, date and verification link."""

    letter_type: LetterType
    profile: DesaProfile
    signature: Signature
    fields: Mapping[str, str]
    nik: str
    purpose: str
    addressee: str
    logo: Path | None

    def content(
        self, number: str, letter_date: datetime, verification_url: str, *, preview: bool = False
    ) -> LetterContent:
        p = self.profile
        return LetterContent(
            letter_type=self.letter_type,
            number=number,
            letter_date=letter_date,
            desa=p.name,
            kecamatan=p.kecamatan,
            kabupaten=p.kabupaten,
            desa_address=p.address,
            kode_pos=p.kode_pos,
            signer_title=self.signature.signer_title,
            signer_name=self.signature.signer_name,
            signer_nip=self.signature.signer_nip,
            desa_contact=contact_line(p),
            desa_code=p.code,
            authority=self.signature.authority,
            fields=dict(self.fields),
            nik=self.nik,
            purpose=self.purpose,
            addressee=self.addressee,
            verification_url=verification_url,
            paper=p.paper,
            logo=self.logo,
            preview=preview,
        )
