"""Settings of the verification service (env `SMARTDESA_<FIELD>`)."""

from functools import cache

from pydantic import Field

from common.config import CommonSettings


class Settings(CommonSettings):
    verification_http_host: str = "127.0.0.1"
    verification_http_port: int = 8001
    verification_grpc_host: str = "127.0.0.1"
    verification_grpc_port: int = 50052
    verification_database_url: str | None = None

    # Password of every dev account the dev profile seeds (SMARTDESA_DEMO_PASSWORD).
    demo_password: str = "rahasia-dev"  # noqa: S105 (dev profile only)
    staff_token_ttl_seconds: int = 8 * 3600
    # Staff sign-in throttle (sign_in_throttle.py): this many failed attempts within the window,
    # for one account or from one client address, lock that sign-in until the oldest of them
    # leaves the window. An administrator's password reset lifts an account's lockout.
    staff_sign_in_max_failures_per_account: int = Field(default=10, ge=1)
    staff_sign_in_max_failures_per_client: int = Field(default=30, ge=1)
    staff_sign_in_window_seconds: int = Field(default=15 * 60, ge=1)
    # How long a one-time link to set a new account's password works (onboarding.py).
    staff_password_link_hours: int = Field(default=72, ge=1)
    # How long a decision waits for the workflow's answer before we tell the staff to retry.
    decision_timeout_seconds: float = 15.0
    # How long a read from intake may take.
    intake_timeout_seconds: float = 10.0
    # How long rendering a letter preview in signing may take.
    signing_timeout_seconds: float = 15.0
    # How long issuing a letter signed with a passphrase (BSrE, a remote call) may take.
    signing_issue_timeout_seconds: float = 90.0
    # After the last approval of a letter signed at once, how long the decision waits for it to
    # be issued, so the signer is told it was signed (else: "being signed").
    issue_wait_seconds: float = 60.0
    # The Temporal Web UI the kabupaten view links every row to (already filtered to it), in
    # the namespace `temporal_namespace`. `make run` sets the dev server's UI port.
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # The resident portal's address, printed on a walk-in's receipt (how to follow it); the
    # dev profile's intake on this machine unless set (production: intake's public host).
    verification_portal_url: str | None = None
    intake_http_port: int = 8000
    # How many applications' events the task projection applies at once (each application's
    # still in order): the next step's task waits behind whatever is queued before it.
    verification_task_lanes: int = Field(default=8, ge=1)

    @property
    def database_url(self) -> str:
        return self.verification_database_url or self.sqlite_url("verification.db")

    @property
    def portal_url(self) -> str:
        return (self.verification_portal_url or f"http://127.0.0.1:{self.intake_http_port}").rstrip(
            "/"
        )

    @property
    def grpc_bind(self) -> str:
        return f"{self.verification_grpc_host}:{self.verification_grpc_port}"


@cache
def get_settings() -> Settings:
    return Settings()
