"""Kemendagri area codes of Kabupaten Subang (Kepmendagri 300.2.2-2138/2025, via the
MIT-licensed cahyadsn/wilayah data; common/data/README.md says where from).

Every desa and kelurahan of the kabupaten is known here; which of them the service serves is
data (verification's desa switch, services/verification/onboarding.py). The desa served before
that switch existed, `pilot_codes()`, start switched on."""

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

WILAYAH_FILE = "data/subang-wilayah.csv"
PILOT_FILE = "data/subang-pantura-desa.csv"


@dataclass(frozen=True)
class Desa:
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    kabupaten_code: str
    kabupaten: str
    kelurahan: bool = False  # a kelurahan (code 1xxx) rather than a desa (2xxx)


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("common").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def all_desa() -> dict[str, Desa]:
    """Every desa and kelurahan of the kabupaten, by code."""
    return {
        r["kode_desa"]: Desa(
            code=r["kode_desa"],
            name=r["desa"],
            kecamatan_code=r["kode_kecamatan"],
            kecamatan=r["kecamatan"],
            kabupaten_code=r["kode_kabupaten"],
            kabupaten=r["kabupaten"],
            kelurahan=r.get("jenis") == "kelurahan",
        )
        for r in _rows(WILAYAH_FILE)
    }


@cache
def pilot_codes() -> frozenset[str]:
    """The desa served before onboarding was data: switched on until an operator says not."""
    return frozenset(r["kode_desa"] for r in _rows(PILOT_FILE))


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
