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


@dataclass(frozen=True)
class Kecamatan:
    code: str
    name: str
    desa: tuple[Desa, ...]  # by name


def by_kecamatan(first: str = "") -> list[Kecamatan]:
    """Every desa we know, grouped by kecamatan: the kecamatan `first` (a kecamatan code, the
    resident's own) at the top, then the others by name. A picker starting there spares a
    resident scrolling a flat list of every desa of the kabupaten."""
    groups: dict[str, list[Desa]] = {}
    for d in all_desa().values():
        groups.setdefault(d.kecamatan_code, []).append(d)
    kecamatan = [
        Kecamatan(code, members[0].kecamatan, tuple(sorted(members, key=lambda d: d.name)))
        for code, members in groups.items()
    ]
    return sorted(kecamatan, key=lambda k: (k.code != first, k.name))
