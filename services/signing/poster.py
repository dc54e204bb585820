"""The standar pelayanan poster (issue 19, Permenpan-RB 15/2014): an A4 PDF for the office
wall, rendered by the same Typst, fonts and kop surat as the desa's letters.

Why here and not in intake, which composes the standard: the kop surat (the desa's names,
address and logo file) is signing's, as are Typst, its embedded fonts and the way text enters
a Typst source safely (values only as sys.inputs). Intake sends the composed sections, so the
poster prints exactly what the public page shows; signing adds only the frame.
"""

import asyncio
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.signing.models import DesaProfile
from services.signing.rendering import TypstDocument, _env, compile_pdf, qr_svg

MAX_ITEMS = 40  # requirements or procedure steps: far more than any letter type has
MAX_TEXT = 4000  # characters of one section


class PosterRefused(ValueError):
    """The sections cannot be printed (too many, too long): `str(exc)` says why."""


@dataclass(frozen=True)
class StandardSections:
    letter_type_name: str
    requirements: tuple[str, ...]
    procedure: tuple[str, ...]
    time: str
    cost: str
    product: str
    complaints: str
    maklumat: str
    page_url: str


@cache
def _source(has_logo: bool) -> bytes:
    return _env.get_template("poster.typ.j2").render(has_logo=has_logo).encode("utf-8")


def _check(sections: StandardSections) -> None:
    if len(sections.requirements) > MAX_ITEMS or len(sections.procedure) > MAX_ITEMS:
        raise PosterRefused(f"paling banyak {MAX_ITEMS} persyaratan atau langkah")
    texts = (
        sections.letter_type_name,
        sections.time,
        sections.cost,
        sections.product,
        sections.complaints,
        sections.maklumat,
        sections.page_url,
        *sections.requirements,
        *sections.procedure,
    )
    if any(len(t) > MAX_TEXT for t in texts):
        raise PosterRefused(f"satu bagian paling banyak {MAX_TEXT} karakter")


def build_poster(
    profile: DesaProfile, sections: StandardSections, logo: Path | None
) -> TypstDocument:
    _check(sections)
    inputs: dict[str, str] = {
        "desa": profile.name,
        "kecamatan": profile.kecamatan,
        "kabupaten": profile.kabupaten,
        "desa_address": f"{profile.address} · Kode Pos {profile.kode_pos}",
        "letter_type_name": sections.letter_type_name,
        "time": sections.time,
        "cost": sections.cost,
        "product": sections.product,
        "complaints": sections.complaints,
        "maklumat": sections.maklumat,
        "page_url": sections.page_url,
        "qr": qr_svg(sections.page_url),
        "logo": f"/{logo.name}" if logo is not None else "",
    }
    for name, values in (("requirement", sections.requirements), ("procedure", sections.procedure)):
        inputs[f"{name}_n"] = str(len(values))
        for i, value in enumerate(values):
            inputs[f"{name}_{i}"] = value
    root = logo.parent if logo is not None else None
    return TypstDocument(_source(logo is not None), inputs, root)


async def render_poster(
    profile: DesaProfile, sections: StandardSections, logo: Path | None
) -> bytes:
    """Raises PosterRefused. Typst runs in a thread (CPU-bound, tens of ms)."""
    return await asyncio.to_thread(compile_pdf, build_poster(profile, sections, logo))
