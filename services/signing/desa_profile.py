"""The desa profile as the desa's Sekdes or Kades edits it: kop surat, officials (names and NIP
printed under a signature), the numbering format, paper and logo.

Every field is checked before anything is written, and a refusal names the field it is about
(Indonesian). The profile and its officials are replaced in one transaction; a new logo is
written first under a name made from its content, so a refused or failed save leaves at most an
unreferenced file and never a half-changed profile. Letters issued afterwards are composed from
the new profile; an issued letter is a signed PDF on disk and never rendered again.
"""

import asyncio
import hashlib
import re
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.files import write_once
from common.wib import WIB
from services.signing.catalogue import store as catalogue_store
from services.signing.composition import kode_for, logo_path
from services.signing.models import DesaOfficial, DesaProfile, NumberCounter, utcnow
from services.signing.numbering import (
    DEFAULT_NUMBER_FORMAT,
    InvalidNumberFormat,
    LetterNumber,
    check_number_format,
    format_number,
)
from services.signing.rendering import PAPERS, _fonts

# The profile's plain text fields, as DesaProfile and the DesaProfileData message name them.
PROFILE_TEXT_FIELDS = (
    "name",
    "kecamatan",
    "kabupaten",
    "address",
    "kode_pos",
    "phone",
    "email",
    "kades_name",
    "kades_nip",
    "sekdes_name",
    "sekdes_nip",
    "paper",
)
# The letter type whose number the example shows (its kode klasifikasi, as the desa sets it).
EXAMPLE_LETTER_TYPE = "SKD"

# Logos: PNG or JPEG only. Typst renders both from pixels alone; an SVG is a program of sorts
# (external references, fonts, arbitrarily costly paths), so uploads of SVG are refused.
LOGO_MAX_BYTES = 512 * 1024
LOGO_MIN_SIDE = 64
LOGO_MAX_SIDE = 2000
LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "svg": "image/svg+xml"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"

MAX_OFFICIALS = 50
NUMBER_FORMAT_MAX = 100
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_KODE_POS = re.compile(r"[1-9]\d{4}")
_PHONE = re.compile(r"\+?[0-9(][0-9 ()-]{4,22}[0-9]")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")
_NIP = re.compile(r"\d{18}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The maklumat pelayanan: the promise a provider publishes beside its standards (Permenpan-RB
# 15/2014, Lampiran, "Maklumat Pelayanan"). The default follows the regulation's wording; the
# desa may write its own, with the names filled in from the profile so a renamed Kades never
# leaves a stale name on the wall.
MAKLUMAT_PLACEHOLDERS = ("desa", "kecamatan", "kabupaten", "kades")
MAKLUMAT_MAX = 2000
DEFAULT_MAKLUMAT = (
    "Dengan ini, kami Pemerintah Desa {desa}, Kecamatan {kecamatan}, Kabupaten {kabupaten}, "
    "menyatakan sanggup menyelenggarakan pelayanan sesuai standar pelayanan yang telah "
    "ditetapkan dan apabila tidak menepati janji ini, kami siap menerima sanksi sesuai "
    "peraturan perundang-undangan yang berlaku.\n\nKepala Desa {desa}\n{kades}"
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ProfileNotFound(Exception):
    """The desa has no profile (signing is not set up for it)."""


class ProfileRejected(Exception):
    """Some fields cannot be saved: `errors` maps each field to why (Indonesian)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class OfficialInput:
    username: str
    name: str
    nip: str = ""


@dataclass(frozen=True)
class ProfileInput:
    name: str
    kecamatan: str
    kabupaten: str
    address: str
    kode_pos: str
    kades_name: str
    phone: str = ""
    email: str = ""
    kades_nip: str = ""
    sekdes_name: str = ""
    sekdes_nip: str = ""
    paper: str = "F4"
    number_format: str = ""
    officials: Sequence[OfficialInput] = ()
    maklumat_pelayanan: str = ""  # "": the default


@dataclass(frozen=True)
class LogoUpload:
    content: bytes
    declared_type: str = ""


@dataclass
class ProfileSnapshot:
    profile: DesaProfile
    officials: list[DesaOfficial]
    logo_type: str = ""  # "" when there is no logo (or its file is gone)
    next_number_example: str = ""

    @property
    def logo_version(self) -> str:
        return self.profile.logo_file or "" if self.logo_type else ""


@dataclass
class _Cleaned:
    values: dict[str, str] = field(default_factory=dict)
    officials: list[OfficialInput] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _text(
    out: _Cleaned, key: str, raw: str, label: str, *, max_len: int, required: bool = True
) -> str:
    if _CONTROL.search(raw.replace("\n", " ").replace("\r", " ").replace("\t", " ")):
        out.errors[key] = f"{label} memuat karakter yang tidak dapat dicetak."
        return raw
    value = _one_line(raw)
    if required and not value:
        out.errors[key] = f"{label} wajib diisi."
    elif len(value) > max_len:
        out.errors[key] = f"{label} paling banyak {max_len} karakter."
    return value


def _nip(out: _Cleaned, key: str, raw: str, whose: str) -> str:
    value = re.sub(r"[\s.]", "", raw)
    if value and not _NIP.fullmatch(value):
        out.errors[key] = f"NIP {whose} harus 18 angka (kosongkan bila tidak ada)."
    return value


def check_format(raw: str) -> str | None:
    """The number format to store (None: the default), or InvalidNumberFormat."""
    fmt = raw.strip()
    if not fmt or fmt == DEFAULT_NUMBER_FORMAT:
        return None
    if len(fmt) > NUMBER_FORMAT_MAX:
        raise InvalidNumberFormat(f"Format nomor surat paling banyak {NUMBER_FORMAT_MAX} karakter.")
    if _CONTROL.search(fmt):
        raise InvalidNumberFormat("Format nomor surat memuat karakter yang tidak dapat dicetak.")
    check_number_format(fmt)
    return fmt


def clean_profile(data: ProfileInput) -> _Cleaned:
    out = _Cleaned()
    v = out.values
    v["name"] = _text(out, "name", data.name, "Nama desa", max_len=100)
    v["kecamatan"] = _text(out, "kecamatan", data.kecamatan, "Nama kecamatan", max_len=100)
    v["kabupaten"] = _text(out, "kabupaten", data.kabupaten, "Nama kabupaten", max_len=100)
    v["address"] = _text(out, "address", data.address, "Alamat kantor desa", max_len=200)
    v["kode_pos"] = data.kode_pos.strip()
    if not _KODE_POS.fullmatch(v["kode_pos"]):
        out.errors["kode_pos"] = "Kode pos harus 5 angka, misalnya 41254."
    v["phone"] = _one_line(data.phone)
    if v["phone"] and not _PHONE.fullmatch(v["phone"]):
        out.errors["phone"] = "Nomor telepon hanya berisi angka, spasi, tanda -, ( ) atau +."
    v["email"] = data.email.strip()
    if v["email"] and (len(v["email"]) > 120 or not _EMAIL.fullmatch(v["email"])):
        out.errors["email"] = "Alamat email tidak valid, misalnya desa@subang.go.id."
    v["kades_name"] = _text(out, "kades_name", data.kades_name, "Nama Kepala Desa", max_len=100)
    v["kades_nip"] = _nip(out, "kades_nip", data.kades_nip, "Kepala Desa")
    v["sekdes_name"] = _text(
        out, "sekdes_name", data.sekdes_name, "Nama Sekretaris Desa", max_len=100, required=False
    )
    v["sekdes_nip"] = _nip(out, "sekdes_nip", data.sekdes_nip, "Sekretaris Desa")
    if v["sekdes_nip"] and not v["sekdes_name"] and "sekdes_name" not in out.errors:
        out.errors["sekdes_name"] = "Isi nama Sekretaris Desa untuk NIP ini."
    v["paper"] = data.paper.strip().upper()
    if v["paper"] not in PAPERS:
        out.errors["paper"] = "Ukuran kertas harus F4 atau A4."
    try:
        v["number_format"] = check_format(data.number_format) or ""
    except InvalidNumberFormat as exc:
        out.errors["number_format"] = str(exc)
    _clean_officials(out, data.officials)
    v["maklumat_pelayanan"] = _clean_maklumat(out, data.maklumat_pelayanan)
    return out


def _clean_maklumat(out: _Cleaned, raw: str) -> str:
    """The template to store ("" for the default): paragraphs kept, spaces within a line
    collapsed, only the known placeholders."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.replace("\t", " ").split()) for line in text.split("\n")]
    value = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if _CONTROL.search(value.replace("\n", " ")):
        out.errors["maklumat_pelayanan"] = "Maklumat memuat karakter yang tidak dapat dicetak."
    elif len(value) > MAKLUMAT_MAX:
        out.errors["maklumat_pelayanan"] = f"Maklumat paling banyak {MAKLUMAT_MAX} karakter."
    else:
        unknown = [p for p in _PLACEHOLDER.findall(value) if p not in MAKLUMAT_PLACEHOLDERS]
        if unknown or value.count("{") != value.count("}"):
            known = ", ".join("{" + p + "}" for p in MAKLUMAT_PLACEHOLDERS)
            out.errors["maklumat_pelayanan"] = f"Maklumat hanya boleh memakai isian {known}."
    return "" if value == DEFAULT_MAKLUMAT else value


def maklumat_text(profile: DesaProfile) -> str:
    """The desa's maklumat with its names filled in (values are never read as placeholders)."""
    names = {
        "desa": profile.name,
        "kecamatan": profile.kecamatan,
        "kabupaten": profile.kabupaten,
        "kades": profile.kades_name,
    }
    template = profile.maklumat_pelayanan or DEFAULT_MAKLUMAT
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), template)


def _clean_officials(out: _Cleaned, officials: Sequence[OfficialInput]) -> None:
    if len(officials) > MAX_OFFICIALS:
        out.errors["officials"] = f"Paling banyak {MAX_OFFICIALS} pejabat."
        return
    seen: set[str] = set()
    for o in officials:
        username = o.username.strip()
        key = f"officials.{username}"
        if not _USERNAME.fullmatch(username):
            out.errors["officials"] = "Nama pengguna pejabat tidak valid."
            continue
        if username in seen:
            out.errors[key + ".name"] = f"Pejabat {username} tercantum dua kali."
            continue
        seen.add(username)
        label = f"Nama cetak {username}"
        name = _text(out, key + ".name", o.name, label, max_len=100, required=False)
        nip = _nip(out, key + ".nip", o.nip, username)
        if not name and nip and key + ".name" not in out.errors:
            out.errors[key + ".name"] = f"Isi nama cetak {username} untuk NIP ini."
        if name:  # no name: this staff member has no printed name of their own
            out.officials.append(OfficialInput(username, name, nip))


# --- the logo --------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


# Start-of-frame markers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def _typst_can_render(data: bytes, ext: str) -> bool:
    """Decodes the image the way a letter will: Typst places it on a page."""
    with tempfile.TemporaryDirectory(prefix="logo-check-") as tmp:
        (Path(tmp) / f"logo.{ext}").write_bytes(data)
        source = (
            "#set page(width: 3cm, height: 3cm, margin: 0pt)\n"
            f'#image("/logo.{ext}", width: 2.2cm)\n'
        ).encode()
        try:
            import typst  # only here: the service does not hold it idle

            compiler = typst.Compiler(root=tmp, font_paths=_fonts(), ignore_system_fonts=True)
            compiler.compile(source, format="pdf")
        except Exception:  # noqa: BLE001 - typst reports undecodable images as plain errors
            return False
    return True


def check_logo(logo: LogoUpload) -> tuple[str, str]:
    """(file extension, "") for an acceptable logo, or ("", why not) (Indonesian)."""
    data = logo.content
    if logo.declared_type == LOGO_TYPES["svg"] or data.lstrip()[:5] in (b"<?xml", b"<svg "):
        return "", "Logo SVG tidak diterima; unggah gambar PNG atau JPEG."
    if len(data) > LOGO_MAX_BYTES:
        return "", f"Ukuran logo paling besar {LOGO_MAX_BYTES // 1024} KB."
    if data.startswith(_PNG_MAGIC):
        ext, size = "png", _png_size(data)
    elif data.startswith(_JPEG_MAGIC):
        ext, size = "jpg", _jpeg_size(data)
    else:
        return "", "Logo harus berupa gambar PNG atau JPEG."
    if size is None:
        return "", "Berkas logo rusak atau tidak dapat dibaca."
    width, height = size
    if min(width, height) < LOGO_MIN_SIDE or max(width, height) > LOGO_MAX_SIDE:
        return "", (
            f"Ukuran gambar logo {width}×{height} piksel; sisi logo harus antara "
            f"{LOGO_MIN_SIDE} dan {LOGO_MAX_SIDE} piksel."
        )
    if not _typst_can_render(data, ext):
        return "", "Berkas logo rusak atau tidak dapat dibaca."
    return ext, ""


def logo_type_of(file_name: str | None) -> str:
    if not file_name:
        return ""
    return LOGO_TYPES.get(file_name.rsplit(".", 1)[-1].lower(), "")


# --- the service -----------------------------------------------------------------------------


async def _officials(session: AsyncSession, desa_code: str) -> list[DesaOfficial]:
    query = (
        select(DesaOfficial)
        .where(col(DesaOfficial.desa_code) == desa_code)
        .order_by(col(DesaOfficial.username))
    )
    return list((await session.exec(query)).all())


async def next_number(
    session: AsyncSession, profile: DesaProfile, fmt: str | None, at: datetime | None = None
) -> str:
    """The number the desa's next letter of the example type would get under `fmt`."""
    letter_type = await catalogue_store.current(session, EXAMPLE_LETTER_TYPE)
    assert letter_type is not None  # a seed type, published at start
    kode = kode_for(profile, letter_type)
    local = (at or utcnow()).astimezone(WIB)
    counter = await session.get(NumberCounter, (profile.code, kode, local.year))
    sequence = (counter.value if counter is not None else 0) + 1
    number = LetterNumber(kode, sequence, profile.code, local.month, local.year)
    return format_number(number, fmt, letter_type.code)


class DesaProfiles:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], assets_dir: Path) -> None:
        self._sessions = sessions
        self.assets_dir = assets_dir

    def _logo_type(self, profile: DesaProfile) -> str:
        return logo_type_of(profile.logo_file) if logo_path(profile, self.assets_dir) else ""

    async def get(self, desa_code: str) -> ProfileSnapshot:
        async with self._sessions() as session:
            profile = await session.get(DesaProfile, desa_code)
            if profile is None:
                raise ProfileNotFound(desa_code)
            return ProfileSnapshot(
                profile=profile,
                officials=await _officials(session, desa_code),
                logo_type=self._logo_type(profile),
                next_number_example=await next_number(session, profile, profile.number_format),
            )

    async def read_logo(self, profile: DesaProfile) -> bytes:
        path = logo_path(profile, self.assets_dir)
        return await asyncio.to_thread(path.read_bytes) if path is not None else b""

    async def example_number(self, desa_code: str, raw_format: str) -> str:
        """Raises InvalidNumberFormat (Indonesian) for a format that cannot be used."""
        async with self._sessions() as session:
            profile = await session.get(DesaProfile, desa_code)
            if profile is None:
                raise ProfileNotFound(desa_code)
            fmt = check_format(raw_format) if raw_format.strip() else profile.number_format
            return await next_number(session, profile, fmt)

    async def _store_logo(self, desa_code: str, logo: LogoUpload, ext: str) -> str:
        digest = hashlib.sha256(logo.content).hexdigest()[:24]
        name = f"logo-{desa_code}-{digest}.{ext}"
        # Named by content: a letter being rendered with the old logo never sees the new one,
        # and an unsaved profile leaves only an unreferenced file behind.
        await asyncio.to_thread(write_once, self.assets_dir / name, logo.content, 0o644)
        return name

    async def update(
        self,
        desa_code: str,
        data: ProfileInput,
        *,
        updated_by: str,
        logo: LogoUpload | None = None,
        remove_logo: bool = False,
        create: bool = False,
    ) -> ProfileSnapshot:
        """Raises ProfileRejected (nothing written) or ProfileNotFound (unless `create`: a desa
        being onboarded gets its first profile)."""
        cleaned = clean_profile(data)
        ext = ""
        if logo is not None and logo.content:
            ext, why = await asyncio.to_thread(check_logo, logo)
            if why:
                cleaned.errors["logo"] = why
        if cleaned.errors:
            raise ProfileRejected(cleaned.errors)
        async with self._sessions() as session:
            if await session.get(DesaProfile, desa_code) is None and not create:
                raise ProfileNotFound(desa_code)
        logo_file: str | None = None
        if logo is not None and logo.content:
            logo_file = await self._store_logo(desa_code, logo, ext)
        async with self._sessions() as session:
            profile = await session.get(DesaProfile, desa_code)
            if profile is None:
                if not create:
                    raise ProfileNotFound(desa_code)
                v = cleaned.values
                profile = DesaProfile(
                    code=desa_code,
                    name=v["name"],
                    kecamatan=v["kecamatan"],
                    kabupaten=v["kabupaten"],
                    address=v["address"],
                    kode_pos=v["kode_pos"],
                    kades_name=v["kades_name"],
                )  # every text field is set below, as for an existing profile
            v = cleaned.values
            for name in PROFILE_TEXT_FIELDS:
                setattr(profile, name, v[name])
            profile.number_format = v["number_format"] or None
            profile.maklumat_pelayanan = v["maklumat_pelayanan"]
            if logo_file is not None:
                profile.logo_file = logo_file
            elif remove_logo:
                profile.logo_file = None
            profile.updated_by = updated_by
            profile.updated_at = utcnow()
            session.add(profile)
            await replace_officials(session, desa_code, cleaned.officials)
            await session.commit()
        return await self.get(desa_code)


async def replace_officials(
    session: AsyncSession, desa_code: str, officials: Sequence[OfficialInput]
) -> None:
    """Inside the caller's transaction: the desa's officials become exactly `officials`."""
    await session.exec(delete(DesaOfficial).where(col(DesaOfficial.desa_code) == desa_code))
    for o in officials:
        session.add(DesaOfficial(desa_code=desa_code, username=o.username, name=o.name, nip=o.nip))
