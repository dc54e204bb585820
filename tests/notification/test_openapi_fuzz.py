"""Schemathesis over notification's OpenAPI document, as a Kasi of Pamanukan: no request gets
a 5xx (docs/testing.md)."""

import pytest

from tests.notification.conftest import Service
from tests.support.openapi_fuzz import server_errors

# The inbox stream answers for as long as the client listens: a fuzzer's request would never
# end. Its one input (Last-Event-ID) is tested in test_inbox.py.
ENDLESS = [("GET", "/api/v1/inbox/stream")]


@pytest.fixture
def service_overrides() -> dict[str, object]:
    """WhatsApp configured, so its webhook answers (unconfigured, it is 503 by design)."""
    return {
        "notification_whatsapp_app_secret": "rahasia-aplikasi-uji",
        "notification_whatsapp_verify_token": "token-verifikasi-uji",
    }


async def test_no_generated_request_gets_a_server_error(service: Service) -> None:
    run = await server_errors(
        service.client, service.staff_headers("pemerintahan.pamanukan"), skip=ENDLESS
    )
    assert not run.errors, "\n".join(map(str, run.errors))
    assert run.answered_2xx, run.statuses
