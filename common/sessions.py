"""Signed-out tokens. A token is a signed statement that lives until it expires; signing out
ends it early by keeping its id (`jti`) here until it would have expired anyway. Each service
that accepts its own users' tokens keeps its own table (`EndedSessionBase` with its name)."""

from datetime import datetime

from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow


class EndedSessionBase(SQLModel):
    session_id: str = Field(primary_key=True, max_length=64)  # the token's jti
    expires_at: datetime = Field(index=True)  # after this the token is refused anyway


async def end_session(
    session: AsyncSession, table: type[EndedSessionBase], session_id: str, expires_at: datetime
) -> None:
    """Ends one token (idempotent), and forgets the ones that have expired meanwhile."""
    await session.exec(delete(table).where(col(table.expires_at) < utcnow()))
    await session.merge(table(session_id=session_id, expires_at=expires_at))
    await session.commit()


async def session_ended(
    session: AsyncSession, table: type[EndedSessionBase], session_id: str | None
) -> bool:
    if session_id is None:
        return True  # a token without an id cannot be signed out, so it is not accepted
    row = await session.exec(select(table.session_id).where(table.session_id == session_id))
    return row.first() is not None
