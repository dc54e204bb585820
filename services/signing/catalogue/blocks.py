"""The body template of a letter type, compiled to Typst.

A template is a sequence of blocks (heading, paragraph, a table of fields, a list, the signature
block). Their text is not Typst: it is plain text with three marks only, parsed here:

- `{name}` a placeholder: a field of the type, or one of `definition.PLACEHOLDERS`;
- `*words*` printed bold;
- `{{`, `}}`, `**` a literal `{`, `}`, `*`.

Nothing typed into a template reaches Typst as markup or code: every run of text becomes a Typst
string literal (`typst_str`), and every placeholder becomes `inp("<key>")`, a read of
sys.inputs, whose values Typst prints as they are. So `#eval(...)`, `]`, `\\`, `$` or a Typst
comment in a template or in a resident's answer is printed, never run. Characters that could
make the printed text say something else than it seems (bidirectional overrides, control
characters) are refused in templates.
"""

import re
from dataclasses import dataclass

from services.signing.catalogue.definition import Block, CatalogueError, LetterTypeDef
from services.signing.typst_text import typst_str

# Where each placeholder's value travels in sys.inputs. Fields go as f_<name>.
PLACEHOLDER_INPUTS: dict[str, str] = {
    "penduduk.nik": "p_nik",
    "penduduk.tempat_tanggal_lahir": "p_tempat_tanggal_lahir",
    "penduduk.alamat_lengkap": "p_alamat_lengkap",
    "desa.nama": "desa",
    "desa.kecamatan": "kecamatan",
    "desa.kabupaten": "kabupaten",
    "desa.alamat": "desa_address",
    "desa.kode_pos": "kode_pos",
    "surat.pejabat": "authority",
    "surat.keperluan": "purpose",
    "surat.tujuan": "addressee",
    "surat.nomor": "number",
    "surat.tanggal": "date",
}
# C0/C1 controls, and the marks that reorder text as it is shown (bidi embeddings, overrides,
# isolates) or hide it (zero-width joiners aside, which some scripts need).
_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
_PLACEHOLDER = re.compile(r"[a-z][a-z0-9_]{0,39}(\.[a-z][a-z0-9_]{0,39})?")


class TemplateError(CatalogueError):
    """A template's text cannot be compiled. `str(exc)` says where and why (Indonesian)."""


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Placeholder:
    name: str


@dataclass(frozen=True)
class Bold:
    parts: tuple["Text | Placeholder", ...]


Segment = Text | Placeholder | Bold


def input_key(placeholder: str) -> str:
    """The sys.inputs key of a placeholder (a field's name, or one of the fixed list)."""
    return PLACEHOLDER_INPUTS.get(placeholder) or f"f_{placeholder}"


def parse_text(text: str, where: str = "teks") -> tuple[Segment, ...]:
    bad = _FORBIDDEN.search(text)
    if bad:
        raise TemplateError(f"{where}: karakter tak terlihat U+{ord(bad.group()):04X} tidak boleh")
    out: list[Segment] = []
    bold: list[Text | Placeholder] | None = None
    buf: list[str] = []

    def flush() -> None:
        if buf:
            (bold if bold is not None else out).append(Text("".join(buf)))
            buf.clear()

    i = 0
    while i < len(text):
        c = text[i]
        pair = text[i : i + 2]
        if pair in ("{{", "}}", "**"):
            buf.append(c)
            i += 2
        elif c == "{":
            end = text.find("}", i)
            name = text[i + 1 : end] if end > 0 else ""
            if not _PLACEHOLDER.fullmatch(name):
                raise TemplateError(
                    f"{where}: '{{' harus membuka isian seperti {{nama}} (tulis '{{{{' untuk "
                    "kurung kurawal)"
                )
            flush()
            (bold if bold is not None else out).append(Placeholder(name))
            i = end + 1
        elif c == "}":
            raise TemplateError(f"{where}: '}}' tanpa pasangan (tulis '}}}}')")
        elif c == "*":
            flush()
            if bold is None:
                bold = []
            else:
                if not bold:
                    raise TemplateError(f"{where}: teks tebal *...* kosong")
                out.append(Bold(tuple(bold)))
                bold = None
            i += 1
        else:
            buf.append(c)
            i += 1
    flush()
    if bold is not None:
        raise TemplateError(f"{where}: '*' tanpa penutup (tulis '**' untuk bintang)")
    return tuple(out)


def placeholders(text: str) -> list[str]:
    names: list[str] = []
    for seg in parse_text(text):
        parts = seg.parts if isinstance(seg, Bold) else (seg,)
        names.extend(p.name for p in parts if isinstance(p, Placeholder))
    return names


def _inline(segments: tuple[Segment, ...]) -> str:
    out = []
    for seg in segments:
        if isinstance(seg, Text):
            out.append("#" + typst_str(seg.value))
        elif isinstance(seg, Placeholder):
            out.append(f"#inp({typst_str(input_key(seg.name))})")
        else:
            out.append("#strong[" + _inline(seg.parts) + "]")
    return "".join(out)


def inline(text: str) -> str:
    """Typst markup printing `text` (placeholders read from sys.inputs)."""
    return _inline(parse_text(text))


def _fields_table(block: Block) -> str:
    lines = []
    if block.text:
        lines.append(inline(block.text))
    lines += [
        "#pad(left: 1cm)[",
        "  #set par(justify: false)",
        "  #table(",
        "    columns: (5.2cm, auto, 1fr),",
        "    stroke: none,",
        "    inset: (x: 0pt, y: 2.5pt),",
        "    column-gutter: 6pt,",
    ]
    for row in block.rows:
        lines.append(f"    [#{typst_str(row.label)}], [:], [{inline(row.value)}],")
    lines += ["  )", "]"]
    return "\n".join(lines)


def _block(block: Block, signature: str) -> str:
    if block.kind == "heading" and block.number:
        return "\n".join(
            [
                "#v(0.4em)",
                "#align(center)[",
                f'  #text(size: 13pt, weight: "bold")[#underline[{inline(block.text)}]] \\',
                '  Nomor: #inp("number")',
                "]",
                "#v(0.6em)",
            ]
        )
    if block.kind == "heading":
        return f'#align(center, text(weight: "bold")[{inline(block.text)}])'
    if block.kind == "paragraph":
        return inline(block.text)
    if block.kind == "fields":
        return _fields_table(block)
    if block.kind == "list":
        fn = "enum" if block.numbered else "list"
        items = "".join(f"  [{inline(item)}],\n" for item in block.items)
        return f"#pad(left: 0.5cm)[#{fn}(\n{items})]"
    return signature  # the kabupaten's, the same on every letter


def compile_body(definition: LetterTypeDef, signature: str) -> str:
    """The letter's body in Typst, `signature` (the frame's signature block) in its place."""
    return "\n\n".join(_block(b, signature) for b in definition.body)


def check_template(definition: LetterTypeDef, path: str = "") -> None:
    """Every text parses, every placeholder resolves, and the frame's rules hold: the body opens
    with the numbered title heading and ends with the one signature block."""
    where = path or definition.code
    body = definition.body
    if not body or body[0].kind != "heading" or not body[0].number:
        raise TemplateError(f"{where}: body dimulai dengan judul bernomor (heading, number=true)")
    if sum(b.kind == "signature" for b in body) != 1 or body[-1].kind != "signature":
        raise TemplateError(f"{where}: body diakhiri satu blok tanda tangan (signature)")
    if sum(b.kind == "heading" and b.number for b in body) != 1:
        raise TemplateError(f"{where}: hanya satu judul bernomor")
    fields = {f.name for f in definition.fields}
    for i, block in enumerate(body, start=1):
        bw = f"{where}: body {i}"
        texts = [block.text, *block.items, *(r.value for r in block.rows)]
        labels = [r.label for r in block.rows]
        for label in labels:
            bad = _FORBIDDEN.search(label)
            if bad:
                raise TemplateError(f"{bw}: karakter tak terlihat U+{ord(bad.group()):04X}")
        for text in texts:
            for name in placeholders(text) if text else []:
                if name not in fields and name not in PLACEHOLDER_INPUTS:
                    raise TemplateError(
                        f"{bw}: isian {{{name}}} tidak dikenal (bukan isian jenis surat ini "
                        "dan bukan dari daftar tetap)"
                    )
    for placeholder in re.findall(r"\{([^}]*)\}", definition.default_addressee):
        if placeholder not in ("desa.nama", "desa.kecamatan"):
            raise TemplateError(
                f"{where}: default_addressee hanya boleh memuat {{desa.nama}} dan "
                "{desa.kecamatan}"
            )
