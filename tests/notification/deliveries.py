"""Deliveries in a real notification database, with a clock the test moves: the dispatcher's
tests and the providers' retry tests share them."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import create_engine, create_tables, session_factory
from services.notification.channels import WHATSAPP
from services.notification.models import TABLES, Delivery, DeliveryAttempt, DevMessage

PHONE = "6281234567890"

E = TypeVar("E", bound="DeliveryEnv")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 7, 21, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class DeliveryEnv:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock

    async def add_delivery(self, **overrides: object) -> int:
        """A delivery due now; by default a one-time code by WhatsApp to a resident."""
        values: dict[str, object] = {
            "channel": WHATSAPP,
            "recipient": "resident:r1",
            "to_address": PHONE,
            "body": "Kode masuk Smart Desa Anda: 123456.",
            "template": "otp.whatsapp",
            "template_version": "1",
            "event_id": "ev-1",
            "next_attempt_at": self.clock.now,
            **overrides,
        }
        delivery = Delivery.model_validate(values)
        async with self.sessions() as session:
            session.add(delivery)
            await session.commit()
            assert delivery.id is not None
            return delivery.id

    async def delivery(self, delivery_id: int) -> Delivery:
        async with self.sessions() as session:
            found = await session.get(Delivery, delivery_id)
            assert found is not None
            return found

    async def attempts(self, delivery_id: int) -> list[DeliveryAttempt]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(DeliveryAttempt)
                .where(col(DeliveryAttempt.delivery_id) == delivery_id)
                .order_by(col(DeliveryAttempt.number))
            )
            return list(rows.all())

    async def dev_messages(self) -> list[DevMessage]:
        async with self.sessions() as session:
            return list((await session.exec(select(DevMessage))).all())


@asynccontextmanager
async def delivery_env(data_dir: Path, kind: type[E]) -> AsyncIterator[E]:
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'notification.db'}")
    await create_tables(engine, TABLES)
    try:
        yield kind(session_factory(engine), Clock())
    finally:
        await engine.dispose()
