import pytest

from common.nik import INVALID_NIK_MESSAGE, InvalidNik, is_valid_nik, kecamatan_code, parse_nik

pytestmark = pytest.mark.unit


def test_man_born_on_the_first_of_january() -> None:
    info = parse_nik("3213110101850002")
    assert (info.birth_day, info.birth_month, info.birth_year_2d) == (1, 1, 85)
    assert info.sex == "L"
    assert info.region == "321311"
    assert info.serial == "0002"


def test_woman_has_forty_added_to_the_day() -> None:
    info = parse_nik("3213115708900001")
    assert (info.birth_day, info.birth_month) == (17, 8)
    assert info.sex == "P"


@pytest.mark.parametrize("nik", ["3213113101900001", "3213117112900001"])
def test_last_day_of_a_31_day_month_for_men_and_women(nik: str) -> None:
    assert is_valid_nik(nik)


@pytest.mark.parametrize(
    "nik",
    [
        "",
        "321311010185000",  # 15 digits
        "32131101018500021",  # 17 digits
        "32131101018500a2",  # a letter
        "３２１３１１０１０１８５０００２",  # full-width digits are still not ASCII digits
        " 3213110101850002",
    ],
)
def test_length_and_digits(nik: str) -> None:
    assert not is_valid_nik(nik)


@pytest.mark.parametrize(
    "nik",
    [
        "3213110001850002",  # day 00
        "3213113201850002",  # day 32 is neither a man's nor a woman's day
        "3213114001850002",  # day 40 (woman's day 0)
        "3213117201850002",  # woman's day 32
        "3213110100850002",  # month 00
        "3213110113850002",  # month 13
        "3213113104850002",  # 31 April
        "3213113002850002",  # 30 February
        "3213117002850002",  # woman's 30 February
    ],
)
def test_impossible_dates(nik: str) -> None:
    with pytest.raises(InvalidNik) as exc:
        parse_nik(nik)
    assert str(exc.value) == INVALID_NIK_MESSAGE


@pytest.mark.parametrize("nik", ["3213112902850002", "3213116902010002"])
def test_29_february_is_allowed_for_men_and_women(nik: str) -> None:
    # The year has two digits; some century makes it a leap year.
    assert is_valid_nik(nik)


def test_serial_0000_is_refused() -> None:
    assert not is_valid_nik("3213110101850000")
    assert is_valid_nik("3213110101850001")


def test_message_is_indonesian() -> None:
    assert "NIK harus 16 digit" in INVALID_NIK_MESSAGE


def test_the_kecamatan_of_a_nik_is_its_first_six_digits() -> None:
    assert kecamatan_code("3213115708900001") == "32.13.11"
    assert kecamatan_code("3213") == ""  # not a NIK: no kecamatan to start from
