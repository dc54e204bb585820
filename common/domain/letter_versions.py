"""What an application keeps and a letter records of the catalogue (docs/letter-catalogue.md):
`<code>-v<version>`, and with a desa's own wording `<code>-v<version>-desa-<desa>-<n>` (the
desa's wording version n). Shared so intake, verification and signing read it alike; the
catalogue itself stays signing's."""

import re
from dataclasses import dataclass

_PINNED = re.compile(
    r"(?P<code>[A-Z][A-Z0-9_]*)-v(?P<version>\d+)"
    r"(?:-desa-(?P<desa>[0-9A-Za-z.]+)-(?P<wording>\d+))?"
)


@dataclass(frozen=True)
class Pinned:
    code: str
    version: int
    desa: str = ""  # "" : the kabupaten's wording
    wording: int = 0  # the desa's wording version; 0: the kabupaten's wording

    @property
    def base(self) -> str:
        """The type's version without the desa's wording: `SKD-v2`."""
        return f"{self.code}-v{self.version}"

    def __str__(self) -> str:
        if self.desa and self.wording:
            return f"{self.base}-desa-{self.desa}-{self.wording}"
        return self.base


def parse_pinned(text: str) -> Pinned | None:
    """None for anything but the two shapes above (the old template names included)."""
    match = _PINNED.fullmatch(text)
    if match is None:
        return None
    return Pinned(
        match["code"], int(match["version"]), match["desa"] or "", int(match["wording"] or 0)
    )


def with_wording(base: str, desa_code: str, wording: int) -> str:
    """`base` (`SKD-v2`) with the desa's wording version, if it has one (wording > 0)."""
    pinned = parse_pinned(base)
    if pinned is None or wording <= 0 or not re.fullmatch(r"[0-9A-Za-z.]+", desa_code):
        return base
    return str(Pinned(pinned.code, pinned.version, desa_code, wording))
