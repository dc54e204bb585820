"""Dukcapil and nikah forms as versioned data (catalogue/forms/): every form issue 16 names
exists with its regulation, prints after the letter in the same PDF with the register's and the
application's values (NIK and No. KK one character per box), takes nothing typed as markup, and a
new regulation is a new form file, not a code change."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from services.signing.catalogue.definition import CatalogueError, Form, load_seed, parse
from services.signing.catalogue.forms import FORMS_DIR, compile_form, find_form, load_forms
from tests.signing.pdf_text import page_texts, squeeze
from tests.signing.test_catalogue import HOSTILE, _content

pytestmark = pytest.mark.unit

SEED = load_seed()
FORMS = load_forms()
# The forms issue 16 asks for, each with the letter types that attach it (OpenSID's choice).
ATTACHED = {
    "F-1.01": {"SKBIO", "SPKK"},
    "F-1.02": {"SKBIO", "SPKK", "SPUKK"},
    "F-1.03": {"SKPP"},
    "F-1.06": {"SKBI"},
    "F-1.08": {"SKPP"},
    "F-1.15": {"SPKK"},
    "F-1.16": {"SPUKK"},
    "F-1.25": {"SKPP"},
    "F-1.27": {"SKPP"},
    "F-2.01": {"SKL", "SKK", "SKLM", "SPAL"},
    "F-2.12": {"SKNNM"},
    **{f"N-{i}": {"SKNIKAH"} for i in range(1, 7)},
}
# Values a form asks for that neither the register nor any type's form has yet: printed as
# empty boxes or lines, filled in by hand as on the paper form.
HAND_FILLED = {
    "no_kk",
    "nik_ayah",
    "nik_ibu",
    "nama_pasangan_meninggal",
    "nik_pasangan_meninggal",
    "tanggal_meninggal_pasangan",
    "tempat_meninggal_pasangan",
}
NIK = "3213115705900001"


def test_every_form_of_the_issue_is_there_once_with_its_regulation() -> None:
    assert {code for code, _ in FORMS} == set(ATTACHED)
    for (code, _version), form in FORMS.items():
        if code.startswith("F-"):
            # Permendagri 109/2019 (Formulir dan Buku Adminduk), or the older numbering Dukcapil
            # still asks for, marked for confirmation.
            assert "Permendagri 109/2019" in form.regulation or (
                "19/2010" in form.regulation and "perlu dikonfirmasi" in form.regulation
            ), code
        else:
            assert "473/2020" in form.regulation and "PMA 20/2019" in form.regulation, code


@pytest.mark.parametrize("code", sorted(ATTACHED))
def test_the_catalogue_attaches_each_form_where_opensid_does(code: str) -> None:
    attaching = {c for c, d in SEED.items() if any(f.code == code for f in d.forms)}
    assert attaching == ATTACHED[code]
    for c in attaching:
        (entry,) = (f for f in SEED[c].forms if f.code == code)
        form = find_form(entry.code, entry.version)
        assert form is not None
        assert (entry.name, entry.regulation) == (form.name, form.regulation)


def test_every_form_value_is_a_catalogue_field_or_a_fixed_one() -> None:
    fields = {f.name for d in SEED.values() for f in d.fields}
    for form in FORMS.values():
        for name in form.placeholders():
            assert "." in name or name in fields or name in HAND_FILLED, (form.code, name)


def _rendered(code: str, fields: dict[str, str], **changes: object) -> list[str]:
    from services.signing.rendering import render_letter

    return page_texts(
        render_letter(_content(SEED[code], fields, desa_code="32.13.11.2004", **changes))
    )


def test_a_birth_prints_f201_after_the_letter_with_the_values_and_nik_boxes() -> None:
    fields = {
        "nama": "Siti Aminah",
        "nama_anak": "Rizky Pratama",
        "jenis_kelamin_anak": "L",
        "tempat_lahir_anak": "Subang",
        "tanggal_lahir_anak": "2026-11-01",
        "nama_ibu": "Siti Aminah",
        "nama_ayah": "Budi Santoso",
        "hubungan_pelapor": "Ibu",
        "alamat": "Dusun Krajan",
        "rt": "3",
        "rw": "12",
    }
    letter, form = _rendered("SKL", fields)
    assert "RIZKY PRATAMA" in form and "BUDI SANTOSO" in form
    assert squeeze("Kode. F-2.01") in squeeze(form)
    assert "PAMANUKAN" in form and "32.13.11.2004" in form  # the desa and its code
    # One digit per box: the NIK appears as its 16 characters in order, one by one.
    assert re.search(r"\s*".join(NIK), form)
    assert "LAKI-LAKI" in form  # printed as the letter prints it, in capitals
    # The rows of other events (a death) are there, left for the hand, not filled with '-'.
    assert "Sebab Kematian" in form and " -" not in form.split("Sebab Kematian")[1][:20]
    assert "Rizky Pratama" in letter


def test_a_form_prints_what_a_resident_typed_as_text_never_as_markup() -> None:
    fields = {"nama": "Siti", "dokumen_berbeda": "Ijazah", "data_benar": "Siti Aminah"}
    for hostile in HOSTILE:
        pages = _rendered("SKBI", {**fields, "data_di_dokumen": hostile})
        assert len(pages) == 2
        assert squeeze(hostile.upper()) in squeeze(pages[1]), hostile


def test_a_new_regulation_is_a_new_form_version_in_data(tmp_path: Path) -> None:
    """The v1 file copied as v2 with a changed title (what a new Kepmendagri would bring): both
    versions load, a type naming v2 prints v2, and letters that named v1 still print v1."""
    v1 = (FORMS_DIR / "f-2.01.v1.toml").read_text(encoding="utf-8")
    v2 = v1.replace("version = 1", "version = 2").replace(
        'title = "FORMULIR PELAPORAN', 'title = "FORMULIR BARU PELAPORAN'
    )
    for name, text in (("f-2.01.v1.toml", v1), ("f-2.01.v2.toml", v2)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    versions = load_forms(tmp_path)
    assert set(versions) == {("F-2.01", 1), ("F-2.01", 2)}
    names = frozenset(f.name for f in SEED["SKL"].fields)
    assert "FORMULIR BARU" in compile_form(versions[("F-2.01", 2)], names)
    assert "FORMULIR BARU" not in compile_form(versions[("F-2.01", 1)], names)


def test_a_form_file_whose_name_is_not_its_code_and_version_is_refused(tmp_path: Path) -> None:
    v1 = (FORMS_DIR / "f-2.01.v1.toml").read_text(encoding="utf-8")
    (tmp_path / "f-2.01.v3.toml").write_text(v1, encoding="utf-8")
    with pytest.raises(CatalogueError, match="kode dan versi"):
        load_forms(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 9}, "tidak ada"),
        ({"regulation": "Permendagri 19/2010"}, "harus sama"),
    ],
)
def test_a_type_naming_a_form_version_that_is_not_in_the_library_is_refused(
    change: dict[str, object], message: str
) -> None:
    data = json.loads(SEED["SKL"].to_json())
    data["forms"] = [{**data["forms"][0], **change}]
    with pytest.raises(CatalogueError, match=message):
        parse(data, "skl.toml")


def test_a_form_named_without_a_version_prints_no_page() -> None:
    """Definitions published before forms were generated named them without a version; their
    letters render again as they were issued, without form pages."""
    lt = SEED["SKL"]
    unversioned = replace(lt, forms=tuple(Form(f.code, f.name, f.regulation) for f in lt.forms))
    assert "version" not in json.loads(unversioned.to_json())["forms"][0]
    from services.signing.rendering import render_letter

    pdf = render_letter(_content(unversioned, {"nama": "Siti"}))
    assert len(page_texts(pdf)) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"label": "NIK", "value": "NIK {penduduk.nik}", "boxes": 16}, "satu isian"),
        ({"label": "Asal", "value": "{desa.rahasia}"}, "tidak dikenal"),
        ({"label": "Nama", "value": "#eval(1) {"}, "isian"),
    ],
)
def test_a_form_row_that_cannot_print_safely_is_refused(
    tmp_path: Path, row: dict[str, object], message: str
) -> None:
    text = (
        'code = "F-1.01"\nversion = 1\nname = "x"\nregulation = "Permendagri 109/2019"\n'
        'title = "X"\n[[sections]]\nheading = "A"\nrows = [' + _inline(row) + "]\n"
    )
    (tmp_path / "f-1.01.v1.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match=message):
        load_forms(tmp_path)


def _inline(row: dict[str, object]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in row.items()) + " }"


# sha256 of layout 1's Typst (FORM_PRELUDE, then every v1 form compiled for every seed type's
# fields), as main printed it before layout 2 existed. Letters issued with a v1 form render again
# byte for byte only if this never changes: a new look is a new layout, not an edit of layout 1.
LAYOUT_1_SHA256 = "66b0cca705e1d62bd44f1859f9794dcbd87d7ac285fe8e9466c1694125082a17"


def test_layout_1_prints_exactly_what_it_printed_when_letters_were_issued_with_it() -> None:
    import hashlib

    from services.signing.catalogue.forms import FORM_PRELUDE

    digest = hashlib.sha256(FORM_PRELUDE.encode())
    for (_code, version), form in sorted(FORMS.items()):
        if version != 1:
            continue
        assert form.layout == 1
        for code in sorted(SEED):
            digest.update(compile_form(form, frozenset(f.name for f in SEED[code].fields)).encode())
    assert digest.hexdigest() == LAYOUT_1_SHA256


def _chars(text: str) -> str:
    # Layout 2 joins the number, label and colon in one cell, pads the number with a figure
    # space and prints a box's digits as one run: the characters and their order are the
    # content; spacing and the colon's place are layout.
    return re.sub(r"[\s\u2007:]+", "", text)


@pytest.mark.parametrize("code", sorted(c for c, d in SEED.items() if d.forms))
def test_layout_2_prints_the_same_form_as_layout_1(code: str) -> None:
    """Each form's v2 is its v1 (same rows, labels and values) drawn in layout 2: the pages carry
    the same text in the same order, one page per form, after the same letter."""
    from services.signing.rendering import render_letter

    lt = SEED[code]
    assert all(f.version == 2 and find_form(f.code, 2).layout == 2 for f in lt.forms)  # type: ignore[union-attr]
    v1 = replace(lt, forms=tuple(replace(f, version=1) for f in lt.forms))
    fields = {"nama": "Siti Aminah", "alamat": "Dusun Krajan", "rt": "3", "rw": "12"}
    one, two = (
        page_texts(render_letter(_content(t, fields, desa_code="32.13.11.2004"))) for t in (v1, lt)
    )
    assert len(one) == len(two) == 1 + len(lt.forms)
    assert one[0] == two[0]
    for before, after in zip(one[1:], two[1:], strict=True):
        assert _chars(before) == _chars(after)
    for f in lt.forms:
        old, new = find_form(f.code, 1), find_form(f.code, 2)
        assert old is not None and new is not None
        assert (old.name, old.regulation, old.title, old.sections, old.signatures) == (
            new.name,
            new.regulation,
            new.title,
            new.sections,
            new.signatures,
        )


def test_a_form_layout_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    v2 = (FORMS_DIR / "f-2.01.v2.toml").read_text(encoding="utf-8")
    (tmp_path / "f-2.01.v2.toml").write_text(v2.replace("layout = 2", "layout = 3"), "utf-8")
    with pytest.raises(CatalogueError, match="layout"):
        load_forms(tmp_path)
