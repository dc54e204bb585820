"""Kemendagri area codes of the desa we know (Kepmendagri 300.2.2-2138/2025, via the
MIT-licensed cahyadsn/wilayah data; see common/data/subang-pantura-desa.csv)."""

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Desa:
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    kabupaten_code: str
    kabupaten: str


@cache
def all_desa() -> dict[str, Desa]:
    text = resources.files("common").joinpath("data/subang-pantura-desa.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        r["kode_desa"]: Desa(
            code=r["kode_desa"],
            name=r["desa"],
            kecamatan_code=r["kode_kecamatan"],
            kecamatan=r["kecamatan"],
            kabupaten_code=r["kode_kabupaten"],
            kabupaten=r["kabupaten"],
        )
        for r in rows
    }


def find_desa(code: str) -> Desa | None:
    return all_desa().get(code)
