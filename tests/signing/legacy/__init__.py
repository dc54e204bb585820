"""The letters as signing rendered them before the catalogue (Python letter types and a Jinja2
template each, as of main at 8cb4246), kept only to prove that the catalogue's seed files
produce the same letters (tests/signing/test_catalogue_render.py)."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from common.wib import WIB, indonesian_date
from services.signing.rendering import (
    MISSING,
    LetterContent,
    TypstDocument,
    _address,
    _birth,
    _date_value,
    rupiah,
    typst_str,
)
from tests.signing.legacy.letter_types import LETTER_TYPES, LetterType

_SEX = {"L": "Laki-laki", "P": "Perempuan", "LAKI-LAKI": "Laki-laki", "PEREMPUAN": "Perempuan"}
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701
    keep_trailing_newline=True,
)
_env.filters["typst_str"] = typst_str

__all__ = ["LETTER_TYPES", "legacy_document"]


def _value(key: str, fields: Mapping[str, str], nik: str) -> str:
    if key == "nik":
        return nik or MISSING
    if key == "tempat_tanggal_lahir":
        return _birth(fields)
    if key == "alamat":
        return _address(fields)
    value = fields.get(key, "").strip()
    if not value:
        return MISSING
    if key in ("jenis_kelamin", "jenis_kelamin_anak", "jenis_kelamin_almarhum"):
        return _SEX.get(value.upper(), value)
    if key in ("tanggal_lahir_anak", "tanggal_meninggal"):
        return _date_value(value, with_day=True)
    if key == "penghasilan" and value.isascii() and value.isdigit():
        return rupiah(value)
    if key == "jam_lahir":
        return f"{value} WIB"
    if key == "status_perkawinan":
        return value.title()
    return value


def legacy_document(lt: LetterType, content: LetterContent) -> TypstDocument:
    index = 0
    sections: list[dict[str, Any]] = []
    for section in lt.sections:
        rows = []
        for row in section.rows:
            rows.append((index, row.label))
            index += 1
        sections.append({"heading": section.heading, "rows": rows})
    source = _env.get_template(lt.template).render(
        title=lt.title,
        sections=sections,
        paper=content.paper,
        preview=content.preview,
        has_logo=content.logo is not None,
        signs_on_behalf=content.signs_on_behalf,
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
        "purpose": content.purpose.strip() or MISSING,
        "addressee": content.addressee.strip() or MISSING,
        "place": content.desa,
        "date": indonesian_date(content.letter_date.astimezone(WIB).date()),
        "verification_url": content.verification_url,
        "logo": f"/{content.logo.name}" if content.logo is not None else "",
    }
    for i, row in enumerate(lt.rows):
        inputs[f"row_{i}"] = _value(row.key, content.fields, content.nik)
    for key in content.fields:
        inputs[f"v_{key}"] = _value(key, content.fields, content.nik)
    inputs.setdefault("v_keterangan", MISSING)
    root = content.logo.parent if content.logo is not None else None
    return TypstDocument(source.encode(), inputs, root)
