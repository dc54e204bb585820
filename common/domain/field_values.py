"""Coded values of a letter's form fields as people read them: "Laki-laki", not "L".

The stored value stays the code (what the population register gives, what the letter
templates print from, what the API takes); the portal, the staff pages and anything else that
shows a value to a person write it out from here, in the same words everywhere."""

from collections.abc import Mapping
from typing import Final

SEX: Final[Mapping[str, str]] = {"L": "Laki-laki", "P": "Perempuan"}
# OpenSID's status_kawin names (services/verification/population/codes.py) as the register
# stores them, written as a sentence would write them.
MARITAL_STATUS: Final[Mapping[str, str]] = {
    "BELUM KAWIN": "Belum kawin",
    "KAWIN": "Kawin",
    "CERAI HIDUP": "Cerai hidup",
    "CERAI MATI": "Cerai mati",
}


def value_label(labels: Mapping[str, str], value: str) -> str:
    """The words for a coded value; a value without words (an old draft's) as it is."""
    return labels.get(value, value)
