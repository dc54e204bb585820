"""Letters to PDF: the kabupaten's frame (kop surat and signature block, Jinja2 templates) around
the letter type's body, compiled from its catalogue blocks (catalogue/blocks.py) to Typst
markup, compiled by typst.

Values from the request and the database never become Typst markup: they travel as
`sys_inputs` (strings that Typst prints as they are), and every text of the template reaches
Typst as a string literal (`typst_str`).

Speed: the Typst source of a letter depends only on its type's definition, paper, preview flag,
logo presence
and signature shape, so it is rendered once per combination and cached; the fonts are loaded
once per process and each thread keeps its own typst.Compiler (its World caches the fonts, the
logo file and Typst's memoized layout work between letters). The letter itself draws no QR
code: it reserves the place where signing puts the visible stamp, which carries it.
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import qrcode
from jinja2 import Environment, PackageLoader, StrictUndefined
from qrcode.constants import ERROR_CORRECT_M

from common.wib import WIB, indonesian_date
from services.signing.catalogue.blocks import compile_body
from services.signing.catalogue.definition import FieldSpec, LetterTypeDef
from services.signing.catalogue.forms import compile_forms, find_form
from services.signing.typst_text import typst_str as typst_str

if TYPE_CHECKING:
    import typst

LetterType = LetterTypeDef

INDONESIAN_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")

PAPERS = ("F4", "A4")

_SEX = {"L": "Laki-laki", "P": "Perempuan", "LAKI-LAKI": "Laki-laki", "PEREMPUAN": "Perempuan"}
MISSING = "-"


_env = Environment(
    loader=PackageLoader("services.signing", "templates"),
    undefined=StrictUndefined,
    # Typst, not HTML: HTML escaping would corrupt it. Values travel as sys_inputs instead.
    autoescape=False,  # noqa: S701
    keep_trailing_newline=True,
)
_env.filters["typst_str"] = typst_str


def indonesian_day_date(d: date) -> str:
    return f"{INDONESIAN_DAYS[d.weekday()]}, {indonesian_date(d)}"


def rupiah(digits: str) -> str:
    return f"Rp {int(digits):,}".replace(",", ".") + ",-"


def _date_value(raw: str, with_day: bool) -> str:
    try:
        d = date.fromisoformat(raw)
    except ValueError:
        return raw  # printed as given
    return indonesian_day_date(d) if with_day else indonesian_date(d)


def _birth(fields: Mapping[str, str]) -> str:
    place = fields.get("tempat_lahir", "").strip()
    raw = fields.get("tanggal_lahir", "").strip()
    born = _date_value(raw, with_day=False) if raw else ""
    return ", ".join(p for p in (place, born) if p) or fields.get("tempat_tanggal_lahir", MISSING)


def _address(fields: Mapping[str, str]) -> str:
    street = fields.get("alamat", "").strip()
    rt, rw = fields.get("rt", "").strip(), fields.get("rw", "").strip()
    neighbourhood = "/".join(
        f"{label} {v.zfill(3) if v.isdigit() else v}" for label, v in (("RT", rt), ("RW", rw)) if v
    )
    return ", ".join(p for p in (street, neighbourhood) if p) or MISSING


def format_value(spec: FieldSpec, fields: Mapping[str, str]) -> str:
    """A field's value as the letter prints it, by the field's `format` in the catalogue."""
    value = fields.get(spec.name, "").strip()
    if not value:
        return MISSING
    match spec.format:
        case "jenis_kelamin":
            return _SEX.get(value.upper(), value)
        case "hari_tanggal":
            return _date_value(value, with_day=True)
        case "tanggal":
            return _date_value(value, with_day=False)
        case "rupiah" if value.isascii() and value.isdigit():
            return rupiah(value)
        case "jam":
            return f"{value} WIB"
        case "kapital":
            return value.title()
    return value


def register_values(fields: Mapping[str, str], nik: str) -> dict[str, str]:
    """The `penduduk.*` placeholders: the applicant's NIK and the values made of several
    fields together."""
    return {
        "p_nik": nik or MISSING,
        "p_tempat_tanggal_lahir": _birth(fields),
        "p_alamat_lengkap": _address(fields),
    }


def qr_svg(url: str) -> str:
    """The QR code of `url` as SVG (a fixed mask: any of the eight is valid, and choosing the
    "best" one costs most of the QR's time). For stamps drawn as images (BSrE)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=0)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h{start - x}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}mm" height="{size}mm" shape-rendering="crispEdges">'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )


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
    signer_title: str  # the signer's own jabatan, e.g. Sekretaris Desa
    signer_name: str
    fields: Mapping[str, str]
    nik: str
    purpose: str
    verification_url: str
    paper: str = "F4"
    logo: Path | None = None  # an image file (SVG or PNG) for the kop surat
    # The office the letter speaks for ("Kepala Desa", "Plt. Kepala Desa"); the signer's own
    # title when empty. When it differs from signer_title the block reads "a.n. <authority>".
    authority: str = ""
    addressee: str = MISSING
    preview: bool = False  # unsigned, unnumbered, watermarked
    signer_nip: str = ""
    desa_contact: str = ""  # the office's phone and email, one line of the kop surat
    desa_code: str = ""  # Kemendagri code, which Dukcapil forms print ({desa.kode})

    @property
    def speaks_for(self) -> str:
        return self.authority or self.signer_title

    @property
    def signs_on_behalf(self) -> bool:
        return self.speaks_for != self.signer_title


@dataclass(frozen=True)
class TypstDocument:
    source: bytes
    inputs: dict[str, str]
    root: Path | None = None  # where the logo lives


@lru_cache(maxsize=512)
def _template_source(
    letter_type: LetterTypeDef, paper: str, preview: bool, has_logo: bool, signs_on_behalf: bool
) -> bytes:
    frame = {
        "title": letter_type.title,
        "paper": paper,
        "preview": preview,
        "has_logo": has_logo,
        "signs_on_behalf": signs_on_behalf,
    }
    signature = _env.get_template("signature.typ.j2").render(**frame).strip("\n")
    body = compile_body(letter_type, signature)
    # The Dukcapil forms the type attaches, each a page (or more) after the letter, in the same
    # document, so the one signature covers them. Forms named without a version (definitions
    # from before forms were generated) print nothing: their letters render as they did.
    names = frozenset(f.name for f in letter_type.fields)
    forms = [find_form(f.code, f.version) for f in letter_type.forms if f.version]
    if forms:
        pages = compile_forms([form for form in forms if form is not None], names)
        body = "\n\n".join([body, *pages])
    return _env.get_template("letter.typ.j2").render(body=body, **frame).encode("utf-8")


def build_document(content: LetterContent) -> TypstDocument:
    lt = content.letter_type
    if content.paper not in PAPERS:
        raise ValueError(f"unknown paper size {content.paper!r}")
    source = _template_source(
        lt, content.paper, content.preview, content.logo is not None, content.signs_on_behalf
    )
    inputs: dict[str, str] = {
        "number": content.number,
        "desa": content.desa,
        "kecamatan": content.kecamatan,
        "kabupaten": content.kabupaten,
        "desa_address": content.desa_address,
        "kode_pos": content.kode_pos,
        "authority": content.speaks_for,
        "signer_title": content.signer_title,
        "signer_name": content.signer_name or MISSING,
        "signer_nip": content.signer_nip,
        "desa_contact": content.desa_contact,
        "desa_code": content.desa_code,
        "purpose": content.purpose.strip() or MISSING,
        "addressee": content.addressee.strip() or MISSING,
        "place": content.desa,
        "date": indonesian_date(content.letter_date.astimezone(WIB).date()),
        "verification_url": content.verification_url,
        "logo": f"/{content.logo.name}" if content.logo is not None else "",
        **register_values(content.fields, content.nik),
    }
    for spec in lt.fields:
        inputs[f"f_{spec.name}"] = format_value(spec, content.fields)
    root = content.logo.parent if content.logo is not None else None
    return TypstDocument(source, inputs, root)


@cache
def _fonts() -> "typst.Fonts":
    # Typst is imported where letters are rendered (the signing pool's workers, whose
    # forkserver preloads it), so the service's own process does not hold it idle.
    import typst

    # Typst's embedded fonts only: identical letters on every machine, and no scan of the
    # system's fonts per compile.
    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=True)


_local = threading.local()


def _compiler(root: Path | None) -> "typst.Compiler":
    """This thread's compiler for `root` (a Compiler is not shared between threads)."""
    import typst

    compilers: dict[Path | None, typst.Compiler] | None = getattr(_local, "compilers", None)
    if compilers is None:
        compilers = _local.compilers = {}
    compiler = compilers.get(root)
    if compiler is None:
        compiler = typst.Compiler(
            root=str(root) if root is not None else None,
            font_paths=_fonts(),
            ignore_system_fonts=True,
        )
        compilers[root] = compiler
    return compiler


def compile_pdf(doc: TypstDocument) -> bytes:
    """CPU-bound (a few ms): call it off the event loop."""
    pdf = _compiler(doc.root).compile(doc.source, format="pdf", sys_inputs=doc.inputs)
    assert isinstance(pdf, bytes)
    return pdf


def render_letter(content: LetterContent) -> bytes:
    return compile_pdf(build_document(content))


# Enough to read a letter on screen beside the editor (an F4 page is about 850 x 1300 px).
PREVIEW_PPI = 100.0


def render_png(content: LetterContent, ppi: float = PREVIEW_PPI) -> bytes:
    """Page 1 of the letter as PNG, from the same Typst source as its PDF (the editor's live
    preview). CPU-bound: call it off the event loop."""
    doc = build_document(content)
    out = _compiler(doc.root).compile(doc.source, format="png", ppi=ppi, sys_inputs=doc.inputs)
    page = out[0] if isinstance(out, list) else out
    assert isinstance(page, bytes)
    return page
