"""Reading the documentation as the tests need it: which Markdown pages there are, their fenced
blocks and their code spans."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Every Markdown page a person reads: the README, docs/, deploy/, the examples.
PAGES = sorted(
    [ROOT / "README.md", *DOCS.glob("*.md"), *ROOT.glob("deploy/**/*.md")]
    + list(ROOT.glob("examples/**/*.md"))
)

_FENCE = re.compile(r"^(```+|~~~+)\s*([\w-]*)")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the first line inside the fence, 1-based
    tag: str
    lines: tuple[str, ...]


def fenced_blocks(page: Path) -> Iterator[Block]:
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, tag = opening.groups()
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        yield Block(page, i + 2, tag, tuple(lines[i + 1 : end]))
        i = end + 1


_SPAN = re.compile(r"(`+)(.+?)\1")


def inline_code(page: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every code span outside fenced blocks. A span opened with two
    backticks keeps the single ones inside it, as in a query on the reserved word Status."""
    fenced = False
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            for _ticks, text in _SPAN.findall(line):
                yield number, text.strip()


def where(page: Path, line: int) -> str:
    return f"{page.relative_to(ROOT)}:{line}"
