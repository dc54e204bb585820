"""Dukcapil and nikah forms (F-1.01 … F-2.12, N-1 … N-6) as data: one TOML file per form and
version in `forms/` (`f-1.01.v1.toml`), compiled to Typst pages that follow the letter in the same
PDF, before it is signed (docs/letter-catalogue.md#dukcapil-forms).

A form's layout is the regulation's: a boxed form code, the title, the numbered fields under
section headings, NIK and No. KK as one box per character where the official form has boxes, and
the signature columns at the foot. When a regulation changes a form, its next version is a new
file (`f-1.01.v2.toml`) and the letter types that attach it name the new version: data, not code.
Versions are never edited once a letter has used them, so an issued letter renders again from
the versions it recorded.

Values reach a form as they reach a letter: through sys.inputs, never as markup. A form's
placeholder is a field of the letter type (`{nama}`: blank when the type has no such field, for
the resident to fill in by hand, as on the paper form) or one of the fixed list
(`definition.PLACEHOLDERS` and `FORM_PLACEHOLDERS`).
"""

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from services.signing.catalogue.definition import (
    _FORM_CODE,
    PLACEHOLDERS,
    CatalogueError,
    _bool,
    _int,
    _str,
    _tables,
    _unknown_keys,
)
from services.signing.typst_text import typst_str

FORMS_DIR = Path(__file__).parent / "forms"
# Only forms print these (besides definition.PLACEHOLDERS): where the form asks for them.
FORM_PLACEHOLDERS: Mapping[str, str] = {
    "desa.kode": "kode wilayah desa (Kemendagri)",
}
_FORM_INPUTS = {"desa.kode": "desa_code"}
_FILE = re.compile(r"(?P<code>[fn]-\d(\.\d{2})?)\.v(?P<version>\d+)\.toml")


@dataclass(frozen=True)
class FormRow:
    label: str
    value: str = ""  # template text ({placeholders}); empty: a line to fill in by hand
    boxes: int = 0  # > 0: printed one character per box (NIK 16, No. KK 16, RT 3)
    number: bool = True  # numbered like the official form's fields


@dataclass(frozen=True)
class FormSection:
    heading: str
    rows: tuple[FormRow, ...]


@dataclass(frozen=True)
class FormSignature:
    label: str  # "Pemohon", "Kepala Desa/Lurah"
    name: str = ""  # template text; empty: a dotted line


@dataclass(frozen=True)
class FormDef:
    code: str
    version: int
    name: str
    regulation: str
    title: str
    sections: tuple[FormSection, ...]
    signatures: tuple[FormSignature, ...]
    note: str = ""  # e.g. what about the form's regulation still needs confirming
    # Which page layout compiles it (`compile_form`): 1, the first (every v1 file; frozen, so
    # letters issued with it render again byte for byte), 2, the same page in fewer layout
    # elements (docs/performance.md#dukcapil-form-pages).
    layout: int = 1

    def placeholders(self) -> list[str]:
        from services.signing.catalogue.blocks import placeholders

        texts = [r.value for s in self.sections for r in s.rows]
        texts += [s.name for s in self.signatures]
        return [p for t in texts if t for p in placeholders(t)]


def _form_placeholder_ok(name: str) -> bool:
    # A field of the type (checked per type by the tests) or a fixed one; dotted names only from
    # the fixed lists.
    return ("." not in name) or name in PLACEHOLDERS or name in FORM_PLACEHOLDERS


def _single_placeholder(segments: tuple[object, ...]) -> bool:
    from services.signing.catalogue.blocks import Placeholder

    return len(segments) == 1 and isinstance(segments[0], Placeholder)


def parse_form(data: Mapping[str, Any], path: str) -> FormDef:
    from services.signing.catalogue.blocks import TemplateError, parse_text

    _unknown_keys(
        data,
        {
            "code",
            "version",
            "name",
            "regulation",
            "title",
            "note",
            "layout",
            "sections",
            "signatures",
        },
        path,
    )
    sections = []
    for i, s in enumerate(_tables(data, "sections", path), start=1):
        sw = f"{path}: sections {i}"
        _unknown_keys(s, {"heading", "rows"}, sw)
        rows = []
        for j, r in enumerate(_tables(s, "rows", sw), start=1):
            rw = f"{sw} baris {j}"
            _unknown_keys(r, {"label", "value", "boxes", "number"}, rw)
            row = FormRow(
                label=_str(r, "label", rw),
                value=_str(r, "value", rw, default=""),
                boxes=_int(r, "boxes", rw, 0, 0, 40),
                number=_bool(r, "number", rw, True),
            )
            segments = parse_text(row.value, rw)
            if row.boxes and segments and not _single_placeholder(segments):
                raise TemplateError(f"{rw}: kotak per huruf hanya untuk satu isian")
            rows.append(row)
        sections.append(FormSection(_str(s, "heading", sw, default=""), tuple(rows)))
    signatures = []
    for i, s in enumerate(_tables(data, "signatures", path), start=1):
        sw = f"{path}: signatures {i}"
        _unknown_keys(s, {"label", "name"}, sw)
        sig = FormSignature(_str(s, "label", sw), _str(s, "name", sw, default=""))
        if sig.name and not _single_placeholder(parse_text(sig.name, sw)):
            raise TemplateError(f"{sw}: name berisi satu isian, misalnya {{nama}}")
        signatures.append(sig)
    form = FormDef(
        code=_str(data, "code", path),
        version=_int(data, "version", path, 0, 1, 999),
        name=_str(data, "name", path),
        regulation=_str(data, "regulation", path),
        title=_str(data, "title", path),
        sections=tuple(sections),
        signatures=tuple(signatures),
        note=_str(data, "note", path, default=""),
        layout=_int(data, "layout", path, 1, 1, len(LAYOUTS)),
    )
    if not _FORM_CODE.fullmatch(form.code) or not form.regulation.strip():
        raise CatalogueError(f"{path}: kode formulir (F-1.01, N-1) dan regulasinya wajib")
    if not form.sections:
        raise CatalogueError(f"{path}: formulir tanpa bagian isian")
    for name in form.placeholders():
        if not _form_placeholder_ok(name):
            raise TemplateError(f"{path}: isian {{{name}}} tidak dikenal")
    return form


@cache
def load_forms(directory: Path = FORMS_DIR) -> dict[tuple[str, int], FormDef]:
    """Every version of every form in the repository, by (code, version)."""
    out: dict[tuple[str, int], FormDef] = {}
    for path in sorted(directory.glob("*.toml")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise CatalogueError(f"{path.name}: nama file formulir seperti f-1.01.v1.toml")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path.name}: bukan TOML yang sah: {exc}") from exc
        form = parse_form(data, path.name)
        if (form.code.lower(), form.version) != (match["code"], int(match["version"])):
            raise CatalogueError(f"{path.name}: nama file harus kode dan versi formulirnya")
        out[(form.code, form.version)] = form
    return out


def find_form(code: str, version: int) -> FormDef | None:
    return load_forms().get((code, version))


# ---------------------------------------------------------------------------------------------
# Typst


def _value(text: str, fields: frozenset[str]) -> str:
    """Typst markup printing a form value: placeholders the type does not have print nothing
    (a blank for the hand, as on the paper form)."""
    from services.signing.catalogue.blocks import Bold, Placeholder, Text, parse_text

    def one(seg: Text | Placeholder) -> str:
        if isinstance(seg, Text):
            return "#" + typst_str(seg.value)
        key = _input(seg.name, fields)
        return f"#val({typst_str(key)})" if key else ""

    out = []
    for seg in parse_text(text):
        if isinstance(seg, Bold):
            out.append("#strong[" + "".join(one(p) for p in seg.parts) + "]")
        else:
            out.append(one(seg))
    return "".join(out)


def _input(name: str, fields: frozenset[str]) -> str:
    from services.signing.catalogue.blocks import input_key

    if name in _FORM_INPUTS:
        return _FORM_INPUTS[name]
    if "." in name:
        return input_key(name)
    return f"f_{name}" if name in fields else ""


def _boxes_key(text: str, fields: frozenset[str]) -> str:
    from services.signing.catalogue.blocks import Placeholder, parse_text

    segs = parse_text(text)
    if len(segs) == 1 and isinstance(segs[0], Placeholder):
        return _input(segs[0].name, fields)
    return ""


# Layout 1, frozen: the page functions its forms use: `val` (a value, "-" when empty as in the
# letter; blank on a form), `kotak` (one box per character), `ttd`, `isian` (an underlined value).
FORM_PRELUDE = """
#let val(key) = { let v = sys.inputs.at(key, default: ""); if v == "-" { "" } else { v } }
#let kotak(key, n) = {
  let chars = upper(val(key)).clusters()
  box(grid(columns: (0.5cm,) * n, rows: 0.55cm, stroke: 0.5pt, align: center + horizon,
    ..range(n).map(i => if i < chars.len() { chars.at(i) } else { "" })))
}
#let ttd(key) = { let v = val(key); if v == "" { "(" + "." * 40 + ")" } else { underline(upper(v)) } }
#let isian(body) = box(width: 100%, stroke: (bottom: 0.4pt + luma(40%)), inset: (bottom: 2pt),
  text(size: 9.5pt, upper(body)))
"""


def _compile_form_1(form: FormDef, fields: frozenset[str]) -> str:
    """Layout 1: a table per section, four cells a row, a grid cell per box. Never changed: the
    letters issued with a layout-1 form render again from this, byte for byte."""
    lines = [
        "#pagebreak()",
        "#set text(size: 9.5pt)",
        "#set par(justify: false, leading: 0.45em, spacing: 0.6em)",
        "#grid(columns: (1fr, auto), align: (left + horizon, right + horizon),",
        '  text(size: 8.5pt)[Lampiran surat Nomor: #inp("number")],',
        f"  box(stroke: 0.8pt, inset: 5pt, strong[Kode. #{typst_str(form.code)}]),",
        ")",
        "#v(0.3em)",
        f'#align(center, text(size: 11.5pt, weight: "bold")[#{typst_str(form.title)}])',
        "#v(0.4em)",
    ]
    n = 0
    for section in form.sections:
        if section.heading:
            lines.append(f"#v(0.3em)\n#strong[#{typst_str(section.heading)}]")
        cells = []
        for row in section.rows:
            if row.number:
                n += 1
            no = f"[{n}.]" if row.number else "[]"
            label = f"[#{typst_str(row.label)}]"
            if row.boxes:
                key = _boxes_key(row.value, fields)
                value = f"[#kotak({typst_str(key)}, {row.boxes})]"
            else:
                value = f"[#isian[{_value(row.value, fields)}]]" if row.value else "[#isian[]]"
            cells.append(f"  {no}, {label}, [:], {value},")
        lines += [
            "#table(columns: (0.8cm, 5.6cm, 0.3cm, 1fr), stroke: none, column-gutter: 3pt,",
            "  inset: (x: 1pt, y: 2.5pt), align: (right + horizon, left + horizon, left + horizon, left + horizon),",
            *cells,
            ")",
        ]
    if form.signatures:
        cols = len(form.signatures)
        lines.append("#v(1em)")
        lines.append(f"#grid(columns: (1fr,) * {cols}, align: center, row-gutter: 0pt,")
        for sig in form.signatures:
            key = _boxes_key(sig.name, fields) if sig.name else ""
            lines.append(f"  [#{typst_str(sig.label)} \\ #v(1.8cm) #ttd({typst_str(key)})],")
        lines.append(")")
    return "\n".join(lines)


# Layout 2: the page of layout 1 drawn with fewer layout elements, because Typst's cost is per
# paragraph, grid cell and box, hardly per character, and nothing is reused between letters
# (their values change sys.inputs, which invalidates Typst's memo; docs/performance.md). One grid
# per form, section headings as spanning cells; a row is two cells instead of four: the number,
# label and colon are one paragraph (the number padded to two figures with a figure space, the
# colon pushed to the cell's end), the value the other, underlined by the grid's own stroke
# instead of a box. A row of boxes is one frame with its dividers drawn as one curve and its
# digits one run tracked to the box pitch (other characters get a box each), instead of a grid
# cell per box. The values print as in layout 1: capitals, blank instead of "-".
FORM_PRELUDE_2 = r"""
#let fval(key) = { let v = sys.inputs.at(key, default: ""); if v == "-" { "" } else { upper(v) } }
#let fsekat(n) = curve(stroke: 0.5pt, ..range(1, n).map(i => (
  curve.move((i * 0.5cm, 0pt)), curve.line((i * 0.5cm, 0.55cm)))).flatten())
#let fkotak(key, n) = {
  let chars = fval(key).clusters()
  let chars = chars.slice(0, calc.min(n, chars.len()))
  let digits = chars.all(c => c in "0123456789")
  box(width: n * 0.5cm, height: 0.55cm, stroke: 0.5pt, baseline: 0.12cm, {
    if n > 1 { place(fsekat(n)) }
    if chars.len() == 0 {
    } else if digits {
      context {
        let gap = 0.5cm - measure("0").width
        place(horizon, dx: gap / 2, text(tracking: gap, chars.join()))
      }
    } else {
      for c in chars { box(width: 0.5cm, height: 0.55cm, align(center + horizon, c)) }
    }
  })
}
#let fttd(key) = { let v = fval(key); if v == "" { "(" + "." * 40 + ")" } else { underline(v) } }
"""


def _value_2(text: str, fields: frozenset[str]) -> str:
    """A form value in layout 2: as `_value`, in capitals (layout 1 capitalised the whole cell)."""
    from services.signing.catalogue.blocks import Bold, Placeholder, Text, parse_text

    def one(seg: Text | Placeholder) -> str:
        if isinstance(seg, Text):
            return "#" + typst_str(seg.value.upper())
        key = _input(seg.name, fields)
        return f"#fval({typst_str(key)})" if key else ""

    out = []
    for seg in parse_text(text):
        if isinstance(seg, Bold):
            out.append("#strong[" + "".join(one(p) for p in seg.parts) + "]")
        else:
            out.append(one(seg))
    return "".join(out)


def _compile_form_2(form: FormDef, fields: frozenset[str]) -> str:
    lines = [
        "#pagebreak()",
        '#set text(size: 9.5pt, number-width: "tabular")',
        "#set par(justify: false, leading: 0.45em, spacing: 0.6em)",
        "#grid(columns: (1fr, auto), align: (left + horizon, right + horizon),",
        '  text(size: 8.5pt)[Lampiran surat Nomor: #inp("number")],',
        f"  box(stroke: 0.8pt, inset: 5pt, strong[Kode. #{typst_str(form.code)}]),",
        ")",
        "#v(0.3em)",
        f'#align(center, text(size: 11.5pt, weight: "bold")[#{typst_str(form.title)}])',
        "#v(0.4em)",
    ]
    n = 0
    cells, ruled, heights = [], [], []
    for section in form.sections:
        if section.heading:
            # The heading spans the row, with layout 1's space above it.
            cells.append(
                "  grid.cell(colspan: 2, inset: (x: 0pt, top: 0.9em, bottom: 4pt), "
                f"strong[#{typst_str(section.heading)}]),"
            )
            heights.append("auto")
        for row in section.rows:
            if row.number:
                n += 1
            # Two figures wide, as layout 1's right-aligned number column: " 9." and "10.".
            no = typst_str(f"{n:\u2007>2}.  ") if row.number else typst_str("\u2007\u2007   ")
            label = f"[#{no}#{typst_str(row.label)}#h(1fr):]"
            if row.boxes:
                key = _boxes_key(row.value, fields)
                value = f"fkotak({typst_str(key)}, {row.boxes})"
                heights.append("0.55cm + 7pt")  # known: laid out once
            else:
                ruled.append(len(heights))
                value = f"[{_value_2(row.value, fields)}]"
                heights.append("auto")
            cells.append(f"  {label}, {value},")
    rule = "(bottom: 0.4pt + luma(40%))"
    lines += [
        # Layout 1's row: 2.5pt above and below the cell, 2pt more under the value's line.
        "#grid(columns: (6.9cm, 1fr), column-gutter: 6pt, inset: (x: 1pt, top: 2.5pt, bottom: 4.5pt),",
        f"  align: left + horizon, rows: ({''.join(h + ', ' for h in heights)}),",
        f"  stroke: (x, y) => if x == 1 and y in {_typst_array(ruled)} {{ {rule} }},",
        *cells,
        ")",
    ]
    if form.signatures:
        cols = len(form.signatures)
        lines.append("#v(1em)")
        lines.append(f"#grid(columns: (1fr,) * {cols}, align: center, row-gutter: 0pt,")
        for sig in form.signatures:
            key = _boxes_key(sig.name, fields) if sig.name else ""
            lines.append(f"  [#{typst_str(sig.label)} \\ #v(1.8cm) #fttd({typst_str(key)})],")
        lines.append(")")
    return "\n".join(lines)


def _typst_array(values: list[int]) -> str:
    return "(" + "".join(f"{v}, " for v in values) + ")"


# Per layout: the functions its pages use (once per document) and how a form is compiled.
LAYOUTS: tuple[tuple[str, Callable[[FormDef, frozenset[str]], str]], ...] = (
    (FORM_PRELUDE, _compile_form_1),
    (FORM_PRELUDE_2, _compile_form_2),
)


def compile_form(form: FormDef, fields: frozenset[str]) -> str:
    """The form's page(s) in Typst, for a letter type with these `fields`, in its layout."""
    return LAYOUTS[form.layout - 1][1](form, fields)


def compile_forms(forms: Sequence[FormDef], fields: frozenset[str]) -> list[str]:
    """The Typst of these forms' pages, each layout's functions once, before its first page.
    A document of layout-1 forms only is what it always was (FORM_PRELUDE, then the pages)."""
    out: list[str] = []
    seen: set[int] = set()
    for form in forms:
        if form.layout not in seen:
            seen.add(form.layout)
            out.append(LAYOUTS[form.layout - 1][0])
        out.append(compile_form(form, fields))
    return out
