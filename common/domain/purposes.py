"""Which applications a purpose rule covers: a kecamatan rule may name purposes (keperluan)
for which a letter type goes through the kecamatan (services/verification/kecamatan.py); the
approval worker applies it when a letter starts (workflows/approval/activities.py).

The resident writes the purpose as free text, so a listed purpose matches when it appears in
the application's purpose as whole words, ignoring case, punctuation and spacing: "beasiswa"
matches "Pengajuan beasiswa sekolah" but not "beasiswanya". No listed purposes: every purpose.
"""

import re
from collections.abc import Iterable

_NOT_WORD = re.compile(r"[^0-9a-z]+")
MAX_PURPOSES = 30
MAX_PURPOSE_LENGTH = 100


def normalized(text: str) -> str:
    """Lower case, words separated by single spaces: "  Biaya-Sekolah " -> "biaya sekolah"."""
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def purpose_matches(purposes: Iterable[str], purpose: str) -> bool:
    listed = [p for p in (normalized(p) for p in purposes) if p]
    if not listed:
        return True
    padded = f" {normalized(purpose)} "
    return any(f" {p} " in padded for p in listed)


def purposes_problems(purposes: Iterable[str]) -> list[str]:
    """What is wrong with a list of purposes an operator typed (Indonesian, for staff)."""
    items = list(purposes)
    problems: list[str] = []
    if len(items) > MAX_PURPOSES:
        problems.append(f"Paling banyak {MAX_PURPOSES} keperluan.")
    for i, item in enumerate(items, start=1):
        if not normalized(item):
            problems.append(f"Keperluan {i}: tidak boleh kosong; tulis huruf atau angka.")
        elif len(item) > MAX_PURPOSE_LENGTH:
            problems.append(f"Keperluan {i}: paling banyak {MAX_PURPOSE_LENGTH} karakter.")
    if len({normalized(p) for p in items}) != len(items):
        problems.append("Keperluan tidak boleh berulang.")
    return problems
