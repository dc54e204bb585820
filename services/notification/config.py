from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr

from common.config import CommonSettings


class Settings(CommonSettings):
    notification_http_host: str = "127.0.0.1"
    notification_http_port: int = 8003
    # NotificationService (a resident's preferences, for the portal's settings page).
    notification_grpc_host: str = "127.0.0.1"
    notification_grpc_port: int = 50054
    notification_database_url: str | None = None

    # Channel providers by name. Unset means "dev" (the local sink) in the dev profile and a
    # refusal to start in production. Real provider adapters register in channels.PROVIDERS.
    notification_whatsapp_provider: str | None = None  # "whatsapp-cloud" or "dev"
    notification_sms_provider: str | None = None  # "zenziva" or "dev"
    notification_email_provider: str | None = None  # "smtp" or "dev"

    # Email over SMTP.
    notification_smtp_host: str | None = None
    notification_smtp_port: int = 587
    notification_smtp_username: str | None = None
    notification_smtp_password: SecretStr | None = None
    notification_smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    notification_email_from: str | None = None  # e.g. "Smart Desa <noreply@subang.go.id>"

    # WhatsApp Cloud API (Meta Graph API) and its webhook.
    notification_whatsapp_api_base: str = "https://graph.facebook.com"
    notification_whatsapp_api_version: str = "v21.0"
    notification_whatsapp_phone_number_id: str | None = None
    notification_whatsapp_access_token: SecretStr | None = None
    notification_whatsapp_language: str = "id"
    # The app secret signs webhook bodies (X-Hub-Signature-256); the verify token answers
    # Meta's subscription check. Without them the webhook answers 503.
    notification_whatsapp_app_secret: SecretStr | None = None
    notification_whatsapp_verify_token: SecretStr | None = None
    # Conversations: residents' messages to the number are answered (docs/whatsapp.md). Each
    # number's chat is a Temporal workflow this service runs (it connects to Temporal only
    # then). A letter request left halfway expires after this many days, with a message.
    notification_whatsapp_chat: bool = False
    notification_whatsapp_chat_expire_days: float = 3.0

    # SMS through Zenziva.
    notification_zenziva_url: str = "https://console.zenziva.net/reguler/api/sendsms/"
    notification_zenziva_userkey: str | None = None
    notification_zenziva_passkey: SecretStr | None = None

    # Where residents open a signed letter link (intake's public address) and how long it lives.
    # Unset: intake's dev address on its configured port.
    notification_letter_link_base_url: str | None = None
    intake_http_port: int = 8000
    notification_letter_link_hours: int = 72

    # In-app live updates (server-sent events): how often a stream looks for new items, and a
    # keep-alive comment so proxies do not close a quiet stream.
    notification_sse_poll_seconds: float = 1.0
    notification_sse_keepalive_seconds: float = 15.0

    # Delivery retries: exponential backoff from `base` seconds, capped, bounded attempts.
    notification_max_attempts: int = 8
    notification_retry_base_seconds: float = 5.0
    notification_retry_cap_seconds: float = 600.0
    notification_dispatch_poll_seconds: float = 2.0

    # Public events of this many applications (or complaints) handled at once, each
    # application's in order (common/messaging.Consumer's lanes); 1: one event at a time.
    notification_event_lanes: int = Field(default=8, ge=1)

    @property
    def letter_link_base_url(self) -> str:
        return self.notification_letter_link_base_url or f"http://127.0.0.1:{self.intake_http_port}"

    @property
    def database_url(self) -> str:
        return self.notification_database_url or self.sqlite_url("notification.db")


@lru_cache
def get_settings() -> Settings:
    return Settings()
