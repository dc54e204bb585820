"""The letter catalogue's editor as the staff client uses it (docs/letter-catalogue.md#the-editor):
the kabupaten operator edits whole letter types, a desa's administrator the wording of a type's
body blocks for their desa. Signing keeps the drafts, checks them, renders their previews and
publishes them (CatalogueService); this module turns the editor's form into the catalogue's
shape (the same JSON as a seed file) and signing's answers into domain errors. Who may do what
is decided by the pages' dependencies.

The form works without script: every list (fields, syarat, route steps, blocks, rows) is a run
of numbered inputs with one empty row to add another, and the buttons that add, move or remove
a block, or put a placeholder at the end of a text, are submit buttons (`aksi`). The draft is
saved on every such post, as typed, so nothing is lost; its problems are shown beside it.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from smartdesa.v1 import catalogue_pb2
from starlette.datastructures import FormData

from common.domain import DESA_ROLES, ROLE_LABELS
from common.domain.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from common.domain.letter_text import PLACEHOLDERS, token
from services.verification.runtime import Runtime

log = logging.getLogger(__name__)

BLOCK_LABELS = {
    "heading": "Judul",
    "paragraph": "Paragraf",
    "fields": "Tabel isian",
    "list": "Daftar",
    "signature": "Blok tanda tangan",
}
# Blocks the editor adds (the numbered title and the signature block come with every type).
NEW_BLOCKS = ("paragraph", "fields", "list", "heading")
FIELD_KINDS = {
    "text": "Teks",
    "date": "Tanggal",
    "choice": "Pilihan",
    "digits": "Angka",
    "time": "Jam (JJ:MM)",
}
FIELD_SOURCES = {"resident": "Diisi pemohon", "register": "Dari data penduduk (register)"}
FIELD_FORMATS = {
    "teks": "Seperti diisi",
    "tanggal": "Tanggal (17 Mei 1990)",
    "hari_tanggal": "Hari dan tanggal",
    "rupiah": "Rupiah",
    "jenis_kelamin": "Jenis kelamin (L/P)",
    "jam": "Jam (08:30 WIB)",
    "kapital": "Huruf Awal Besar",
}
SYARAT_KINDS = {
    "wajib": "Wajib diunggah",
    "opsional": "Opsional",
    "bawa_asli": "Bawa berkas asli ke kantor",
}
_NEW_BLOCK: dict[str, dict[str, Any]] = {
    "paragraph": {"type": "paragraph", "text": ""},
    "heading": {"type": "heading", "text": "", "number": False},
    "list": {"type": "list", "items": [], "numbered": False},
    "fields": {"type": "fields", "rows": []},
}
ROUTE_ROLES = [(r, ROLE_LABELS.get(r, r)) for r in DESA_ROLES]
MAX_ROWS = 60  # of any list in the form: more is not a letter type, it is an attack
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
_AKSI = re.compile(r"(hapus|naik|turun)-blok-(\d{1,2})")
KODE_NOT_SET = "belum ditetapkan"


class DraftRefused(Invalid):
    """Signing refused to preview or publish the draft; `message` says why (Indonesian)."""

    def __init__(self, message: str) -> None:
        super().__init__("draft-refused", message)


def _failed(exc: grpc.aio.AioRpcError, what: str) -> DomainError:
    detail = exc.details() or ""
    if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return DraftRefused(detail)
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound("no-letter-type", "Jenis surat itu tidak ada dalam katalog.")
    if exc.code() == grpc.StatusCode.ABORTED:
        return Conflict("published-meanwhile", detail)
    log.warning("signing refused %s: %s", what, exc.code())
    return Unavailable(
        "signing-unavailable", "Layanan surat sedang tidak dapat dihubungi. Silakan coba lagi."
    )


def valid_code(code: str) -> bool:
    return bool(_CODE.fullmatch(code))


# --- the form ----------------------------------------------------------------------------------


def _text(form: FormData, name: str, limit: int = 2000) -> str:
    # Line breaks become spaces: template text is one line (signing refuses control characters,
    # and a browser sends a textarea's line breaks as CR LF).
    return " ".join(str(form.get(name) or "").replace("\r", "").split("\n")).strip()[:limit]


def _lines(form: FormData, name: str) -> list[str]:
    raw = str(form.get(name) or "").replace("\r", "")
    return [line.strip() for line in raw.split("\n") if line.strip()][:MAX_ROWS]


def _int_or_text(value: str, default: int) -> int | str:
    value = value.strip()
    if not value:
        return default
    return int(value) if value.isdigit() and len(value) < 6 else value  # signing says why


def _block_of_form(form: FormData, i: int) -> dict[str, Any]:
    kind = str(form.get(f"blok-{i}-jenis") or "")
    p = f"blok-{i}"
    if kind == "signature":
        return {"type": "signature"}
    if kind == "heading":
        return {"type": kind, "text": _text(form, f"{p}-teks"), "number": i == 0}
    if kind == "paragraph":
        return {"type": kind, "text": _text(form, f"{p}-teks")}
    if kind == "list":
        return {
            "type": kind,
            "items": _lines(form, f"{p}-butir"),
            "numbered": form.get(f"{p}-bernomor") == "1",
        }
    rows = []
    for j in range(MAX_ROWS):
        if form.get(f"{p}-baris-{j}-label") is None:
            break
        label, value = _text(form, f"{p}-baris-{j}-label"), _text(form, f"{p}-baris-{j}-nilai")
        if label or value:
            rows.append({"label": label, "value": value})
    block: dict[str, Any] = {"type": "fields", "rows": rows}
    if _text(form, f"{p}-teks"):
        block["text"] = _text(form, f"{p}-teks")
    return block


def body_of_form(form: FormData) -> list[dict[str, Any]]:
    """The body blocks as the form sent them, in order; unknown kinds are dropped."""
    body = []
    for i in range(MAX_ROWS):
        kind = form.get(f"blok-{i}-jenis")
        if kind is None:
            break
        if str(kind) in BLOCK_LABELS:
            body.append(_block_of_form(form, i))
    return body


def _fields_of_form(form: FormData) -> list[dict[str, Any]]:
    out = []
    for i in range(MAX_ROWS):
        p = f"isian-{i}"
        if form.get(f"{p}-nama") is None:
            break
        name = _text(form, f"{p}-nama", 40)
        if not name or form.get(f"{p}-hapus") == "1":
            continue
        kind = str(form.get(f"{p}-jenis") or "text")
        f: dict[str, Any] = {
            "name": name,
            "label": _text(form, f"{p}-label"),
            "hint": _text(form, f"{p}-petunjuk"),
            "source": str(form.get(f"{p}-sumber") or "resident"),
            "kind": kind,
            "required": form.get(f"{p}-wajib") == "1",
            "max_length": _int_or_text(str(form.get(f"{p}-panjang") or ""), 100),
            "format": str(form.get(f"{p}-format") or "teks"),
        }
        choices = _lines(form, f"{p}-pilihan")
        if kind == "choice" or choices:
            f["choices"] = choices
        out.append(f)
    return out


def _syarat_of_form(form: FormData) -> list[dict[str, Any]]:
    out = []
    for i in range(MAX_ROWS):
        p = f"syarat-{i}"
        if form.get(f"{p}-kode") is None:
            break
        code = _text(form, f"{p}-kode", 40)
        if not code or form.get(f"{p}-hapus") == "1":
            continue
        out.append(
            {
                "code": code,
                "name": _text(form, f"{p}-nama"),
                "description": _text(form, f"{p}-keterangan"),
                "kind": str(form.get(f"{p}-jenis") or "wajib"),
            }
        )
    return out


def _route_of_form(form: FormData) -> dict[str, Any]:
    steps = []
    for i in range(MAX_ROWS):
        role = form.get(f"langkah-{i}-peran")
        if role is None:
            break
        if str(role):
            steps.append(
                {
                    "role": str(role),
                    "hours": _int_or_text(str(form.get(f"langkah-{i}-jam") or ""), 8),
                }
            )
    return {"steps": steps, "signer": str(form.get("penanda_tangan") or "")}


def definition_of_form(form: FormData, code: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """The whole type as the form sent it, in the catalogue file's shape. What the form does not
    edit (the Dukcapil forms attached) is kept from `base`, the draft or version it edits."""
    data: dict[str, Any] = {
        "code": code,
        "name": _text(form, "nama"),
        "description": _text(form, "deskripsi"),
        "kode_klasifikasi": _text(form, "kode_klasifikasi", 40),
        "kode_klasifikasi_basis": _text(form, "dasar_kode"),
        "subject": _text(form, "perihal"),
        "default_addressee": _text(form, "tujuan_bawaan") or "Yang berkepentingan",
        "online": form.get("daring") == "1",
        "non_residents": form.get("bukan_warga") == "1",
        "validity_days": _int_or_text(str(form.get("masa_berlaku") or ""), 0),
        "route": _route_of_form(form),
        "fields": _fields_of_form(form),
        "syarat": _syarat_of_form(form),
        "body": body_of_form(form),
    }
    if base.get("forms"):
        data["forms"] = base["forms"]
    return data


def apply_action(body: list[dict[str, Any]], form: FormData) -> str | None:
    """Does what the pressed button asks to the body (in place); None when it asks for nothing
    of the body. Returns the anchor to show again (the block acted on)."""
    aksi = str(form.get("aksi") or "")
    if aksi == "tambah-blok":
        kind = str(form.get("blok_baru") or "paragraph")
        new = json.loads(json.dumps(_NEW_BLOCK.get(kind, _NEW_BLOCK["paragraph"])))
        at = len(body) - 1 if body and body[-1]["type"] == "signature" else len(body)
        body.insert(at, new)
        return f"blok-{at}"
    if aksi == "sisipkan":
        name, target = str(form.get("sisip_isian") or ""), str(form.get("sisip_ke") or "")
        match = re.fullmatch(r"blok-(\d{1,2})", target)
        if not name or match is None or int(match[1]) >= len(body):
            return None
        block = body[int(match[1])]
        if block["type"] in ("heading", "paragraph"):
            block["text"] = f"{block.get('text', '')} {token(name)}".strip()
        elif block["type"] == "list":
            block["items"] = [*block["items"], token(name)]
        elif block["type"] == "fields":
            block["rows"] = [*block["rows"], {"label": "", "value": token(name)}]
        return target
    match = _AKSI.fullmatch(aksi)
    if match is None:
        return None
    what, i = match[1], int(match[2])
    # The numbered title (first) and the signature block (last) stay where they are.
    movable = (
        range(1, len(body) - 1) if body and body[-1]["type"] == "signature" else range(1, len(body))
    )
    if i not in movable:
        return None
    if what == "hapus":
        del body[i]
        return f"blok-{max(i - 1, 0)}"
    j = i - 1 if what == "naik" else i + 1
    if j in movable:
        body[i], body[j] = body[j], body[i]
        return f"blok-{j}"
    return f"blok-{i}"


def skeleton(code: str) -> dict[str, Any]:
    """A new type's first draft: the blocks every letter has, and nothing else."""
    return {
        "code": code,
        "name": "",
        "description": "",
        "kode_klasifikasi": KODE_NOT_SET,
        "kode_klasifikasi_basis": "",
        "subject": "",
        "default_addressee": "Yang berkepentingan",
        "online": False,
        "non_residents": False,
        "validity_days": 0,
        "route": {
            "steps": [{"role": "sekdes", "hours": 8}, {"role": "kades", "hours": 8}],
            "signer": "kades",
        },
        "fields": [
            {"name": "nama", "label": "Nama lengkap", "source": "register", "required": True}
        ],
        "syarat": [],
        "body": [
            {"type": "heading", "text": "SURAT KETERANGAN", "number": True},
            {
                "type": "paragraph",
                "text": "Yang bertanda tangan di bawah ini, {surat.pejabat} {desa.nama}, "
                "menerangkan bahwa:",
            },
            {"type": "fields", "rows": [{"label": "Nama", "value": "{nama}"}]},
            {"type": "signature"},
        ],
    }


def placeholder_options(data: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The placeholders a template of this type may hold, grouped, each (name, what it prints):
    the type's own fields, then the register's, the desa profile's and the letter's."""
    fields = [
        (str(f.get("name")), str(f.get("label") or f.get("name")))
        for f in data.get("fields", [])
        if isinstance(f, dict) and f.get("name")
    ]
    groups: dict[str, list[tuple[str, str]]] = {"penduduk": [], "desa": [], "surat": []}
    for name, what in PLACEHOLDERS.items():
        groups[name.split(".", 1)[0]].append((name, what))
    return [
        ("Isian jenis surat ini", fields),
        ("Data penduduk", groups["penduduk"]),
        ("Profil desa", groups["desa"]),
        ("Surat", groups["surat"]),
    ]


# --- signing ------------------------------------------------------------------------------------


def _key(code: str, desa_code: str = "") -> catalogue_pb2.LetterTypeDraftKey:
    return catalogue_pb2.LetterTypeDraftKey(code=code, desa_code=desa_code)


def _when(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


@dataclass
class Draft:
    data: dict[str, Any]  # what the editor shows: the draft, else the published wording
    saved: bool  # a draft is kept (not yet published)
    problem: str = ""
    saved_by: str = ""
    saved_at: datetime | None = None


@dataclass
class Version:
    version: int
    published_by: str
    published_at: datetime | None
    body: str = ""  # overrides: "" is the kabupaten's wording
    base_version: int = 0  # overrides: the kabupaten version it was written against


@dataclass
class TypeSummary:
    code: str
    name: str
    version: int
    published_by: str
    published_at: datetime | None
    online: bool
    draft: bool = False


@dataclass(frozen=True)
class Wording:
    """A desa's current own wording of one type, as its wording list shows it."""

    version: int
    base_version: int  # the kabupaten version it was written against
    fits: bool  # False: letters use the kabupaten's wording until it is redone
    published_by: str


@dataclass
class Catalogue:
    runtime: Runtime
    _timeout: float = field(init=False)

    def __post_init__(self) -> None:
        self._timeout = self.runtime.settings.signing_timeout_seconds

    async def list_types(self) -> list[TypeSummary]:
        try:
            listed = await self.runtime.catalogue_stub.ListLetterTypes(
                catalogue_pb2.ListCatalogueRequest(), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "the catalogue") from exc
        return [
            TypeSummary(
                t.code,
                t.name,
                t.version,
                t.published_by,
                _when(t, "published_at"),
                t.online,
            )
            for t in listed.letter_types
        ]

    async def current(self, code: str) -> catalogue_pb2.LetterTypeDefinition | None:
        try:
            found: catalogue_pb2.LetterTypeDefinition = (
                await self.runtime.catalogue_stub.GetLetterType(
                    catalogue_pb2.GetLetterTypeRequest(code=code), timeout=self._timeout
                )
            )
            return found
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _failed(exc, "a letter type") from exc

    async def draft(self, code: str, desa_code: str = "") -> catalogue_pb2.LetterTypeDraft:
        try:
            draft: catalogue_pb2.LetterTypeDraft = (
                await self.runtime.catalogue_stub.GetLetterTypeDraft(
                    _key(code, desa_code), timeout=self._timeout
                )
            )
            return draft
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "a draft") from exc

    async def save(
        self, code: str, data: Mapping[str, Any] | None, by: str, desa_code: str = ""
    ) -> Draft:
        text = json.dumps(data, ensure_ascii=False) if data is not None else ""
        try:
            saved = await self.runtime.catalogue_stub.SaveLetterTypeDraft(
                catalogue_pb2.SaveLetterTypeDraftRequest(
                    key=_key(code, desa_code), draft_json=text, saved_by=by
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "saving a draft") from exc
        return Draft(
            dict(data or {}), bool(saved.draft_json), saved.problem, saved.saved_by,
            _when(saved, "saved_at"),
        )  # fmt: skip

    async def preview(self, code: str, draft_json: str, desa_code: str = "") -> bytes:
        try:
            shown = await self.runtime.catalogue_stub.PreviewLetterType(
                catalogue_pb2.PreviewLetterTypeRequest(
                    key=_key(code, desa_code), draft_json=draft_json
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "a preview") from exc
        return bytes(shown.png)

    async def publish(self, data: Mapping[str, Any], by: str) -> tuple[int, bool]:
        """(the current version, whether publishing made it)."""
        try:
            published = await self.runtime.catalogue_stub.PublishLetterType(
                catalogue_pb2.PublishLetterTypeRequest(
                    definition_json=json.dumps(data, ensure_ascii=False), published_by=by
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "publishing a letter type") from exc
        await self.save(str(data["code"]), None, by)  # the draft is now the version
        if published.created:  # this process's names, routes and offers show it at once
            self.runtime.catalogue.forget_current()
        return int(published.letter_type.version), bool(published.created)

    async def versions(self, code: str) -> list[Version]:
        try:
            listed = await self.runtime.catalogue_stub.ListLetterTypeVersions(
                catalogue_pb2.ListLetterTypeVersionsRequest(code=code), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "versions") from exc
        return [
            Version(v.version, v.published_by, _when(v, "published_at")) for v in listed.versions
        ]

    async def overrides(self, code: str, desa_code: str) -> list[Version]:
        try:
            listed = await self.runtime.catalogue_stub.ListDesaOverrides(
                catalogue_pb2.ListDesaOverridesRequest(key=_key(code, desa_code)),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "overrides") from exc
        return [
            Version(
                o.version, o.published_by, _when(o, "published_at"), o.body_json, o.base_version
            )
            for o in listed.history
        ]

    async def wordings(self, desa_code: str) -> dict[str, Wording]:
        """The desa's own wording of each type that has one, by code (the wording list)."""
        try:
            listed = await self.runtime.catalogue_stub.ListDesaWordings(
                catalogue_pb2.ListDesaWordingsRequest(desa_code=desa_code), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "the desa's wordings") from exc
        return {
            w.key.code: Wording(w.version, w.base_version, w.fits_current, w.published_by)
            for w in listed.wordings
        }

    async def publish_override(
        self, code: str, desa_code: str, body: list[dict[str, Any]] | None, by: str
    ) -> int:
        text = json.dumps({"body": body}, ensure_ascii=False) if body is not None else ""
        try:
            published = await self.runtime.catalogue_stub.PublishDesaOverride(
                catalogue_pb2.PublishDesaOverrideRequest(
                    key=_key(code, desa_code), body_json=text, published_by=by
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc, "publishing an override") from exc
        return int(published.version)


async def type_draft(catalogue: Catalogue, code: str) -> Draft | None:
    """What the kabupaten's editor shows for `code`: its draft, else its current version (None:
    neither exists)."""
    saved = await catalogue.draft(code)
    if saved.draft_json:
        return Draft(
            json.loads(saved.draft_json), True, saved.problem, saved.saved_by,
            _when(saved, "saved_at"),
        )  # fmt: skip
    current = await catalogue.current(code)
    if current is None:
        return None
    return Draft(json.loads(current.definition_json), False)


async def override_draft(catalogue: Catalogue, code: str, desa_code: str) -> Draft | None:
    """What a desa's editor shows: its draft, else its current wording, else the kabupaten's
    (None: no such type)."""
    current = await catalogue.current(code)
    if current is None:
        return None
    saved = await catalogue.draft(code, desa_code)
    if saved.draft_json:
        data = json.loads(saved.draft_json)
        return Draft(data, True, saved.problem, saved.saved_by, _when(saved, "saved_at"))
    history = await catalogue.overrides(code, desa_code)
    if history and history[0].body:
        return Draft(json.loads(history[0].body), False)
    return Draft({"body": json.loads(current.definition_json)["body"]}, False)
