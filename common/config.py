"""Settings every service shares. Each service extends `CommonSettings` in its own `config.py`.

All variables carry the `SMARTDESA_` prefix, e.g. `SMARTDESA_NATS_URL`, `SMARTDESA_INTAKE_HTTP_PORT`.
The dev profile's defaults use ports and a data folder of their own, so they never collide with
the PostgreSQL (5432) and NATS (4222) a machine may already run.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMARTDESA_", env_ignore_empty=True, extra="ignore"
    )

    profile: Literal["dev", "production"] = "dev"
    data_dir: Path = Path(".data")
    log_level: str = "INFO"

    nats_url: str = "nats://127.0.0.1:4322"
    # Copies JetStream keeps of each of our streams: 1 on the dev server, 3 on a 3-node cluster.
    nats_stream_replicas: int = Field(default=1, ge=1)
    # JetStream consumers: deliveries before a message is given up (and dead-lettered), and the
    # wait before each redelivery of an event whose handling failed.
    nats_max_deliver: int = 10
    nats_retry_delays: list[float] = [1.0, 5.0, 15.0, 60.0, 300.0]
    # Shutdown: open HTTP responses, and then each part of the service (a background loop, a
    # connection, the gRPC server), get this long each to finish; one that does not is left
    # behind with a warning saying what it was waiting for, and the rest still close. Kubernetes
    # kills a pod terminationGracePeriodSeconds (30) after asking it to stop.
    shutdown_timeout_seconds: int = Field(default=10, ge=1)
    # The event loop and uvicorn's HTTP parser (common.event_loop): uvloop and httptools spend
    # less CPU per request and per message than asyncio's own loop and h11 (docs/performance.md);
    # "asyncio" / "h11" fall back to the pure-Python ones.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    http_parser: Literal["httptools", "h11"] = "httptools"
    # How long a thread holding the GIL may keep it from another that waits (sys.setswitchinterval,
    # Python's default 5 ms). Every SQLite statement runs on aiosqlite's thread and hands its
    # result back to the event loop: while the loop's thread is busy, each hand-over waited up
    # to the interval, twice (common.event_loop; docs/performance.md, "The GIL's switch
    # interval"). 0: Python's default.
    gil_switch_interval_ms: float = Field(default=0.5, ge=0)
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "letter-approval"

    intake_grpc_target: str = "127.0.0.1:50051"
    verification_grpc_target: str = "127.0.0.1:50052"
    signing_grpc_target: str = "127.0.0.1:50053"
    notification_grpc_target: str = "127.0.0.1:50054"
    # The letter catalogue (CatalogueService) is served on signing's port; "" means there.
    catalogue_grpc_target: str = ""

    @property
    def catalogue_target(self) -> str:
        return self.catalogue_grpc_target or self.signing_grpc_target

    # Base URL printed in letters' QR codes and links: the public verification page.
    public_verification_url: str = "http://127.0.0.1:8002"

    # Token keys. In production these are mounted secret files; the dev profile makes them at
    # first start under data_dir/secrets (see common.secrets).
    internal_token_secret_file: Path | None = None
    resident_token_private_key_file: Path | None = None
    resident_token_public_key_file: Path | None = None
    staff_token_private_key_file: Path | None = None
    staff_token_public_key_file: Path | None = None
    # Signs short-lived download links (common.signed_links); notification and intake share it.
    link_signing_secret_file: Path | None = None

    # Services that accept tokens of accounts they do not own (signing: staff; notification:
    # staff and residents) ask the owner whether the token's session is still current, and
    # reuse the answer this long: a session ended there (sign-out, password, role, deactivation)
    # is refused here at most this much later (common.session_checks, docs/security.md).
    session_check_cache_seconds: float = Field(default=30.0, ge=0)
    # How long that question may take before the request is answered 503.
    session_check_timeout_seconds: float = Field(default=5.0, gt=0)

    # Session cookies of the web pages carry Secure: always in production (served behind TLS),
    # on a request that came over TLS otherwise; set true/false to decide it here instead.
    web_secure_cookies: bool | None = None

    # OpenTelemetry: traces leave the process only when this names an OTLP/gRPC collector,
    # e.g. http://otel-collector.observability:4317 (off by default).
    otlp_endpoint: str | None = None

    @property
    def is_dev(self) -> bool:
        return self.profile == "dev"

    @property
    def web_cookie_secure(self) -> bool:
        """Whether session cookies are always marked Secure (else: when the request was TLS)."""
        if self.web_secure_cookies is not None:
            return self.web_secure_cookies
        return self.profile == "production"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def secret_path(self, configured: Path | None, name: str) -> Path:
        return configured if configured is not None else self.secrets_dir / name

    def sqlite_url(self, name: str) -> str:
        return f"sqlite+aiosqlite:///{(self.data_dir / name).resolve()}"
