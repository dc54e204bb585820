from pathlib import Path

import pytest
from sqlmodel import select

from common.db import create_engine, create_tables, session_factory
from services.notification.channels import (
    EMAIL,
    SMS,
    WHATSAPP,
    ChannelConfigError,
    DevSink,
    Outgoing,
    PermanentDeliveryError,
    build_channels,
)
from services.notification.config import Settings
from services.notification.models import TABLES, DevMessage


async def test_dev_sink_stores_what_it_receives(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    engine = create_engine(settings.database_url)
    await create_tables(engine, TABLES)
    sessions = session_factory(engine)
    try:
        sink = DevSink(sessions, WHATSAPP)
        message_id = await sink.send(Outgoing(to="081234567890", body="Halo"))
        assert message_id.startswith("dev-")
        with pytest.raises(PermanentDeliveryError):
            await sink.send(Outgoing(to="12", body="Halo"))
        async with sessions() as session:
            rows = (await session.exec(select(DevMessage))).all()
        assert [(r.channel, r.to_address, r.body) for r in rows] == [
            (WHATSAPP, "6281234567890", "Halo")
        ]
    finally:
        await engine.dispose()


def test_dev_profile_sends_to_the_sinks(data_dir: Path) -> None:
    channels = build_channels(
        Settings(data_dir=data_dir), session_factory(create_engine("sqlite+aiosqlite://"))
    )
    assert set(channels) == {WHATSAPP, SMS, EMAIL}
    assert all(isinstance(c, DevSink) for c in channels.values())


def test_production_without_a_provider_refuses_to_start(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, profile="production")
    with pytest.raises(ChannelConfigError, match="NOTIFICATION_WHATSAPP_PROVIDER"):
        build_channels(settings, session_factory(create_engine("sqlite+aiosqlite://")))


def test_unknown_provider_refuses_to_start(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, notification_whatsapp_provider="fonnte")
    with pytest.raises(ChannelConfigError, match="unknown whatsapp provider"):
        build_channels(settings, session_factory(create_engine("sqlite+aiosqlite://")))
