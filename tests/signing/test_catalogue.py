"""The catalogue's seed files and its block compiler: every file loads and passes the checks,
templates compile to Typst that prints text and never runs it, whatever is typed into a
template or a field, and every seeded type renders through signing's real renderer."""

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typst

from common.rpc import MAX_SCANS_PER_MESSAGE
from services.signing.catalogue.blocks import (
    PLACEHOLDER_INPUTS,
    Bold,
    Placeholder,
    TemplateError,
    Text,
    compile_body,
    parse_text,
    placeholders,
)
from services.signing.catalogue.definition import (
    KODE_NOT_SET,
    PLACEHOLDERS,
    SEED_DIR,
    Block,
    CatalogueError,
    LetterTypeDef,
    from_json,
    load_seed,
    parse,
)
from services.signing.catalogue.forms import find_form
from services.signing.rendering import LetterContent, build_document, render_letter
from tests.signing.pdf_text import page_texts, squeeze

pytestmark = pytest.mark.unit

SEED = load_seed()
LOGO = Path(__file__).parents[2] / "services/signing/templates/assets/logo-dev.svg"

# What a staff member or a resident might type to break out of the text.
HOSTILE = (
    "#set page(fill: red)",
    '#eval("1 + 1")',
    '#import "/etc/passwd"',
    '#read("/etc/hostname")',
    "] #[ ) ( ",
    "\\ \\\\ \\n",
    "\"quoted\" 'single'",
    "$x^2$ // not a comment /* nor this */",
    "<label> @ref `raw` ```block```",
    "= Judul palsu",
    "- butir palsu",
)
# Characters the letter's font may not draw, or that are not drawn at all: they must still
# change nothing around them.
UNICODE_TRICKS = ("＃eval(fullwidth)", "e\u0301 \u200d ﷽", "\u202eterbalik", "\u2028#set")
BIDI = "\u202eterbalik"


def _content(lt: LetterTypeDef, fields: dict[str, str], **changes: object) -> LetterContent:
    values: dict[str, object] = {
        "letter_type": lt,
        "number": "400.12.2/012/32.13.11.2004/XI/2026",
        "letter_date": datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        "desa": "Pamanukan",
        "kecamatan": "Pamanukan",
        "kabupaten": "Subang",
        "desa_address": "Jl. Raya Pamanukan No. 12",
        "kode_pos": "41254",
        "signer_title": "Kepala Desa",
        "signer_name": "Dadang Suhendar",
        "fields": fields,
        "nik": "3213115705900001",
        "purpose": "Persyaratan administrasi",
        "verification_url": "https://verifikasi.example.test/verifikasi/abc",
        "logo": LOGO,
        **changes,
    }
    return LetterContent(**values)  # type: ignore[arg-type]


def _sample(spec_kind: str, choices: tuple[str, ...]) -> str:
    return {
        "date": "2026-11-01",
        "digits": "12",
        "time": "08:30",
        "choice": choices[0] if choices else "",
    }.get(spec_kind, "Contoh isian")


def _with_paragraph(lt: LetterTypeDef, text: str) -> LetterTypeDef:
    return replace(lt, body=(*lt.body[:-1], Block("paragraph", text=text), lt.body[-1]))


# --- seed files --------------------------------------------------------------------------------


def test_every_seed_file_loads_with_a_unique_code() -> None:
    files = sorted(SEED_DIR.glob("*.toml"))
    assert len(files) == len(SEED) >= 10
    assert {p.stem.upper() for p in files} == set(SEED)
    titles = [d.title for d in SEED.values()]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("code", sorted(SEED))
def test_seed_type_is_complete(code: str) -> None:
    d = SEED[code]
    assert d.name and d.description and d.subject and d.kode_klasifikasi_basis
    assert d.kode_klasifikasi == KODE_NOT_SET or "83/2022" in d.kode_klasifikasi_basis
    assert d.syarat, "every type asks for at least one syarat"
    assert d.route.steps and d.route.signer
    assert all(f.regulation and f.version for f in d.forms)
    fields = {f.name for f in d.fields}
    for block in d.body:
        for text in (block.text, *block.items, *(r.value for r in block.rows)):
            for name in placeholders(text) if text else []:
                assert name in fields or name in PLACEHOLDERS, (code, name)
    # A definition survives storage unchanged (the store keeps it as JSON).
    assert from_json(d.to_json(), 3) == d


def test_placeholder_list_and_inputs_agree() -> None:
    assert set(PLACEHOLDERS) == set(PLACEHOLDER_INPUTS)


@pytest.mark.parametrize("code", sorted(SEED))
def test_every_seeded_type_renders_through_typst(code: str) -> None:
    d = SEED[code]
    fields = {f.name: _sample(f.kind, f.choices) for f in d.fields}
    content = _content(d, fields, addressee="Yang berkepentingan")
    texts = page_texts(render_letter(content))
    for expected in (
        "PEMERINTAH KABUPATEN SUBANG",
        d.title,
        f"Nomor: {content.number}",
        "Dadang Suhendar",
        *(r.label for b in d.body for r in b.rows),
    ):
        assert squeeze(expected) in squeeze(texts[0]), (code, expected)
    # The letter fits one page; each Dukcapil form it attaches follows on a page of its own.
    forms = [find_form(f.code, f.version) for f in d.forms]
    assert len(texts) == 1 + len(forms), f"{code}: {len(texts)} pages"
    for page, form in zip(texts[1:], forms, strict=True):
        assert form is not None
        assert squeeze(f"Kode. {form.code}") in squeeze(page), (code, form.code)
        assert squeeze(form.title) in squeeze(page), (code, form.code)
        assert squeeze(f"Lampiran surat Nomor: {content.number}") in squeeze(page)


# --- definitions that are refused ----------------------------------------------------------


def _data(code: str = "SKD") -> dict[str, object]:
    return json.loads(SEED[code].to_json())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "skd"}, "huruf besar"),
        ({"kode_klasifikasi": "470/../x"}, "bukan kode Permendagri"),
        ({"kode_klasifikasi": KODE_NOT_SET, "kode_klasifikasi_basis": ""}, "mengapa"),
        ({"online": "ya"}, "true atau false"),
        ({"surprise": 1}, "kunci tidak dikenal"),
        ({"route": {"steps": [{"role": "lurah"}], "signer": "kades"}}, "salah satu dari"),
        ({"forms": [{"code": "F-9", "name": "x", "regulation": ""}]}, "kode formulir"),
        ({"syarat": [{"code": "KTP", "name": "a"}, {"code": "KTP", "name": "b"}]}, "ganda"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(CatalogueError) as refused:
        parse({**_data(), **change}, "skd.toml")
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("body_change", "message"),
    [
        (lambda b: b[1:], "judul bernomor"),
        (lambda b: b[:-1], "tanda tangan"),
        (lambda b: [*b[:-1], b[-1], b[-1]], "tanda tangan"),
        (lambda b: [*b[:-1], {"type": "paragraph", "text": "{tidak_ada}"}, b[-1]], "tidak dikenal"),
        (lambda b: [*b[:-1], {"type": "paragraph", "text": "{surat.rahasia}"}, b[-1]], "tidak"),
        (lambda b: [*b[:-1], {"type": "paragraph", "text": BIDI}, b[-1]], "U+202E"),
        (lambda b: [*b[:-1], {"type": "paragraph", "text": "a\nb"}, b[-1]], "U+000A"),
        (lambda b: [*b[:-1], {"type": "fields", "rows": []}, b[-1]], "tanpa baris"),
        (lambda b: [*b[:-1], {"type": "heading", "text": "X", "extra": 1}, b[-1]], "kunci"),
    ],
)
def test_bad_templates_are_refused(body_change: object, message: str) -> None:
    data = _data()
    data["body"] = body_change(data["body"])  # type: ignore[operator]
    with pytest.raises(CatalogueError) as refused:
        parse(data, "skd.toml")
    assert message in str(refused.value)


def test_more_required_syarat_than_a_walk_in_carries_are_refused() -> None:
    """A walk-in sends every required scan in one message (common/rpc.py): a type asking for
    more could never be filed at the counter. Optional and bring-the-original ones are free."""

    def syarat(n: int, kind: str) -> list[dict[str, str]]:
        return [
            {"code": f"{kind.upper()}_{i}", "name": f"Berkas {i}", "kind": kind} for i in range(n)
        ]

    most = syarat(MAX_SCANS_PER_MESSAGE, "wajib")
    parse(
        {**_data(), "syarat": [*most, *syarat(3, "opsional"), *syarat(2, "bawa_asli")]}, "skd.toml"
    )
    with pytest.raises(CatalogueError) as refused:
        parse({**_data(), "syarat": syarat(MAX_SCANS_PER_MESSAGE + 1, "wajib")}, "skd.toml")
    assert str(refused.value) == (
        f"skd.toml: paling banyak {MAX_SCANS_PER_MESSAGE} syarat wajib diunggah per jenis surat "
        f"(batas pindaian sekali kirim dari loket desa), jenis ini meminta "
        f"{MAX_SCANS_PER_MESSAGE + 1}. Jadikan sebagian syarat opsional atau bawa berkas asli "
        "ke kantor."
    )


def test_a_seed_directory_with_a_duplicate_code_is_refused(tmp_path: Path) -> None:
    text = (SEED_DIR / "skd.toml").read_text()
    (tmp_path / "skd.toml").write_text(text)
    (tmp_path / "domisili.toml").write_text(text)
    with pytest.raises(CatalogueError, match="nama file"):
        load_seed(tmp_path)


# --- the block compiler --------------------------------------------------------------------


def test_text_marks() -> None:
    assert parse_text("Desa {desa.nama}: *belum {nama}* {{x}} 2**3") == (
        Text("Desa "),
        Placeholder("desa.nama"),
        Text(": "),
        Bold((Text("belum "), Placeholder("nama"))),
        Text(" {x} 2*3"),
    )


@pytest.mark.parametrize(
    "text", ["{", "}", "{ nama}", "{na-ma}", '{nama")#eval("x}', "*tebal", "**", "a **b* c", "**"]
)
def test_malformed_text_is_refused_or_literal(text: str) -> None:
    try:
        segments = parse_text(text)
    except TemplateError:
        return
    # What parses is only text and valid placeholders: "**" is a literal star.
    assert all(isinstance(s, Text) for s in segments), segments


def test_compiled_body_holds_no_typed_text_outside_string_literals() -> None:
    d = _with_paragraph(SEED["SKD"], " ".join(HOSTILE))
    source = compile_body(d, "SIGNATURE")
    for hostile in ("#set page", "#eval(", "#import", "#read(", "$x^2$"):
        # Every # of the template text sits inside a string literal: escaped or quoted.
        for line in source.splitlines():
            if hostile in line:
                assert line.count('"') >= 2, line


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_template_text_is_printed_not_run(hostile: str) -> None:
    # The template's own marks in the hostile text are doubled, as the editor writes them.
    marked = hostile.replace("*", "**").replace("{", "{{").replace("}", "}}")
    d = _with_paragraph(SEED["SKD"], f"Awal {marked} akhir")
    content = _content(d, {"nama": "Siti"}, logo=None)
    doc = build_document(content)
    pdf = typst.compile(doc.source, format="pdf", sys_inputs=doc.inputs)
    text = squeeze(" ".join(page_texts(pdf)))
    assert squeeze(f"Awal {hostile} akhir") in text
    svg = typst.compile(doc.source, format="svg", sys_inputs=doc.inputs)
    assert b'fill="#ff4136"' not in svg  # `#set page(fill: red)` did not run


@pytest.mark.parametrize("hostile", [*HOSTILE, "{desa.nama}", "*tebal*", "{{"])
def test_hostile_field_values_are_printed_not_run(hostile: str) -> None:
    d = SEED["SP"]
    content = _content(
        d,
        {"nama": hostile, "keterangan": f"isi {hostile} isi"},
        purpose=hostile,
        addressee=hostile,
        logo=None,
    )
    doc = build_document(content)
    if "#" in hostile:
        assert hostile.encode() not in doc.source  # values never enter the Typst source
    pdf = typst.compile(doc.source, format="pdf", sys_inputs=doc.inputs)
    text = squeeze(" ".join(page_texts(pdf)))
    assert squeeze(f"Nama : {hostile}") in text
    assert squeeze(f"Keterangan: isi {hostile} isi") in text
    assert squeeze(f"keperluan: {hostile}, ditujukan kepada {hostile}.") in text
    # A placeholder typed by a resident stays text: the desa's name is not put in its place.
    if hostile == "{desa.nama}":
        assert "{desa.nama}" in text


def test_lists_and_sub_headings_render() -> None:
    d = SEED["SKD"]
    extra = (
        Block("heading", text="Lampiran {desa.nama}"),
        Block("list", items=("Satu {nama}", "*Dua*"), numbered=True),
        Block("list", items=("Butir",)),
    )
    d = replace(d, body=(*d.body[:-1], *extra, d.body[-1]))
    text = squeeze(" ".join(page_texts(render_letter(_content(d, {"nama": "Siti"})))))
    for expected in ("Lampiran Pamanukan", "1. Satu Siti", "2. Dua", "• Butir"):
        assert squeeze(expected) in text, expected


@pytest.mark.parametrize("trick", UNICODE_TRICKS)
def test_unicode_tricks_change_nothing_around_them(trick: str) -> None:
    closing = "Demikian surat keterangan ini dibuat dengan sebenarnya"
    if trick != BIDI:  # a template refuses it (above); a resident's value carries it
        d = _with_paragraph(SEED["SKD"], f"Awal {trick} akhir")
        doc = build_document(_content(d, {"nama": "Siti"}, logo=None))
        text = squeeze(page_texts(typst.compile(doc.source, sys_inputs=doc.inputs))[0])
        assert "Awal" in text and "akhir" in text and squeeze(closing) in text
    doc = build_document(_content(SEED["SKD"], {"nama": trick}, purpose=trick, logo=None))
    assert trick.encode() not in doc.source
    text = squeeze(page_texts(typst.compile(doc.source, sys_inputs=doc.inputs))[0])
    assert squeeze("Yang bertanda tangan di bawah ini, Kepala Desa Pamanukan") in text
    assert squeeze(closing) in text and "Siti" not in text
