"""Notification's NotificationService as another service meets it: the real servicer behind
common.rpc.GrpcServer (internal-token check included) on a SQLite database of its own."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.config import CommonSettings
from common.db import create_engine, create_tables, session_factory
from common.rpc import NOTIFICATION, GrpcServer
from common.secrets import ensure_dev_secrets
from services.notification.models import TABLES
from services.notification.servicer import NotificationServicer, register


@dataclass
class NotificationPeer:
    sessions: async_sessionmaker[AsyncSession]
    server: GrpcServer
    servicer: NotificationServicer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@asynccontextmanager
async def notification_peer(settings: CommonSettings) -> AsyncIterator[NotificationPeer]:
    ensure_dev_secrets(settings)  # the internal-token secret both sides share
    engine = create_engine(settings.sqlite_url("notification-peer.db"))
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    server = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(settings, NOTIFICATION),
        ["smartdesa.v1.NotificationService"],
        register(servicer := NotificationServicer(sessions)),
    )
    await server.start()
    try:
        yield NotificationPeer(sessions=sessions, server=server, servicer=servicer)
    finally:
        await server.stop(0)
        await engine.dispose()
