"""Intake's settings (env `SMARTDESA_INTAKE_*` plus the common ones)."""

from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

from common.config import CommonSettings


class RateLimit(BaseModel):
    """At most `count` sign-in codes in a fixed window of `seconds`."""

    count: int = Field(gt=0)
    seconds: int = Field(gt=0)


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

    # Sign-in codes asked for, per phone number, per NIK, per client address and overall; each
    # a list of windows (env as JSON, e.g. '[{"count": 3, "seconds": 900}]'). docs/security.md.
    intake_code_limits_per_phone: list[RateLimit] = [
        RateLimit(count=3, seconds=15 * 60),
        RateLimit(count=10, seconds=24 * 3600),
    ]
    intake_code_limits_per_nik: list[RateLimit] = [
        RateLimit(count=3, seconds=15 * 60),
        RateLimit(count=10, seconds=24 * 3600),
    ]
    # Generous: many residents share one address behind a mobile carrier's NAT.
    intake_code_limits_per_client: list[RateLimit] = [RateLimit(count=30, seconds=15 * 60)]
    # The kabupaten's WhatsApp/SMS bill: what the whole service may send.
    intake_code_limits_overall: list[RateLimit] = [
        RateLimit(count=300, seconds=60),
        RateLimit(count=5000, seconds=3600),
    ]
    # Wrong codes for one NIK, across codes: this many are free, then each further one locks
    # the NIK's sign-in for lock_base * 2^(n - free) seconds, at most lock_max; failures are
    # forgotten failure_memory seconds after the last one (or at a right code).
    intake_code_free_failures: int = Field(default=5, gt=0)
    intake_code_lock_base_seconds: int = Field(default=60, gt=0)
    intake_code_lock_max_seconds: int = Field(default=3600, gt=0)
    intake_code_failure_memory_seconds: int = Field(default=24 * 3600, gt=0)
    # Tries at the KK number and mother's name (a first sign-in of a NIK the register holds
    # without a phone), per NIK and per phone number; counted before the answer is compared.
    intake_family_limits_per_nik: list[RateLimit] = [
        RateLimit(count=3, seconds=3600),
        RateLimit(count=5, seconds=24 * 3600),
    ]
    intake_family_limits_per_phone: list[RateLimit] = [
        RateLimit(count=3, seconds=3600),
        RateLimit(count=5, seconds=24 * 3600),
    ]
    # Complaints (pengaduan): the working hours a desa has to answer, per kabupaten code
    # ("32.13"), as JSON, e.g. '{"32.13": 24}'; any other kabupaten gets the default.
    # docs/public-duties.md.
    intake_complaint_deadline_working_hours: dict[str, int] = {}
    intake_complaint_default_deadline_working_hours: int = Field(default=40, gt=0)
    # A resident's kept KTP and KK photos are offered again for this many days after they were
    # uploaded (kept_documents.py; docs/design.md "Documents kept once").
    intake_kept_document_days: int = Field(default=365, gt=0)
    # Retention (UU 27/2022 PDP: kept no longer than needed; docs/public-duties.md): an ended
    # application's attachments are deleted, files included, this many days after it ended,
    # per kabupaten code as JSON (e.g. '{"32.13": 180}'); any other kabupaten gets the default.
    intake_attachment_retention_days: dict[str, int] = {}
    intake_attachment_default_retention_days: int = Field(default=365, gt=0)
    # Hand each recorded progress event to verification's task inbox as soon as it is
    # committed (task_hand_over.py), besides publishing it; off: JetStream alone.
    intake_task_hand_over: bool = True
    # How long a recorded event that opens no task (a decision) waits for its application's
    # next one, to be handed over together (task_hand_over.py). Measured under load: a
    # decision's next step is recorded 60 ms after it at the median, 300 ms at the 95th
    # percentile.
    intake_task_hand_over_hold_seconds: float = Field(default=0.5, ge=0)
    # How often the retention job runs while the service runs (it is idempotent: a missed or
    # doubled run changes nothing).
    intake_retention_interval_seconds: float = Field(default=6 * 3600, gt=0)

    @property
    def intake_db_url(self) -> str:
        return self.intake_database_url or self.sqlite_url("intake.db")

    @property
    def intake_dir(self) -> Path:
        return self.data_dir / "intake"

    @property
    def attachments_dir(self) -> Path:
        return self.intake_dir / "attachments"

    @property
    def kept_documents_dir(self) -> Path:
        return self.intake_dir / "documents"


def complaint_deadline_hours(settings: Settings, kabupaten_code: str) -> int:
    hours = settings.intake_complaint_deadline_working_hours.get(kabupaten_code)
    return (
        hours if hours and hours > 0 else settings.intake_complaint_default_deadline_working_hours
    )


def attachment_retention_days(settings: Settings, kabupaten_code: str) -> int:
    days = settings.intake_attachment_retention_days.get(kabupaten_code)
    return days if days and days > 0 else settings.intake_attachment_default_retention_days


@cache
def get_settings() -> Settings:
    return Settings()
