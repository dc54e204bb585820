"""`python -m services.signing`: the public verification site and the SigningService."""

import uvicorn

import common.lean_imports  # noqa: F401  # isort: split  (first: nats-py, httpx without extras)
from common.event_loop import uvicorn_options
from common.logging import configure_logging
from common.migrations import upgrade_in_child
from common.tracing import configure_tracing
from services.signing.config import get_settings
from services.signing.main import create_app


def main() -> None:
    settings = get_settings()
    configure_logging("signing", settings.log_level)
    configure_tracing("signing", settings.otlp_endpoint)
    # Schema migrations in a child process first: this long-running one never loads Alembic
    # (the runtime's own upgrade then finds the database at the newest revision).
    upgrade_in_child("signing")
    uvicorn.run(
        create_app(settings),
        host=settings.signing_http_host,
        port=settings.signing_http_port,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
