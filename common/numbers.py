"""Numbers read from outside: headers, query parameters, path parts.

`str.isdigit()` is no guard for `int()`: it is True for "²" (which `int` refuses, so a handler
answered 500) and for "١٢٣" (which `int` reads as 123, a number nobody typed in ASCII). Every
such number is read with `parse_natural`, which knows only ASCII digits.
"""

# 18 digits fit an int64 column and every Unix time, size or offset we read.
MAX_DIGITS = 18


def parse_natural(text: str | None) -> int | None:
    """The non-negative integer `text` spells in ASCII digits 0-9 (surrounding spaces allowed),
    or None: for None, "", "²", "١٢٣", "-1", "+1", "1_000", "1.0" and anything past
    MAX_DIGITS digits."""
    if text is None:
        return None
    digits = text.strip()
    if not digits or len(digits) > MAX_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)
