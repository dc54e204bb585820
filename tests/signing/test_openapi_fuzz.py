"""Schemathesis over signing's OpenAPI document (the public verification API and the staff's
register), as the Sekdes of Pamanukan: no request gets a 5xx (docs/testing.md)."""

from common.auth import Principal, staff_token_issuer
from tests.signing.conftest import RunningSigning
from tests.signing.test_api import _issue
from tests.support.openapi_fuzz import server_errors

PAMANUKAN = "32.13.11.2004"


async def test_no_generated_request_gets_a_server_error(signing: RunningSigning) -> None:
    await _issue(signing)  # one letter in the register
    token = staff_token_issuer(signing.settings, 600).issue(
        Principal("staff", "sekdes.pamanukan", role="sekdes", desa_code=PAMANUKAN)
    )
    run = await server_errors(signing.http, {"Authorization": f"Bearer {token}"})
    assert not run.errors, "\n".join(map(str, run.errors))
    assert run.answered_2xx, run.statuses
