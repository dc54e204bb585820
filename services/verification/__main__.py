"""`python -m services.verification`: the staff API on 8001; DirectoryService and PopulationService
on 50052."""

from types import FrameType

import uvicorn
from fastapi import FastAPI

import common.lean_imports  # noqa: F401  # isort: split  (first: nats-py, httpx without extras)
from common.event_loop import uvicorn_options
from common.logging import configure_logging
from common.migrations import upgrade_in_child
from common.tracing import configure_tracing
from services.verification.config import get_settings
from services.verification.main import create_app


class _Server(uvicorn.Server):
    """Uvicorn waits for every open response before it stops: the inbox pages' event streams
    never end by themselves, so the stop signal ends them first (the browsers reconnect to
    another replica)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime = getattr(self._app.state, "runtime", None)
        if runtime is not None:
            runtime.inbox_fanout.close_threadsafe()
        super().handle_exit(sig, frame)


def main() -> None:
    settings = get_settings()
    configure_logging("verification", settings.log_level)
    configure_tracing("verification", settings.otlp_endpoint)
    # Schema migrations in a child process first: this long-running one never loads Alembic
    # (the runtime's own upgrade then finds the database at the newest revision).
    upgrade_in_child("verification")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.verification_http_host,
        port=settings.verification_http_port,
        log_config=None,
        # Open inbox streams end at once on shutdown (above); this bounds a stuck one.
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        **uvicorn_options(settings),
    )
    try:
        _Server(config, app).run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn re-raises the signal it handled (as uvicorn.run)
        pass


if __name__ == "__main__":
    main()
