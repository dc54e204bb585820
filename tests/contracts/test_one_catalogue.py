"""One catalogue of letter types (issue 16 item 1): signing's `services/signing/catalogue/`
defines them, and every other service reads them through gRPC CatalogueService
(services/intake/catalogue.py, services/verification/catalogue.py). This replaces the tests
that kept intake's and verification's own lists equal to the catalogue: there are no such
lists any more, and these fail if one comes back.

What counts as "defining letter types": spelling a type's name (names come from the
catalogue), listing three or more type codes in one literal (a list of types), or importing
signing's catalogue code instead of asking its service."""

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from services.signing.catalogue.definition import load_seed

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SEED = load_seed()
NAMES = {d.name for d in SEED.values()} | {d.title for d in SEED.values()}
CODES = set(SEED)
# Code outside signing that reads letter types: it must not define them.
READERS = (
    "services/intake",
    "services/verification",
    "services/notification",
    "workflows",
    "common",
)
# Signing's own code outside the catalogue reads it from the store, too.
SIGNING = "services/signing"
CATALOGUE = "services/signing/catalogue"


def _sources(*roots: str) -> Iterator[Path]:
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "migrations" not in path.parts and not path.is_relative_to(ROOT / CATALOGUE):
                yield path


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def _code_lists(tree: ast.AST) -> Iterator[ast.AST]:
    """Literals (dict keys, sets, lists, tuples) holding three or more letter type codes."""
    for node in ast.walk(tree):
        items: list[ast.expr | None] = []
        if isinstance(node, ast.Dict):
            items = list(node.keys)
        elif isinstance(node, ast.Set | ast.List | ast.Tuple):
            items = list(node.elts)
        codes = {i.value for i in items if isinstance(i, ast.Constant) and i.value in CODES}
        if len(codes) >= 3:
            yield node


@cache  # each file is parsed once for all the checks
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("root", (*READERS, SIGNING))
def test_no_code_outside_the_catalogue_spells_a_letter_types_name(root: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path in _sources(root)
        for node in _strings(_tree(path))
        if node.value in NAMES
    ]
    assert not found, "letter type names belong to the catalogue: " + ", ".join(found)


@pytest.mark.parametrize("root", (*READERS, SIGNING))
def test_no_code_outside_the_catalogue_lists_letter_types(root: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        for path in _sources(root)
        for node in _code_lists(_tree(path))
    ]
    assert not found, "lists of letter types belong to the catalogue: " + ", ".join(found)


@pytest.mark.parametrize("root", READERS)
def test_readers_ask_catalogue_service_rather_than_import_signing(root: str) -> None:
    found = []
    for path in _sources(root):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "services.signing"
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, "read the catalogue through CatalogueService: " + ", ".join(found)


def test_the_checks_would_see_a_list_of_types() -> None:
    """The detectors themselves: a list like the ones removed is found."""
    removed = ast.parse('NAMES = {"SKD": "Surat Keterangan Domisili", "SKU": "x", "SP": "y"}')
    assert len(list(_code_lists(removed))) == 1
    assert [n.value for n in _strings(removed) if n.value in NAMES] == ["Surat Keterangan Domisili"]
