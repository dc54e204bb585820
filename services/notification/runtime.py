"""What a running notification service holds; built and torn down by main's lifespan."""

from dataclasses import dataclass, field

import grpc
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import TokenVerifier
from common.messaging import Consumer
from services.notification.channels import Channel
from services.notification.config import Settings
from services.notification.dispatcher import Dispatcher
from services.notification.event_handler import EventHandler
from services.notification.recipients import RecipientLookup


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    token_verifier: TokenVerifier
    channels: dict[str, Channel]
    intake_channel: grpc.aio.Channel
    verification_channel: grpc.aio.Channel
    recipients: RecipientLookup
    dispatcher: Dispatcher
    handler: EventHandler
    nats: NATS | None = None
    js: JetStreamContext | None = None
    consumers: list[Consumer] = field(default_factory=list)
