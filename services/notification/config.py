from functools import lru_cache

from common.config import CommonSettings


class Settings(CommonSettings):
    notification_http_host: str = "127.0.0.1"
    notification_http_port: int = 8003
    notification_database_url: str | None = None

    # Channel providers by name. Unset means "dev" (the local sink) in the dev profile and a
    # refusal to start in production. Real provider adapters register in channels.PROVIDERS.
    notification_whatsapp_provider: str | None = None
    notification_sms_provider: str | None = None

    # Delivery retries: exponential backoff from `base` seconds, capped, bounded attempts.
    notification_max_attempts: int = 8
    notification_retry_base_seconds: float = 5.0
    notification_retry_cap_seconds: float = 600.0
    notification_dispatch_poll_seconds: float = 2.0

    @property
    def database_url(self) -> str:
        return self.notification_database_url or self.sqlite_url("notification.db")


@lru_cache
def get_settings() -> Settings:
    return Settings()
