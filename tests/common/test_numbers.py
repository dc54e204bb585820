"""Numbers from headers, query parameters and paths: ASCII digits or nothing."""

import pytest

from common.numbers import MAX_DIGITS, parse_natural


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), (" 1767225600 ", 1767225600), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS))],
)
def test_ascii_digits_are_read(text: str, expected: int) -> None:
    assert parse_natural(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        " ",
        "²",  # isdigit() is True, int() fails: this crashed three handlers
        "1²",
        "١٢٣",  # Arabic-Indic digits: int() would read 123
        "１２",  # fullwidth digits
        "-1",
        "+1",
        "1_000",
        "1.0",
        "0x10",
        "9" * (MAX_DIGITS + 1),
        "9" * 5000,  # past int()'s own digit limit, which raises ValueError
    ],
)
def test_anything_else_is_none(text: str | None) -> None:
    assert "²".isdigit() and "١٢٣".isdigit()  # why the helper exists
    assert parse_natural(text) is None
