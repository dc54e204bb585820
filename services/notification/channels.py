"""Channels a delivery can go out on, behind one small interface.

A channel adapter sends one text to one address and answers the provider's message id, or
raises `TemporaryDeliveryError` (worth retrying: timeouts, 5xx, 429) or `PermanentDeliveryError`
(never: invalid number, refused content). Real providers (WhatsApp Cloud API, an SMS gateway)
register a factory in `PROVIDERS` under their name and are chosen per channel by settings.
"""

import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.phone import InvalidPhone, normalize_phone
from services.notification.config import Settings
from services.notification.models import DevMessage

log = logging.getLogger(__name__)

WHATSAPP = "whatsapp"
SMS = "sms"
ALL_CHANNELS = (WHATSAPP, SMS)


class DeliveryError(Exception):
    pass


class TemporaryDeliveryError(DeliveryError):
    """The provider may take it later: retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The provider will never take it: do not retry."""


class Channel(Protocol):
    async def send(self, to: str, body: str) -> str:
        """Hand `body` to the provider for `to`; returns the provider's message id."""
        ...


class DevSink:
    """The dev profile's provider: stores what it "received" for the developer to read at
    GET /dev/messages."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], channel: str) -> None:
        self._sessions = sessions
        self._channel = channel

    async def send(self, to: str, body: str) -> str:
        try:
            address = normalize_phone(to)
        except InvalidPhone as exc:
            raise PermanentDeliveryError("not an Indonesian mobile number") from exc
        async with self._sessions() as session:
            session.add(DevMessage(channel=self._channel, to_address=address, body=body))
            await session.commit()
        return f"dev-{uuid.uuid4()}"


ProviderFactory = Callable[[Settings, async_sessionmaker[AsyncSession], str], Channel]

PROVIDERS: dict[str, ProviderFactory] = {
    "dev": lambda _settings, sessions, channel: DevSink(sessions, channel),
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
        if provider == "dev" and not settings.is_dev:
            log.warning(
                "the %s channel goes to the dev sink in production: nothing is sent", channel
            )
        channels[channel] = factory(settings, sessions, channel)
    return channels
