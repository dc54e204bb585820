"""A letter type as data: what a catalogue file (TOML, one per type, docs/letter-catalogue.md)
holds, read and checked. Nothing here knows Typst or a database: `blocks.py` compiles the body,
`store.py` keeps the published versions.

A definition is checked whole before it is used or published; every refusal names the file
and the place in it, so whoever edits a type learns exactly what to fix.
"""

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from common.domain import DESA_ROLES
from common.domain.letter_text import PLACEHOLDERS as _PLACEHOLDERS
from common.rpc import MAX_SCANS_PER_MESSAGE

FieldKind = Literal["text", "date", "choice", "digits", "time"]
FieldSource = Literal["register", "resident"]
# How a field's value is printed (rendering.format_value).
FieldFormat = Literal[
    "teks", "tanggal", "hari_tanggal", "rupiah", "jenis_kelamin", "jam", "kapital"
]
SyaratKind = Literal["wajib", "opsional", "bawa_asli"]
BlockKind = Literal["heading", "paragraph", "fields", "list", "signature"]

FIELD_KINDS: tuple[str, ...] = ("text", "date", "choice", "digits", "time")
FIELD_SOURCES: tuple[str, ...] = ("register", "resident")
FIELD_FORMATS: tuple[str, ...] = (
    "teks",
    "tanggal",
    "hari_tanggal",
    "rupiah",
    "jenis_kelamin",
    "jam",
    "kapital",
)
SYARAT_KINDS: tuple[str, ...] = ("wajib", "opsional", "bawa_asli")
BLOCK_KINDS: tuple[str, ...] = ("heading", "paragraph", "fields", "list", "signature")
# Kode klasifikasi not (yet) established for a type: the desa sets its own before issuing.
KODE_NOT_SET = "belum ditetapkan"
_KODE = re.compile(r"\d{3}(\.\d{1,3}){0,4}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_FORM_CODE = re.compile(r"[FN]-\d(\.\d{2})?")
MAX_TEXT = 2000

# Placeholders a template may use besides the type's own fields (the editor offers these).
PLACEHOLDERS = _PLACEHOLDERS


class CatalogueError(ValueError):
    """A catalogue file or definition is not usable. `str(exc)` says where and why."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    source: str = "resident"  # FieldSource
    kind: str = "text"  # FieldKind
    required: bool = False
    max_length: int = 100
    choices: tuple[str, ...] = ()
    format: str = "teks"  # FieldFormat
    hint: str = ""  # how to fill it in, shown beside the field (never part of the label)


@dataclass(frozen=True)
class Syarat:
    code: str
    name: str
    description: str = ""
    kind: str = "wajib"  # SyaratKind


@dataclass(frozen=True)
class RouteStep:
    role: str
    hours: int = 8


@dataclass(frozen=True)
class Route:
    steps: tuple[RouteStep, ...]
    signer: str


@dataclass(frozen=True)
class Form:
    code: str  # F-2.01, N-1
    name: str
    regulation: str
    # The form's template version (catalogue/forms/<code>.v<version>.toml), printed as a page
    # after the letter. 0: named only, no page (the definitions before forms were generated, so
    # their letters render again byte for byte).
    version: int = 0


@dataclass(frozen=True)
class Row:
    label: str
    value: str  # template text


@dataclass(frozen=True)
class Block:
    kind: str  # BlockKind
    text: str = ""  # heading, paragraph; a fields table's heading line
    number: bool = False  # heading: print "Nomor: ..." under it
    rows: tuple[Row, ...] = ()  # fields
    items: tuple[str, ...] = ()  # list
    numbered: bool = False  # list


@dataclass(frozen=True)
class LetterTypeDef:
    code: str
    name: str
    description: str
    kode_klasifikasi: str  # a Permendagri 83/2022 code, or KODE_NOT_SET
    kode_klasifikasi_basis: str  # which class of the regulation, or why none yet
    subject: str  # perihal in the buku agenda
    default_addressee: str  # may hold {desa.nama} and {desa.kecamatan}
    online: bool
    non_residents: bool
    route: Route
    validity_days: int  # 0: no validity period
    fields: tuple[FieldSpec, ...]
    syarat: tuple[Syarat, ...]
    forms: tuple[Form, ...]
    body: tuple[Block, ...]
    # The published version (store.py); 0 for a definition read from a file and not yet stored.
    version: int = field(default=0, compare=False)
    # A desa's wording of the body (store.with_override): which desa, and its override version;
    # the kabupaten's own wording has none. Part of what a letter records.
    override_desa: str = field(default="", compare=False)
    override_version: int = field(default=0, compare=False)

    @property
    def title(self) -> str:
        """The letter's printed title: its first heading."""
        return next(b.text for b in self.body if b.kind == "heading")

    @property
    def template_version(self) -> str:
        """What a letter records of the definition it was rendered from: `SKD-v2`, or with a
        desa's wording `SKD-v2-desa-32.13.11.2004-3` (store.recorded_version reads it)."""
        base = f"{self.code}-v{self.version}"
        if self.override_desa:
            return f"{base}-desa-{self.override_desa}-{self.override_version}"
        return base

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_data(self) -> dict[str, Any]:
        """The definition in the catalogue file's shape (parse() reads it back)."""
        data = asdict(self)
        for key in ("version", "override_desa", "override_version"):
            data.pop(key)
        for form in data["forms"]:
            if not form["version"]:  # as the definitions before form versions were stored
                form.pop("version")
        data["body"] = [_block_data(b) for b in self.body]
        return data

    def to_json(self) -> str:
        """Canonical JSON of the definition (the version is not part of it)."""
        return json.dumps(self.to_data(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def _block_data(b: Block) -> dict[str, Any]:
    data: dict[str, Any] = {"type": b.kind}
    if b.kind in ("heading", "paragraph", "fields") and b.text:
        data["text"] = b.text
    if b.kind == "heading":
        data["number"] = b.number
    if b.kind == "fields":
        data["rows"] = [{"label": r.label, "value": r.value} for r in b.rows]
    if b.kind == "list":
        data["items"] = list(b.items)
        data["numbered"] = b.numbered
    return data


def _where(path: str, key: str) -> str:
    return f"{path}: {key}" if path else key


def _str(data: Mapping[str, Any], key: str, path: str, *, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise CatalogueError(f"{_where(path, key)} harus berupa teks")
    if len(value) > MAX_TEXT:
        raise CatalogueError(f"{_where(path, key)} terlalu panjang")
    return value


def _bool(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise CatalogueError(f"{_where(path, key)} harus true atau false")
    return value


def _int(data: Mapping[str, Any], key: str, path: str, default: int, lo: int, hi: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CatalogueError(f"{_where(path, key)} harus bilangan {lo}..{hi}")
    return value


def _one_of(value: str, allowed: Iterable[str], where: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise CatalogueError(f"{where} harus salah satu dari: {', '.join(allowed)}")
    return value


def _tables(data: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CatalogueError(f"{_where(path, key)} harus daftar tabel ([[{key}]])")
    return value


def _unknown_keys(data: Mapping[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(data) - known)
    if extra:
        raise CatalogueError(f"{where}: kunci tidak dikenal: {', '.join(extra)}")


def _field(data: Mapping[str, Any], where: str) -> FieldSpec:
    _unknown_keys(
        data,
        {"name", "label", "hint", "source", "kind", "required", "max_length", "choices", "format"},
        where,
    )
    name = _str(data, "name", where)
    if not _NAME.fullmatch(name):
        raise CatalogueError(f"{where}: nama isian {name!r} hanya huruf kecil, angka dan _")
    choices = data.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise CatalogueError(f"{where}: choices harus daftar teks")
    spec = FieldSpec(
        name=name,
        label=_str(data, "label", where),
        source=_one_of(_str(data, "source", where, default="resident"), FIELD_SOURCES, where),
        kind=_one_of(_str(data, "kind", where, default="text"), FIELD_KINDS, where),
        required=_bool(data, "required", where, False),
        max_length=_int(data, "max_length", where, 100, 1, 1000),
        choices=tuple(choices),
        format=_one_of(_str(data, "format", where, default="teks"), FIELD_FORMATS, where),
        hint=_str(data, "hint", where, default=""),
    )
    if (spec.kind == "choice") != bool(spec.choices):
        raise CatalogueError(f'{where}: choices diisi tepat bila kind = "choice"')
    return spec


def _block(data: Mapping[str, Any], where: str) -> Block:
    kind = _one_of(_str(data, "type", where), BLOCK_KINDS, where)
    known = {
        "heading": {"type", "text", "number"},
        "paragraph": {"type", "text"},
        "fields": {"type", "text", "rows"},
        "list": {"type", "items", "numbered"},
        "signature": {"type"},
    }[kind]
    _unknown_keys(data, known, where)
    rows: list[Row] = []
    for i, row in enumerate(_tables(data, "rows", where), start=1):
        rw = f"{where} baris {i}"
        _unknown_keys(row, {"label", "value"}, rw)
        rows.append(Row(_str(row, "label", rw), _str(row, "value", rw)))
    items = data.get("items", [])
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise CatalogueError(f"{where}: items harus daftar teks")
    block = Block(
        kind=kind,
        text=_str(data, "text", where, default=""),
        number=_bool(data, "number", where, False),
        rows=tuple(rows),
        items=tuple(items),
        numbered=_bool(data, "numbered", where, False),
    )
    if kind in ("heading", "paragraph") and not block.text.strip():
        raise CatalogueError(f"{where}: text wajib diisi")
    if kind == "fields" and not block.rows:
        raise CatalogueError(f"{where}: tabel isian tanpa baris")
    if kind == "list" and not block.items:
        raise CatalogueError(f"{where}: daftar tanpa butir")
    return block


_TOP_KEYS = {
    "code",
    "name",
    "description",
    "kode_klasifikasi",
    "kode_klasifikasi_basis",
    "subject",
    "default_addressee",
    "online",
    "non_residents",
    "validity_days",
    "route",
    "fields",
    "syarat",
    "forms",
    "body",
}


def parse(data: Mapping[str, Any], path: str = "") -> LetterTypeDef:
    """A definition from parsed TOML (or the same shape as JSON), checked whole."""
    from services.signing.catalogue.blocks import check_template  # the compiler's own rules

    _unknown_keys(data, _TOP_KEYS, path or "definisi")
    code = _str(data, "code", path)
    if not _CODE.fullmatch(code):
        raise CatalogueError(f"{_where(path, 'code')}: {code!r} harus huruf besar/angka, maks. 16")
    kode = _str(data, "kode_klasifikasi", path)
    if kode != KODE_NOT_SET and not _KODE.fullmatch(kode):
        raise CatalogueError(
            f"{_where(path, 'kode_klasifikasi')}: {kode!r} bukan kode Permendagri 83/2022 "
            f"(contoh 400.12.2) atau {KODE_NOT_SET!r}"
        )
    route_data = data.get("route")
    if not isinstance(route_data, dict):
        raise CatalogueError(f"{_where(path, 'route')} wajib ada ([route])")
    _unknown_keys(route_data, {"steps", "signer"}, _where(path, "route"))
    steps = []
    for i, step in enumerate(_tables(route_data, "steps", _where(path, "route")), start=1):
        sw = _where(path, f"route langkah {i}")
        _unknown_keys(step, {"role", "hours"}, sw)
        steps.append(
            RouteStep(
                _one_of(_str(step, "role", sw), DESA_ROLES, sw),
                _int(step, "hours", sw, 8, 1, 160),
            )
        )
    if not steps:
        raise CatalogueError(f"{_where(path, 'route')}: tanpa langkah")
    route = Route(
        tuple(steps),
        _one_of(_str(route_data, "signer", _where(path, "route")), DESA_ROLES, path or "route"),
    )
    fields = tuple(
        _field(f, _where(path, f"fields {i}"))
        for i, f in enumerate(_tables(data, "fields", path), 1)
    )
    syarat = []
    for i, s in enumerate(_tables(data, "syarat", path), start=1):
        w = _where(path, f"syarat {i}")
        _unknown_keys(s, {"code", "name", "description", "kind"}, w)
        syarat.append(
            Syarat(
                code=_str(s, "code", w),
                name=_str(s, "name", w),
                description=_str(s, "description", w, default=""),
                kind=_one_of(_str(s, "kind", w, default="wajib"), SYARAT_KINDS, w),
            )
        )
    forms = []
    for i, f in enumerate(_tables(data, "forms", path), start=1):
        w = _where(path, f"forms {i}")
        _unknown_keys(f, {"code", "name", "regulation", "version"}, w)
        form = Form(
            _str(f, "code", w),
            _str(f, "name", w),
            _str(f, "regulation", w),
            _int(f, "version", w, 0, 0, 999),
        )
        if not _FORM_CODE.fullmatch(form.code) or not form.regulation.strip():
            raise CatalogueError(f"{w}: kode formulir (F-1.01, N-1) dan regulasinya wajib")
        if form.version:
            _check_form(form, w)
        forms.append(form)
    body = tuple(
        _block(b, _where(path, f"body {i}")) for i, b in enumerate(_tables(data, "body", path), 1)
    )
    definition = LetterTypeDef(
        code=code,
        name=_str(data, "name", path),
        description=_str(data, "description", path),
        kode_klasifikasi=kode,
        kode_klasifikasi_basis=_str(data, "kode_klasifikasi_basis", path),
        subject=_str(data, "subject", path),
        default_addressee=_str(data, "default_addressee", path, default="Yang berkepentingan"),
        online=_bool(data, "online", path, True),
        non_residents=_bool(data, "non_residents", path, False),
        route=route,
        validity_days=_int(data, "validity_days", path, 0, 0, 3660),
        fields=fields,
        syarat=tuple(syarat),
        forms=tuple(forms),
        body=body,
    )
    _check_whole(definition, path)
    check_template(definition, path)
    return definition


def _check_form(form: Form, where: str) -> None:
    """A generated form must exist in the form library, under the name and regulation the type
    says (so the catalogue lists what is printed)."""
    from services.signing.catalogue.forms import find_form

    found = find_form(form.code, form.version)
    if found is None:
        raise CatalogueError(f"{where}: formulir {form.code} versi {form.version} tidak ada")
    if (found.name, found.regulation) != (form.name, form.regulation):
        raise CatalogueError(
            f"{where}: nama dan regulasi formulir {form.code} harus sama dengan berkas "
            f"formulirnya ({found.name}; {found.regulation})"
        )


def _check_whole(d: LetterTypeDef, path: str) -> None:
    for what, names in (
        ("isian", [f.name for f in d.fields]),
        ("syarat", [s.code for s in d.syarat]),
        ("formulir", [f.code for f in d.forms]),
    ):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise CatalogueError(f"{path or d.code}: {what} ganda: {', '.join(twice)}")
    required = sum(1 for s in d.syarat if s.kind == "wajib")
    if required > MAX_SCANS_PER_MESSAGE:
        # A walk-in sends every required scan in one message (common/rpc.py): a type asking
        # for more could never be filed at the counter.
        raise CatalogueError(
            f"{path or d.code}: paling banyak {MAX_SCANS_PER_MESSAGE} syarat wajib diunggah per "
            f"jenis surat (batas pindaian sekali kirim dari loket desa), jenis ini meminta "
            f"{required}. Jadikan sebagian syarat opsional atau bawa berkas asli ke kantor."
        )
    if not d.name.strip() or not d.subject.strip():
        raise CatalogueError(f"{path or d.code}: name dan subject wajib diisi")
    if d.kode_klasifikasi == KODE_NOT_SET and not d.kode_klasifikasi_basis.strip():
        raise CatalogueError(f"{path or d.code}: sebutkan mengapa kode klasifikasi belum ada")


def load_file(path: Path) -> LetterTypeDef:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path.name}: bukan TOML yang sah: {exc}") from exc
    definition = parse(data, path.name)
    if path.stem.upper() != definition.code:
        raise CatalogueError(f"{path.name}: nama file harus kode jenis surat ({definition.code})")
    return definition


SEED_DIR = Path(__file__).parent / "seed"


def load_seed(directory: Path = SEED_DIR) -> dict[str, LetterTypeDef]:
    """Every seed file of the repository's catalogue, by code (codes unique)."""
    out: dict[str, LetterTypeDef] = {}
    for path in sorted(directory.glob("*.toml")):
        d = load_file(path)
        if d.code in out:
            raise CatalogueError(f"{path.name}: kode {d.code} sudah dipakai")
        out[d.code] = d
    return out


def from_json(text: str, version: int) -> LetterTypeDef:
    """A stored definition (store.py) back; checked again, as on the way in."""
    d = parse(json.loads(text), "")
    return LetterTypeDef(**{**d.__dict__, "version": version})


def parse_body(data: Any, path: str = "body") -> tuple[Block, ...]:
    """The body blocks of a desa's override ({"body": [...]}), each checked as in a file; the
    whole is checked against its type by `with_body`."""
    if not isinstance(data, dict):
        raise CatalogueError("definisi harus objek JSON")
    _unknown_keys(data, {"body"}, path)
    return tuple(
        _block(b, _where(path, f"blok {i}")) for i, b in enumerate(_tables(data, "body", ""), 1)
    )


def body_json(body: Iterable[Block]) -> str:
    """Canonical JSON of body blocks ({"body": [...]}), as an override is stored."""
    data = {"body": [_block_data(b) for b in body]}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def with_body(d: LetterTypeDef, body: tuple[Block, ...], desa: str, version: int) -> LetterTypeDef:
    """`d` with a desa's wording of its body, checked as a whole type (placeholders of its
    fields, the numbered title first, the one signature block last)."""
    from services.signing.catalogue.blocks import check_template

    combined = replace(d, body=body, override_desa=desa, override_version=version)
    check_template(combined, "")
    return combined
