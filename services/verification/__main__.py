"""`python -m services.verification`: the staff API on 8001 and DirectoryService on 50052."""

import uvicorn

from common.logging import configure_logging
from common.tracing import configure_tracing
from services.verification.config import get_settings
from services.verification.main import create_app


def main() -> None:
    settings = get_settings()
    configure_logging("verification", settings.log_level)
    configure_tracing("verification", settings.otlp_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.verification_http_host,
        port=settings.verification_http_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
