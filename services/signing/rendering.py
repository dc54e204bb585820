"""Letters to PDF: a Jinja2 template per letter type produces Typst markup, compiled by typst.

Values from the request and the database never become Typst markup: they travel as
`sys_inputs` (strings that Typst prints as they are), and the few constants the template embeds
go through the `typst_str` filter into Typst string literals.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import qrcode
import qrcode.image.svg
import typst
from jinja2 import Environment, PackageLoader, StrictUndefined

from services.signing.letter_types import LetterType
from services.signing.numbering import WIB

INDONESIAN_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)

_SEX = {"L": "Laki-laki", "P": "Perempuan", "LAKI-LAKI": "Laki-laki", "PEREMPUAN": "Perempuan"}
MISSING = "-"


def typst_str(value: object) -> str:
    """A Typst string literal holding `value` exactly (for use in code mode: `#[...]`, args)."""
    escaped = (
        str(value)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


_env = Environment(
    loader=PackageLoader("services.signing", "templates"),
    undefined=StrictUndefined,
    # Typst, not HTML: HTML escaping would corrupt it. Values travel as sys_inputs instead.
    autoescape=False,  # noqa: S701
    keep_trailing_newline=True,
)
_env.filters["typst_str"] = typst_str


def indonesian_date(d: date) -> str:
    return f"{d.day} {INDONESIAN_MONTHS[d.month - 1]} {d.year}"


def _birth(fields: Mapping[str, str]) -> str:
    place = fields.get("tempat_lahir", "").strip()
    raw = fields.get("tanggal_lahir", "").strip()
    try:
        born = indonesian_date(date.fromisoformat(raw)) if raw else ""
    except ValueError:
        born = raw  # printed as given
    return ", ".join(p for p in (place, born) if p) or fields.get("tempat_tanggal_lahir", MISSING)


def _address(fields: Mapping[str, str]) -> str:
    street = fields.get("alamat", "").strip()
    rt, rw = fields.get("rt", "").strip(), fields.get("rw", "").strip()
    neighbourhood = "/".join(
        f"{label} {v.zfill(3) if v.isdigit() else v}" for label, v in (("RT", rt), ("RW", rw)) if v
    )
    return ", ".join(p for p in (street, neighbourhood) if p) or MISSING


def resident_value(key: str, fields: Mapping[str, str], nik: str) -> str:
    """The value printed for one row of the resident table."""
    if key == "nik":
        return nik or MISSING
    if key == "tempat_tanggal_lahir":
        return _birth(fields)
    if key == "alamat":
        return _address(fields)
    value = fields.get(key, "").strip()
    if key == "jenis_kelamin":
        value = _SEX.get(value.upper(), value)
    return value or MISSING


def qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=0)
    svg: str = image.to_string(encoding="unicode")
    return svg


@dataclass(frozen=True)
class LetterContent:
    letter_type: LetterType
    number: str
    letter_date: datetime  # printed in WIB
    desa: str
    kecamatan: str
    kabupaten: str
    desa_address: str
    kode_pos: str
    signer_title: str
    signer_name: str
    fields: Mapping[str, str]
    nik: str
    purpose: str
    verification_url: str


@dataclass(frozen=True)
class TypstDocument:
    source: bytes
    inputs: dict[str, str]


def build_document(content: LetterContent) -> TypstDocument:
    lt = content.letter_type
    template = _env.get_template(lt.template)
    source = template.render(title=lt.title, row_labels=[label for _, label in lt.fields])
    inputs: dict[str, str] = {
        "number": content.number,
        "desa": content.desa,
        "kecamatan": content.kecamatan,
        "kabupaten": content.kabupaten,
        "desa_address": content.desa_address,
        "kode_pos": content.kode_pos,
        "signer_title": content.signer_title,
        "signer_name": content.signer_name,
        "purpose": content.purpose.strip() or MISSING,
        "place": content.desa,
        "date": indonesian_date(content.letter_date.astimezone(WIB).date()),
        "verification_url": content.verification_url,
        "qr_svg": qr_svg(content.verification_url),
    }
    for i, (key, _label) in enumerate(lt.fields):
        inputs[f"row_{i}"] = resident_value(key, content.fields, content.nik)
    return TypstDocument(source.encode("utf-8"), inputs)


def compile_pdf(doc: TypstDocument, **options: Any) -> bytes:
    """CPU-bound (tens of ms): call it off the event loop."""
    pdf: bytes = typst.compile(doc.source, format="pdf", sys_inputs=doc.inputs, **options)
    return pdf


def render_letter(content: LetterContent) -> bytes:
    return compile_pdf(build_document(content))
