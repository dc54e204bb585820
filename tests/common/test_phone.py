import pytest

from common.phone import InvalidPhone, normalize_phone

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("081234567890", "6281234567890"),
        ("+6281234567890", "6281234567890"),
        ("6281234567890", "6281234567890"),
        ("0812-3456-7890", "6281234567890"),
        ("+62 857 1234 5678", "6285712345678"),
        ("08123456789", "628123456789"),
    ],
)
def test_normalised_to_e164_digits(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0221234567",  # landline (Bandung)
        "+6221234567",
        "+14155552671",  # not Indonesian
        "0812345",  # too short
        "0812345678901234",  # too long
        "08123abc567",
        "++6281234567890",
    ],
)
def test_anything_else_is_refused_in_indonesian(raw: str) -> None:
    with pytest.raises(InvalidPhone) as exc:
        normalize_phone(raw)
    assert "Nomor HP" in str(exc.value)
