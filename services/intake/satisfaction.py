"""The satisfaction survey's arithmetic: Permenpan-RB 14/2017 (Pedoman Penyusunan Survei
Kepuasan Masyarakat, SKM), pure so it is tested on its own.

The regulation's nine elements (unsur) are each answered on a 1-4 scale. For each element the
mean of the answers (nilai rata-rata, NRR) is weighted by 1/9 (the regulation's "bobot nilai
rata-rata tertimbang = jumlah bobot / jumlah unsur = 1/9", printed rounded as 0,11); the sum of
the weighted means is the unit's index on the 1-4 scale, and × 25 converts it to 25-100 (IKM).
The quality band (mutu pelayanan) follows the regulation's table of intervals.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

# The nine elements in the regulation's order, with the question a resident reads.
ELEMENTS: tuple[tuple[str, str], ...] = (
    ("persyaratan", "Kesesuaian persyaratan pelayanan dengan jenis pelayanannya"),
    ("prosedur", "Kemudahan prosedur (sistem, mekanisme dan prosedur) pelayanan"),
    ("waktu", "Kecepatan waktu penyelesaian pelayanan"),
    ("biaya", "Kewajaran biaya/tarif pelayanan"),
    ("produk", "Kesesuaian produk pelayanan dengan standar pelayanan yang dijanjikan"),
    ("kompetensi", "Kompetensi/kemampuan petugas dalam pelayanan"),
    ("perilaku", "Perilaku petugas (kesopanan dan keramahan) dalam pelayanan"),
    ("pengaduan", "Kualitas penanganan pengaduan, saran dan masukan"),
    ("sarana", "Kualitas sarana dan prasarana"),
)
ELEMENT_KEYS: tuple[str, ...] = tuple(key for key, _ in ELEMENTS)

# The regulation's four answer values, worded for each element alike.
SCALE: tuple[tuple[int, str], ...] = (
    (1, "Tidak baik"),
    (2, "Kurang baik"),
    (3, "Baik"),
    (4, "Sangat baik"),
)

WEIGHT = Fraction(1, len(ELEMENTS))
CONVERSION = 25

# The regulation's table (nilai interval konversi → mutu pelayanan, kinerja unit pelayanan):
# 25,00-64,99 D Tidak Baik; 65,00-76,60 C Kurang Baik; 76,61-88,30 B Baik; 88,31-100 A Sangat
# Baik. A converted index is compared after rounding to two decimals, as the table is printed.
BANDS: tuple[tuple[Fraction, str, str], ...] = (
    (Fraction("88.31"), "A", "Sangat Baik"),
    (Fraction("76.61"), "B", "Baik"),
    (Fraction("65.00"), "C", "Kurang Baik"),
    (Fraction("25.00"), "D", "Tidak Baik"),
)

# A desa-level (or any) figure is shown only from this many answers; docs/public-duties.md says
# why (one answer moves the index by 75/n points; fewer answers could be matched to residents).
MIN_ANSWERS_SHOWN = 10


class InvalidAnswer(ValueError):
    """An answer outside the scale or without all nine elements."""


@dataclass(frozen=True)
class Index:
    answers: int
    element_means: tuple[Fraction, ...]  # NRR per element, in ELEMENTS' order
    unit_index: Fraction  # Σ NRR × 1/9, on the 1-4 scale
    ikm: Fraction  # unit_index × 25
    band: str  # A-D
    band_label: str

    @property
    def ikm_rounded(self) -> str:
        """As reported: two decimals (comma as the decimal mark is the page's business)."""
        return f"{float(two_decimals(self.ikm)):.2f}"


def check_scores(scores: Sequence[int]) -> tuple[int, ...]:
    if len(scores) != len(ELEMENTS):
        raise InvalidAnswer(f"expected {len(ELEMENTS)} scores, got {len(scores)}")
    for score in scores:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 4:
            raise InvalidAnswer(f"score {score!r} is not on the 1-4 scale")
    return tuple(scores)


def two_decimals(value: Fraction) -> Fraction:
    """Rounded half up to two decimals, as a report prints it (not Python's half-to-even)."""
    return Fraction(math.floor(value * 100 + Fraction(1, 2)), 100)


def band_of(ikm: Fraction) -> tuple[str, str]:
    shown = two_decimals(ikm)
    for lower, band, label in BANDS:
        if shown >= lower:
            return band, label
    raise InvalidAnswer(f"index {ikm} is below the scale")


def index_from_sums(answers: int, sums: Sequence[int]) -> Index:
    """The index of `answers` respondents whose scores per element add up to `sums`."""
    if answers <= 0:
        raise InvalidAnswer("no answers")
    if len(sums) != len(ELEMENTS):
        raise InvalidAnswer("one sum per element is needed")
    means = tuple(Fraction(total, answers) for total in sums)
    unit = sum((mean * WEIGHT for mean in means), Fraction(0))
    ikm = unit * CONVERSION
    band, label = band_of(ikm)
    return Index(answers, means, unit, ikm, band, label)


def index_of(responses: Iterable[Sequence[int]]) -> Index:
    """The index of individual responses (each nine scores), by the regulation's steps."""
    sums = [0] * len(ELEMENTS)
    count = 0
    for response in responses:
        for position, score in enumerate(check_scores(response)):
            sums[position] += score
        count += 1
    return index_from_sums(count, sums)
