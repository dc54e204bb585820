"""The IKM arithmetic of Permenpan-RB 14/2017: per element the mean of the answers (NRR),
weighted 1/9, summed, × 25; the band by the regulation's table of converted intervals."""

from datetime import datetime
from fractions import Fraction

import pytest

from common.wib import WIB
from services.intake.complaints import complaint_deadline
from services.intake.satisfaction import (
    ELEMENTS,
    MIN_ANSWERS_SHOWN,
    InvalidAnswer,
    band_of,
    index_from_sums,
    index_of,
)

pytestmark = pytest.mark.unit

# A tabulation worked by the regulation's steps (its lampiran: "nilai rata-rata per unsur",
# "× bobot 1/9 (0,11)", "IKM unit pelayanan × 25"): 10 respondents, sums per element.
SUMS = [34, 33, 30, 40, 35, 32, 36, 28, 31]
NRR = ["3.4", "3.3", "3.0", "4.0", "3.5", "3.2", "3.6", "2.8", "3.1"]


def test_nine_elements_in_the_regulations_order() -> None:
    assert [key for key, _ in ELEMENTS] == [
        "persyaratan",
        "prosedur",
        "waktu",
        "biaya",
        "produk",
        "kompetensi",
        "perilaku",
        "pengaduan",
        "sarana",
    ]


def test_worked_example() -> None:
    index = index_from_sums(10, SUMS)
    assert index.element_means == tuple(Fraction(n) for n in NRR)
    # Σ NRR = 29.9; × 1/9 = 3.3222…; × 25 = 83.0555… → 83,06, band B (Baik: 76,61-88,30).
    assert index.unit_index == Fraction(299, 90)
    assert index.ikm_rounded == "83.06"
    assert (index.band, index.band_label) == ("B", "Baik")
    # The regulation prints the weight rounded (0,11): 29.9 × 0.11 × 25 = 82.225, the same band.
    assert band_of(Fraction("29.9") * Fraction("0.11") * 25) == ("B", "Baik")


def test_individual_answers_give_the_same_index_as_their_sums() -> None:
    answers = [[4, 3, 3, 4, 4, 3, 4, 3, 3]] * 4 + [[3, 3, 3, 4, 3, 3, 3, 2, 3]] * 6
    sums = [sum(a[i] for a in answers) for i in range(9)]
    assert index_of(answers) == index_from_sums(10, sums)


@pytest.mark.parametrize(
    ("ikm", "band"),
    [
        ("100", "A"),
        ("88.31", "A"),
        ("88.305", "A"),  # shown as 88,31
        ("88.30", "B"),
        ("76.61", "B"),
        ("76.60", "C"),
        ("65.00", "C"),
        ("64.99", "D"),
        ("25", "D"),
    ],
)
def test_the_regulations_bands(ikm: str, band: str) -> None:
    assert band_of(Fraction(ikm))[0] == band


def test_extremes() -> None:
    assert index_of([[4] * 9]).ikm == 100
    assert index_of([[1] * 9]).ikm == 25
    assert index_of([[1] * 9]).band_label == "Tidak Baik"


@pytest.mark.parametrize("scores", [[4] * 8, [4] * 10, [0] + [4] * 8, [5] + [4] * 8])
def test_answers_off_the_scale_are_refused(scores: list[int]) -> None:
    with pytest.raises(InvalidAnswer):
        index_of([scores])


def test_one_answer_moves_a_small_cell_by_75_over_n() -> None:
    """Why MIN_ANSWERS_SHOWN: one respondent going from all 1 to all 4 moves the IKM by 75/n."""
    n = MIN_ANSWERS_SHOWN
    low = index_of([[3] * 9] * (n - 1) + [[1] * 9]).ikm
    high = index_of([[3] * 9] * (n - 1) + [[4] * 9]).ikm
    assert high - low == Fraction(75, n)


def test_a_complaints_deadline_counts_working_hours() -> None:
    """Friday 15:00 WIB + 2 working hours: one hour on Friday, one on Monday (08:00-16:00)."""
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=WIB)
    assert complaint_deadline(friday, 2).astimezone(WIB) == datetime(2026, 12, 7, 9, 0, tzinfo=WIB)
