"""`python -m services.notification`: the notification service on its HTTP port."""

import uvicorn

import common.lean_imports  # noqa: F401  # isort: split  (first: nats-py, httpx without extras)
from common.event_loop import uvicorn_options
from common.logging import configure_logging
from common.migrations import upgrade_in_child
from common.tracing import configure_tracing
from services.notification.config import get_settings
from services.notification.main import create_app


def main() -> None:
    settings = get_settings()
    configure_logging("notification", settings.log_level)
    configure_tracing("notification", settings.otlp_endpoint)
    # Schema migrations in a child process first: this long-running one never loads Alembic
    # (the runtime's own upgrade then finds the database at the newest revision).
    upgrade_in_child("notification")
    uvicorn.run(
        create_app(settings),
        host=settings.notification_http_host,
        port=settings.notification_http_port,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
