"""Intake's settings (env `SMARTDESA_INTAKE_*` plus the common ones)."""

from functools import cache
from pathlib import Path

from pydantic import Field

from common.config import CommonSettings


class Settings(CommonSettings):
    intake_http_host: str = "127.0.0.1"
    intake_http_port: int = 8000
    intake_grpc_host: str = "127.0.0.1"
    intake_grpc_port: int = 50051
    intake_database_url: str | None = None

    # How long a resident stays signed in after entering a one-time code.
    intake_resident_token_ttl_seconds: int = 12 * 3600
    # How many drafts (created, not yet submitted) a resident may hold at once.
    intake_max_open_drafts: int = Field(default=5, ge=1)

    @property
    def intake_db_url(self) -> str:
        return self.intake_database_url or self.sqlite_url("intake.db")

    @property
    def intake_dir(self) -> Path:
        return self.data_dir / "intake"

    @property
    def attachments_dir(self) -> Path:
        return self.intake_dir / "attachments"


@cache
def get_settings() -> Settings:
    return Settings()
