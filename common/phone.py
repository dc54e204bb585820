"""Indonesian mobile numbers, stored as E.164 digits without '+', e.g. 6281234567890."""

import re

INVALID_PHONE_MESSAGE = (
    "Nomor HP harus nomor seluler Indonesia, misalnya 081234567890 atau +6281234567890."
)

_SEPARATORS = re.compile(r"[\s\-.()]")


class InvalidPhone(ValueError):
    """Not an Indonesian mobile number. `str(exc)` is the Indonesian message."""

    def __init__(self) -> None:
        super().__init__(INVALID_PHONE_MESSAGE)


def normalize_phone(raw: str) -> str:
    """08xx -> 628xx; +628xx and 628xx kept. Raises InvalidPhone for anything else."""
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("0"):
        digits = "62" + digits[1:]
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhone()
    if not digits.startswith("628") or not 10 <= len(digits) <= 15:
        raise InvalidPhone()
    return digits
