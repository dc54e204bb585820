"""Schemathesis over signing's OpenAPI document (the public verification API and the staff's
register), as the Sekdes of Pamanukan: no request gets a 5xx (docs/testing.md). Signing checks
each staff token's session against verification's DirectoryService, so the run has one."""

import pytest

from services.signing.config import Settings
from tests.signing.conftest import RunningSigning, StaffDirectory
from tests.signing.test_api import _issue
from tests.support.openapi_fuzz import server_errors

PAMANUKAN = "32.13.11.2004"


@pytest.fixture
def settings(settings_with_directory: Settings) -> Settings:
    return settings_with_directory


async def test_no_generated_request_gets_a_server_error(
    signing: RunningSigning, staff_directory: StaffDirectory
) -> None:
    await _issue(signing)  # one letter in the register
    headers = await staff_directory.headers("sekdes.pamanukan", "sekdes", PAMANUKAN)
    run = await server_errors(signing.http, headers)
    assert not run.errors, "\n".join(map(str, run.errors))
    assert run.answered_2xx, run.statuses
