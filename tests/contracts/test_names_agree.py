"""Names people read, where more than one process needs them (each image carries only its own
code). The ten letter types intake offers: intake's list is the source of their names (it carries
them in every application event); verification keeps a route and the staff-facing name per type;
signing's catalogue (docs/letter-catalogue.md) holds them among its other types, titled alike."""

import pytest

from services.intake.letter_types import LETTER_TYPES as INTAKE
from services.signing.letter_types import LETTER_TYPES as SIGNING
from services.verification.routes import DEFAULT_ROUTES, LETTER_TYPE_NAMES

pytestmark = pytest.mark.unit

TEN = {"SKD", "SKU", "SKBM", "SKTM", "SKP", "SKDU", "SKL", "SKK", "SPCK", "SP"}


def test_every_service_knows_the_same_ten_types() -> None:
    assert set(INTAKE) == TEN
    assert set(DEFAULT_ROUTES) == set(LETTER_TYPE_NAMES) == TEN
    assert set(SIGNING) >= TEN  # the catalogue holds more types than intake offers yet


def test_names_are_intakes() -> None:
    names = {code: lt.name for code, lt in INTAKE.items()}
    assert LETTER_TYPE_NAMES == names
    assert {code: lt.title for code, lt in SIGNING.items() if code in TEN} == {
        code: name.upper() for code, name in names.items()
    }
