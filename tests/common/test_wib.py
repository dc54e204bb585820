"""Dates as residents write them and read them: "15 Agustus 1990" shown, and every way a
phone or a person enters one read back to the same day."""

from datetime import date

import pytest

from common.wib import indonesian_date, parse_indonesian_date

pytestmark = pytest.mark.unit

AUG_15 = date(1990, 8, 15)


def test_a_date_reads_in_indonesian_words() -> None:
    assert indonesian_date(AUG_15) == "15 Agustus 1990"
    assert indonesian_date(date(2026, 1, 1)) == "1 Januari 2026"
    assert indonesian_date(date(2000, 12, 31)) == "31 Desember 2000"


@pytest.mark.parametrize(
    "text",
    [
        "1990-08-15",  # what <input type=date> sends, whatever the phone shows
        "15 Agustus 1990",
        "15 agustus 1990",
        "  15   AGUSTUS 1990 ",
        "15 Agt 1990",
        "15 Agu 1990",
        "15 Ags. 1990",
        "15-Agustus-1990",
        "15 Aug 1990",
        "15-08-1990",
        "15/08/1990",
        "15.08.1990",
        "15/8/1990",
    ],
)
def test_every_way_of_writing_a_date_reads_the_same_day(text: str) -> None:
    assert parse_indonesian_date(text) == AUG_15


def test_digits_are_day_first_as_written_in_indonesia() -> None:
    assert parse_indonesian_date("05/08/1990") == date(1990, 8, 5)


def test_words_round_trip_for_every_month() -> None:
    for month in range(1, 13):
        day = date(2024, month, 29 if month == 2 else 30)
        assert parse_indonesian_date(indonesian_date(day)) == day


@pytest.mark.parametrize(
    "text",
    [
        "",
        "kemarin",
        "30 Februari 2024",
        "1990-13-01",
        "32/01/1990",
        "15 Agustusan 1990",
        "15 1990",
        "1990/08/15/01",
        "١٥ Agustus ١٩٩٠",  # digits of another script
        "15 Agustus 90",  # a two-digit year says nothing about the century
        "08/15/1990",  # month first is not how dates are written here
    ],
)
def test_what_is_not_a_date_is_none(text: str) -> None:
    assert parse_indonesian_date(text) is None
