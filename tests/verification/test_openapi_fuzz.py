"""Schemathesis over verification's OpenAPI document, signed in as the Sekdes (who decides
tasks and administers the desa): no request gets a 5xx (docs/testing.md)."""

from tests.support.openapi_fuzz import server_errors
from tests.verification.conftest import Service

# With a real signing service behind it (the desa profile's endpoints ask it), as there.
from tests.verification.test_desa_profile_api import settings, signing  # noqa: F401


async def test_no_generated_request_gets_a_server_error(service: Service) -> None:
    run = await server_errors(service.http, await service.login("sekdes.pamanukan"))
    assert not run.errors, "\n".join(map(str, run.errors))
    assert run.answered_2xx, run.statuses  # signed in: not every request ended at 401
