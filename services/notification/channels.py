"""Channels a delivery can go out on, behind one small interface.

A channel adapter hands one `Outgoing` message to its provider and answers the provider's message
id, or raises `TemporaryDeliveryError` (worth retrying: timeouts, 4xx SMTP replies, HTTP 5xx and
429) or `PermanentDeliveryError` (never: invalid number, refused content, a template the
provider does not know). Providers are configuration: each channel names one in settings
(`SMARTDESA_NOTIFICATION_<CHANNEL>_PROVIDER`), and its factory is looked up in `PROVIDERS`.

- email: "smtp" (`EmailChannel`, aiosmtplib).
- whatsapp: "whatsapp-cloud" (`WhatsAppCloudChannel`, Meta's Graph API, approved templates).
- sms: "zenziva" (`ZenzivaSmsChannel`, an Indonesian SMS gateway's HTTP API).
- any of them: "dev" (`DevSink`), the dev profile's readable sink at GET /dev/messages.
"""

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.phone import InvalidPhone, normalize_phone
from services.notification.config import Settings
from services.notification.models import DevMessage

log = logging.getLogger(__name__)

WHATSAPP = "whatsapp"
SMS = "sms"
EMAIL = "email"
ALL_CHANNELS = (WHATSAPP, SMS, EMAIL)

HTTP_TIMEOUT_SECONDS = 15.0
# WhatsApp "authentication" templates: the code also fills the copy-code button.
OTP_TEMPLATES = frozenset({"otp.whatsapp"})


class DeliveryError(Exception):
    pass


class TemporaryDeliveryError(DeliveryError):
    """The provider may take it later: retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The provider will never take it: do not retry."""


class MediaTooLarge(Exception):
    """A file a resident sent is larger than an attachment may be."""


class MediaUnreadable(Exception):
    """A file a resident sent cannot be fetched (expired, deleted, refused)."""


@dataclass(frozen=True)
class Outgoing:
    """One message as a provider needs it. `to` and `body` are personal data: never log them."""

    to: str
    body: str
    subject: str | None = None  # email
    template: str = ""  # our template name, e.g. "letter_issued.whatsapp"
    template_version: str = ""
    # Values in the approved template's order ({{1}}, {{2}} …), for WhatsApp.
    params: tuple[str, ...] = field(default_factory=tuple)
    # WhatsApp authentication templates (one-time codes) repeat the code in a button.
    otp_button: bool = False


class Channel(Protocol):
    async def send(self, message: Outgoing) -> str:
        """Hand `message` to the provider; returns the provider's message id."""
        ...


def _phone(to: str) -> str:
    try:
        return normalize_phone(to)
    except InvalidPhone as exc:
        raise PermanentDeliveryError("not an Indonesian mobile number") from exc


class DevSink:
    """The dev profile's provider: stores what it "received" for the developer to read at
    GET /dev/messages."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], channel: str) -> None:
        self._sessions = sessions
        self._channel = channel

    async def send(self, message: Outgoing) -> str:
        if self._channel == EMAIL:
            if "@" not in message.to:
                raise PermanentDeliveryError("not an email address")
            address = message.to
        else:
            address = _phone(message.to)
        async with self._sessions() as session:
            session.add(
                DevMessage(
                    channel=self._channel,
                    to_address=address,
                    body=message.body,
                    subject=message.subject,
                )
            )
            await session.commit()
        return f"dev-{uuid.uuid4()}"

    async def send_payload(self, payload: dict[str, Any]) -> str:
        """A chat message as the Cloud API would get it, kept as JSON (list rows, buttons and
        all) for the developer to read."""
        address = _phone(str(payload.get("to", "")))
        async with self._sessions() as session:
            session.add(
                DevMessage(
                    channel=self._channel,
                    to_address=address,
                    body=json.dumps(payload, ensure_ascii=False),
                )
            )
            await session.commit()
        return f"dev-{uuid.uuid4()}"

    async def download_media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        """The dev sink holds no media: a file sent by `make chat` cannot be fetched."""
        raise MediaUnreadable("the dev sink holds no media")


class EmailChannel:
    """Email over SMTP (aiosmtplib). 4xx replies (451 greylisting, 421 busy) and lost
    connections are temporary; 5xx replies are permanent."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        security: str = "starttls",
        timeout: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._security = security
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> "EmailChannel":
        if not settings.notification_smtp_host or not settings.notification_email_from:
            raise ChannelConfigError(
                "the smtp provider needs SMARTDESA_NOTIFICATION_SMTP_HOST and "
                "SMARTDESA_NOTIFICATION_EMAIL_FROM"
            )
        password = settings.notification_smtp_password
        return cls(
            host=settings.notification_smtp_host,
            port=settings.notification_smtp_port,
            sender=settings.notification_email_from,
            username=settings.notification_smtp_username,
            password=password.get_secret_value() if password else None,
            security=settings.notification_smtp_security,
        )

    async def send(self, message: Outgoing) -> str:
        if "@" not in message.to:
            raise PermanentDeliveryError("not an email address")
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject or "Smart Desa"
        message_id = f"<{uuid.uuid4()}@smartdesa>"
        email["Message-ID"] = message_id
        email["Content-Language"] = "id"
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._security == "tls",
                start_tls=True if self._security == "starttls" else False,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(400 <= c < 500 for c in codes):
                raise TemporaryDeliveryError(f"recipient deferred: {codes}") from exc
            raise PermanentDeliveryError(f"recipient refused: {codes}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise TemporaryDeliveryError(f"SMTP {exc.code}") from exc
            raise PermanentDeliveryError(f"SMTP {exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryDeliveryError(f"SMTP unreachable: {type(exc).__name__}") from exc
        return message_id


# WhatsApp Cloud API error codes (error.code) worth a retry; the rest of the 4xx are final.
_WHATSAPP_TEMPORARY_CODES = {
    1,  # API unknown
    2,  # API service (temporary downtime)
    4,  # application request limit
    80007,  # rate limit
    130429,  # throughput rate limit
    131000,  # something went wrong
    131016,  # service unavailable
    131056,  # pair rate limit (same number too often)
    133004,  # server temporarily unavailable
}


class WhatsAppCloudChannel:
    """WhatsApp through Meta's Cloud API: `POST {base}/{version}/{phone_number_id}/messages` with
    `Authorization: Bearer <token>` and an approved template message:

        {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "628…",
         "type": "template",
         "template": {"name": "<approved name>", "language": {"code": "id"},
                      "components": [{"type": "body",
                                      "parameters": [{"type": "text", "text": "…"}]}]}}

    Success is 200 with `{"messages": [{"id": "wamid…"}], …}`; errors come as
    `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`. Outside the 24-hour
    customer-service window only templates may be sent, which is every message we send. Our
    template "letter_issued.whatsapp" version 2 is approved at Meta as
    "smartdesa_letter_issued_v2", so a text change goes through approval as a new template.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        language: str = "id",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/{api_version}"
        self._url = f"{self._base}/{phone_number_id}/messages"
        self._token = access_token
        self._language = language
        self._client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> "WhatsAppCloudChannel":
        token = settings.notification_whatsapp_access_token
        if not settings.notification_whatsapp_phone_number_id or token is None:
            raise ChannelConfigError(
                "the whatsapp-cloud provider needs SMARTDESA_NOTIFICATION_WHATSAPP_PHONE_NUMBER_ID "
                "and SMARTDESA_NOTIFICATION_WHATSAPP_ACCESS_TOKEN"
            )
        return cls(
            base_url=settings.notification_whatsapp_api_base,
            api_version=settings.notification_whatsapp_api_version,
            phone_number_id=settings.notification_whatsapp_phone_number_id,
            access_token=token.get_secret_value(),
            language=settings.notification_whatsapp_language,
        )

    @staticmethod
    def approved_name(template: str, version: str) -> str:
        return f"smartdesa_{template.replace('.whatsapp', '').replace('.', '_')}_v{version}"

    def payload(self, message: Outgoing) -> dict[str, Any]:
        components: list[dict[str, Any]] = []
        if message.params:
            components.append(
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in message.params],
                }
            )
        if message.otp_button and message.params:
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": message.params[0]}],
                }
            )
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _phone(message.to),
            "type": "template",
            "template": {
                "name": self.approved_name(message.template, message.template_version),
                "language": {"code": self._language},
                "components": components,
            },
        }

    async def send(self, message: Outgoing) -> str:
        return await self.send_payload(self.payload(message))

    async def send_payload(self, payload: dict[str, Any]) -> str:
        """Any message the Cloud API takes (a template, or within the 24-hour window text and
        interactive lists and buttons); answers its id."""
        try:
            response = await self._client.post(
                self._url, json=payload, headers={"Authorization": f"Bearer {self._token}"}
            )
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"WhatsApp unreachable: {type(exc).__name__}") from exc
        if response.status_code == 200:
            try:
                return str(response.json()["messages"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                # Taken but unreadable: do not send again (it may have gone out).
                log.error("WhatsApp answered 200 without a message id")
                return f"unknown-{uuid.uuid4()}"
        code = _error_code(response)
        detail = f"WhatsApp HTTP {response.status_code} code {code}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryDeliveryError(detail)
        if code in _WHATSAPP_TEMPORARY_CODES:
            raise TemporaryDeliveryError(detail)
        raise PermanentDeliveryError(detail)

    async def download_media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        """A file a resident sent: `GET {base}/{version}/{media_id}` answers `{"url",
        "mime_type", "file_size", "sha256", "id"}`; the URL (short-lived, same bearer token)
        answers the bytes. MediaTooLarge past `max_bytes` (declared or read), MediaUnreadable
        when either step fails for good; TemporaryDeliveryError when worth retrying."""
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            meta = await self._client.get(f"{self._base}/{media_id}", headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"WhatsApp unreachable: {type(exc).__name__}") from exc
        if meta.status_code == 429 or meta.status_code >= 500:
            raise TemporaryDeliveryError(f"WhatsApp media HTTP {meta.status_code}")
        try:
            info = meta.json()
            url, declared = str(info["url"]), int(info.get("file_size") or 0)
        except (ValueError, KeyError, TypeError) as exc:
            raise MediaUnreadable(f"WhatsApp media HTTP {meta.status_code}") from exc
        if meta.status_code != 200:
            raise MediaUnreadable(f"WhatsApp media HTTP {meta.status_code}")
        if declared > max_bytes:
            raise MediaTooLarge()
        content = bytearray()
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise TemporaryDeliveryError(f"WhatsApp media HTTP {response.status_code}")
                if response.status_code != 200:
                    raise MediaUnreadable(f"WhatsApp media HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > max_bytes:
                        raise MediaTooLarge()
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"WhatsApp unreachable: {type(exc).__name__}") from exc
        if not content:
            raise MediaUnreadable("empty media")
        return bytes(content), str(info.get("mime_type") or "")

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_code(response: httpx.Response) -> int | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, int) else None


class ZenzivaSmsChannel:
    """SMS through Zenziva (zenziva.id), an Indonesian SMS gateway. Its console API:

        POST https://console.zenziva.net/reguler/api/sendsms/
        form fields: userkey, passkey, to (08… or 628…), message

    It answers HTTP 200 with JSON `{"messageId": "…", "to": "…", "status": "1", "text":
    "Success"}`; `status` "0" is a refusal whose `text` says why (e.g. "Nomor tujuan tidak
    valid", "Saldo tidak cukup", "Userkey / Passkey salah"). An invalid number is final; anything
    else (balance, credentials being fixed, HTTP 5xx, timeouts) is worth a retry within the
    delivery's bounded attempts.
    """

    DEFAULT_URL = "https://console.zenziva.net/reguler/api/sendsms/"

    def __init__(
        self,
        *,
        url: str,
        userkey: str,
        passkey: str,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = url
        self._userkey = userkey
        self._passkey = passkey
        self._client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ZenzivaSmsChannel":
        passkey = settings.notification_zenziva_passkey
        if not settings.notification_zenziva_userkey or passkey is None:
            raise ChannelConfigError(
                "the zenziva provider needs SMARTDESA_NOTIFICATION_ZENZIVA_USERKEY and "
                "SMARTDESA_NOTIFICATION_ZENZIVA_PASSKEY"
            )
        return cls(
            url=settings.notification_zenziva_url,
            userkey=settings.notification_zenziva_userkey,
            passkey=passkey.get_secret_value(),
        )

    async def send(self, message: Outgoing) -> str:
        form = {
            "userkey": self._userkey,
            "passkey": self._passkey,
            "to": _phone(message.to),
            "message": message.body,
        }
        try:
            response = await self._client.post(self._url, data=form)
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            error: type[DeliveryError] = (
                TemporaryDeliveryError
                if response.status_code == 429 or response.status_code >= 500
                else PermanentDeliveryError
            )
            raise error(f"SMS gateway HTTP {response.status_code}")
        try:
            answer = response.json()
        except json.JSONDecodeError as exc:
            raise TemporaryDeliveryError("SMS gateway answered no JSON") from exc
        if str(answer.get("status")) == "1":
            return str(answer.get("messageId") or f"zenziva-{uuid.uuid4()}")
        text = str(answer.get("text", ""))
        if "tidak valid" in text.lower() or "invalid" in text.lower():
            raise PermanentDeliveryError(f"SMS gateway refused: {text}")
        raise TemporaryDeliveryError(f"SMS gateway refused for now: {text}")

    async def aclose(self) -> None:
        await self._client.aclose()


ProviderFactory = Callable[[Settings, async_sessionmaker[AsyncSession], str], Channel]

PROVIDERS: dict[str, ProviderFactory] = {
    "dev": lambda _settings, sessions, channel: DevSink(sessions, channel),
    "smtp": lambda settings, _sessions, _channel: EmailChannel.from_settings(settings),
    "whatsapp-cloud": lambda settings, _s, _c: WhatsAppCloudChannel.from_settings(settings),
    "zenziva": lambda settings, _sessions, _channel: ZenzivaSmsChannel.from_settings(settings),
}

# Which provider may serve which channel (a typo in configuration is a refusal to start).
PROVIDER_CHANNELS = {
    "dev": set(ALL_CHANNELS),
    "smtp": {EMAIL},
    "whatsapp-cloud": {WHATSAPP},
    "zenziva": {SMS},
}

# Channels the rules send on; production refuses to start without a provider for each.
REQUIRED_CHANNELS = (WHATSAPP,)


class ChannelConfigError(RuntimeError):
    pass


def build_channels(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> dict[str, Channel]:
    """The adapter for each configured channel. Fails loudly rather than dropping messages."""
    configured = {
        WHATSAPP: settings.notification_whatsapp_provider,
        SMS: settings.notification_sms_provider,
        EMAIL: settings.notification_email_provider,
    }
    channels: dict[str, Channel] = {}
    for channel, provider in configured.items():
        if provider is None:
            if settings.is_dev:
                provider = "dev"
            elif channel in REQUIRED_CHANNELS:
                raise ChannelConfigError(
                    f"no provider configured for the {channel} channel; set "
                    f"SMARTDESA_NOTIFICATION_{channel.upper()}_PROVIDER"
                )
            else:
                continue
        factory = PROVIDERS.get(provider)
        if factory is None:
            raise ChannelConfigError(
                f"unknown {channel} provider {provider!r}; known: {sorted(PROVIDERS)}"
            )
        if channel not in PROVIDER_CHANNELS[provider]:
            raise ChannelConfigError(f"provider {provider!r} cannot serve the {channel} channel")
        if provider == "dev" and not settings.is_dev:
            log.warning(
                "the %s channel goes to the dev sink in production: nothing is sent", channel
            )
        channels[channel] = factory(settings, sessions, channel)
    return channels


async def close_channels(channels: dict[str, Channel]) -> None:
    for channel in channels.values():
        closer = getattr(channel, "aclose", None)
        if closer is not None:
            await closer()
