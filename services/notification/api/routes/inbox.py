"""The in-app inbox of whoever holds the token: staff (verification's tokens) or residents
(intake's tokens)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, func, select

from common.http import Problem
from services.notification.api.deps import CurrentRecipient, SessionDep
from services.notification.models import Notification, as_utc, utcnow

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


@router.post("/{notification_id}/read")
async def mark_read(
    notification_id: int, recipient: CurrentRecipient, session: SessionDep
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
