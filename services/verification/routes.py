"""The route each letter type takes through a desa's staff, and who signs it at the end.

Routes are data. Every desa uses DEFAULT_ROUTES for now; a per-desa override would be looked up
in `route_for` before falling back to these.
"""

from dataclasses import dataclass

KASI_PEMERINTAHAN = "kasi_pemerintahan"
KASI_KESRA = "kasi_kesra"
KASI_PELAYANAN = "kasi_pelayanan"
SEKDES = "sekdes"
KADES = "kades"
OPERATOR = "operator"


@dataclass(frozen=True)
class LetterRoute:
    steps: tuple[str, ...]  # roles, in the order they act
    signer_role: str


DEFAULT_ROUTES: dict[str, LetterRoute] = {
    # Surat Keterangan Domisili
    "SKD": LetterRoute(steps=(KASI_PEMERINTAHAN, SEKDES, KADES), signer_role=KADES),
}


def route_for(desa_code: str, letter_type: str) -> LetterRoute | None:
    """The route of `letter_type` in `desa_code`, or None if we do not know that letter type."""
    del desa_code  # every desa follows the default routes until overrides exist
    return DEFAULT_ROUTES.get(letter_type)
