"""The catalogue's seed files produce the same letters as the Python letter types and Jinja2
templates they replace: every old type, on both papers, issued and previewed, signed by the
holder or a.n./Plt., with and without a logo, prints the same text through the new path
(rendered by signing's real renderer, Typst)."""

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.signing.catalogue.definition import load_seed
from services.signing.rendering import LetterContent, compile_pdf, render_letter
from tests.intake.test_letter_types import ALL_TYPES, VALID_FORMS
from tests.signing.legacy import LETTER_TYPES as OLD_TYPES
from tests.signing.legacy import legacy_document
from tests.signing.pdf_text import page_texts

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()

pytestmark = pytest.mark.unit

LOGO = Path(__file__).parents[2] / "services/signing/templates/assets/logo-dev.svg"
FULL = {
    "rt": "3",
    "rw": "12",
    "pekerjaan": "Petani",
    "tempat_lahir": "Subang",
    "tanggal_lahir": "1990-05-17",
    "keterangan": "Mengurus pindah sekolah",
    "status_perkawinan": "BELUM KAWIN",
}


def _content(code: str, **changes: object) -> LetterContent:
    values: dict[str, object] = {
        "letter_type": LETTER_TYPES[code],
        "number": "400.12.2/012/32.13.11.2004/XI/2026",
        "letter_date": datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        "desa": "Pamanukan",
        "kecamatan": "Pamanukan",
        "kabupaten": "Subang",
        "desa_address": "Jl. Raya Pamanukan No. 12",
        "kode_pos": "41254",
        "signer_title": "Kepala Desa",
        "signer_name": "Dadang Suhendar",
        "fields": {**VALID_FORMS[code], **FULL},
        "nik": "3213115705900001",
        "purpose": "Persyaratan administrasi",
        "verification_url": "https://verifikasi.example.test/verifikasi/abc",
        "addressee": "Kepala Kepolisian Sektor Pamanukan",
        **changes,
    }
    return LetterContent(**values)  # type: ignore[arg-type]


VARIANTS: dict[str, dict[str, object]] = {
    "f4-logo": {"paper": "F4", "logo": LOGO},
    "a4": {"paper": "A4"},
    "preview": {"preview": True, "paper": "A4", "logo": LOGO},
    "a.n.": {"signer_title": "Sekretaris Desa", "authority": "Kepala Desa", "signer_nip": "1" * 18},
    "plt-sparse": {"signer_title": "Plt. Kepala Desa", "fields": {}, "nik": "", "purpose": ""},
}


def _old_text(code: str, content: LetterContent) -> list[str]:
    return page_texts(compile_pdf(legacy_document(OLD_TYPES[code], content)))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("code", ALL_TYPES)
def test_seed_file_prints_the_same_letter_as_before(code: str, variant: str) -> None:
    content = _content(code, **VARIANTS[variant])
    new = page_texts(render_letter(content))
    old = _old_text(code, content)
    # The letter is the same; the Dukcapil forms a type attaches follow it, one page each.
    lt = LETTER_TYPES[code]
    assert new[: len(old)] == old
    assert len(new) == len(old) + len(lt.forms)
    # Version 1 in the store (the type as first published, its forms named without a form
    # version) prints exactly the old letter, nothing after it: old letters render again.
    unversioned = replace(lt, forms=tuple(replace(f, version=0) for f in lt.forms))
    assert page_texts(render_letter(replace(content, letter_type=unversioned))) == old


def test_the_comparison_can_fail() -> None:
    """A changed word in a seed's template shows up as a different text."""

    skd = LETTER_TYPES["SKD"]
    changed_block = replace(skd.body[3], text=skd.body[3].text.replace("warga", "penduduk"))
    changed = replace(skd, body=(*skd.body[:3], changed_block, *skd.body[4:]))
    content = _content("SKD", paper="F4")
    assert page_texts(render_letter(replace(content, letter_type=changed))) != _old_text(
        "SKD", content
    )
