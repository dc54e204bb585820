"""What the dev WhatsApp/SMS sinks received. Mounted in the dev profile only: in production
the path does not exist (404)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from common.db import as_utc
from common.http import Problem
from common.phone import InvalidPhone, normalize_phone
from services.notification.api.deps import SessionDep
from services.notification.models import DevMessage

router = APIRouter(prefix="/dev", tags=["dev"])


class DevMessageOut(BaseModel):
    channel: str
    to: str
    subject: str | None
    body: str
    created_at: datetime


@router.get("/messages")
async def list_dev_messages(
    session: SessionDep,
    to: Annotated[str | None, Query(max_length=254)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DevMessageOut]:
    """Newest first; `to` accepts 08…, +628… or 628…, or an email address."""
    query = select(DevMessage)
    if to and "@" in to:
        query = query.where(col(DevMessage.to_address) == to.strip())
    elif to:
        try:
            address = normalize_phone(to)
        except InvalidPhone as exc:
            raise Problem(422, str(exc), code="invalid-phone") from exc
        query = query.where(col(DevMessage.to_address) == address)
    query = query.order_by(col(DevMessage.created_at).desc(), col(DevMessage.id).desc())
    messages = (await session.exec(query.limit(limit))).all()
    return [
        DevMessageOut(
            channel=m.channel,
            to=m.to_address,
            subject=m.subject,
            body=m.body,
            created_at=as_utc(m.created_at),
        )
        for m in messages
    ]
