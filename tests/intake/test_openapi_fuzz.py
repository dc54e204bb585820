"""Schemathesis over intake's OpenAPI document, signed in as a resident who holds a draft:
no request gets a 5xx (tests/support/openapi_fuzz.py, docs/testing.md)."""

from tests.intake.conftest import Intake
from tests.support.openapi_fuzz import server_errors


async def test_no_generated_request_gets_a_server_error(intake: Intake) -> None:
    headers = await intake.sign_in()
    await intake.create_application(headers)
    run = await server_errors(intake.http, headers)
    assert not run.errors, "\n".join(map(str, run.errors))
    assert run.answered_2xx, run.statuses  # signed in: not every request ended at 401
