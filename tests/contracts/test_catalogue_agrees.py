"""Until intake and verification read the catalogue through CatalogueService, their own lists
must say what the catalogue says: every type intake offers has the catalogue's fields (name,
label, check, register or resident) and syarat, and verification's default route and name for
it are the catalogue's. A change to one side without the other fails here."""

import pytest

from common.register_fields import REGISTER_FIELDS
from services.intake.letter_types import LETTER_TYPES as INTAKE_TYPES
from services.signing.catalogue.definition import load_seed
from services.verification.routes import DEFAULT_ROUTES, LETTER_TYPE_NAMES

pytestmark = pytest.mark.unit

CATALOGUE = load_seed()


def test_every_type_intake_offers_is_in_the_catalogue() -> None:
    assert set(INTAKE_TYPES) <= set(CATALOGUE)
    assert all(CATALOGUE[code].online for code in INTAKE_TYPES)


@pytest.mark.parametrize("code", sorted(INTAKE_TYPES))
def test_intake_fields_and_syarat_are_the_catalogues(code: str) -> None:
    intake, catalogue = INTAKE_TYPES[code], CATALOGUE[code]
    assert (intake.name, intake.description) == (catalogue.name, catalogue.description)
    assert [
        (f.name, f.label, f.kind, f.required, f.max_length, f.choices) for f in intake.fields
    ] == [(f.name, f.label, f.kind, f.required, f.max_length, f.choices) for f in catalogue.fields]
    # Intake fills these from the register; the catalogue says so.
    assert {f.name for f in catalogue.fields if f.source == "register"} == {
        f.name for f in intake.fields if f.name in REGISTER_FIELDS
    }
    # Intake asks for uploads of every syarat it lists; the catalogue's required ones.
    assert [(r.code, r.name, r.description) for r in intake.requirements] == [
        (s.code, s.name, s.description) for s in catalogue.syarat if s.kind == "wajib"
    ]


@pytest.mark.parametrize("code", sorted(LETTER_TYPE_NAMES))
def test_verification_default_route_is_the_catalogues(code: str) -> None:
    route, catalogue = DEFAULT_ROUTES[code], CATALOGUE[code]
    assert LETTER_TYPE_NAMES[code] == catalogue.name
    assert [(s.role, s.deadline_working_hours) for s in route.steps] == [
        (s.role, s.hours) for s in catalogue.route.steps
    ]
    assert route.signer_role == catalogue.route.signer and not route.on_behalf_of_role
