"""The in-app inbox of whoever holds the token: staff (verification's tokens) or residents
(intake's tokens). New items are also pushed live over server-sent events (`/inbox/stream`)."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, func, select

from common.db import as_utc, utcnow
from common.http import Problem
from common.numbers import parse_natural
from services.notification.api.deps import CurrentRecipient, RuntimeDep, SessionDep
from services.notification.models import Notification

router = APIRouter(prefix="/inbox", tags=["inbox"])


class InboxItem(BaseModel):
    id: int
    title: str
    body: str
    link: str | None
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, note: Notification) -> "InboxItem":
        assert note.id is not None
        return cls(
            id=note.id,
            title=note.title,
            body=note.body,
            link=note.link,
            created_at=as_utc(note.created_at),
            read=note.read_at is not None,
        )


class UnreadCount(BaseModel):
    unread: int


@router.get("")
async def list_inbox(
    recipient: CurrentRecipient,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    unread_only: bool = False,
) -> list[InboxItem]:
    """Newest first."""
    query = select(Notification).where(col(Notification.recipient) == recipient)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    notes = (await session.exec(query.limit(limit))).all()
    return [InboxItem.of(n) for n in notes]


@router.get("/unread-count")
async def unread_count(recipient: CurrentRecipient, session: SessionDep) -> UnreadCount:
    count = (
        await session.exec(
            select(func.count())
            .select_from(Notification)
            .where(col(Notification.recipient) == recipient)
            .where(col(Notification.read_at).is_(None))
        )
    ).one()
    return UnreadCount(unread=count)


class MarkedRead(BaseModel):
    marked: int


@router.post("/read-all")
async def mark_all_read(recipient: CurrentRecipient, session: SessionDep) -> MarkedRead:
    """Everything in the inbox read at once; answers how many were unread."""
    result = await session.exec(
        update(Notification)
        .where(col(Notification.recipient) == recipient)
        .where(col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    await session.commit()
    return MarkedRead(marked=int(result.rowcount))


# The id column is a 32-bit integer on PostgreSQL (and SQLite refuses past 64 bits): an id
# beyond it cannot exist, and would make the query fail instead of answering.
MAX_NOTIFICATION_ID = 2**31 - 1
NotificationId = Annotated[int, Path(ge=1, le=MAX_NOTIFICATION_ID)]


@router.post("/{notification_id}/read")
async def mark_read(
    notification_id: NotificationId, recipient: CurrentRecipient, session: SessionDep
) -> InboxItem:
    """Idempotent. Someone else's notification is answered as if it did not exist."""
    note = await session.get(Notification, notification_id)
    if note is None or note.recipient != recipient:
        raise Problem(404, "Pemberitahuan tidak ditemukan.", code="notification-not-found")
    if note.read_at is None:
        note.read_at = utcnow()
        session.add(note)
        await session.commit()
    return InboxItem.of(note)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def stream_inbox(
    request: Request,
    recipient: CurrentRecipient,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    """New inbox items as they arrive: `event: notification`, `id: <item id>`, `data: <item
    JSON>`. A reconnecting client sends `Last-Event-ID` and receives what it missed; a new one
    starts from now. The stream reads the database (not process memory), so it works whichever
    instance stored the item. Send the token in the Authorization header (a fetch-based
    EventSource): tokens never go in URLs."""
    resume_after = parse_natural(last_event_id)
    if last_event_id is not None and (resume_after is None or resume_after > MAX_NOTIFICATION_ID):
        raise Problem(422, "Last-Event-ID harus berupa angka.", code="invalid-last-event-id")
    async with runtime.sessions() as session:
        if resume_after is not None:
            after = resume_after
        else:
            newest = (
                await session.exec(
                    select(func.max(Notification.id)).where(
                        col(Notification.recipient) == recipient
                    )
                )
            ).one()
            after = int(newest or 0)
    poll = runtime.settings.notification_sse_poll_seconds
    keepalive = runtime.settings.notification_sse_keepalive_seconds

    async def events() -> AsyncIterator[str]:
        nonlocal after
        yield f"retry: {int(max(poll, 1.0) * 1000)}\n\n"
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            async with runtime.sessions() as session:
                notes = (
                    await session.exec(
                        select(Notification)
                        .where(col(Notification.recipient) == recipient)
                        .where(col(Notification.id) > after)
                        .order_by(col(Notification.id))
                        .limit(50)
                    )
                ).all()
            for note in notes:
                item = InboxItem.of(note)
                after = item.id
                yield f"event: notification\nid: {item.id}\ndata: {item.model_dump_json()}\n\n"
            if notes:
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since >= keepalive:
                yield ": keepalive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(poll)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
