"""The walk-in form's scans, kept across a refusal (issue 15 item 6).

A browser never refills a file input, so a form re-shown after any refusal used to ask the
operator to choose every scan again. Each scan chosen is kept here on arrival, under an opaque
token the form carries in a hidden field, and offered again until the walk-in is filed: the
operator chooses again only a scan that was itself refused (which is dropped) or one they want
to replace. The token is bound to the staff member and their desa, so nobody else can file with
it; scans are removed when the walk-in is filed, and after `KEEP` in any case.

Kept in verification's database, not on a disk: every replica of the staff client sees them.
Nothing here checks the content: intake checks each scan when the walk-in is filed.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, and_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from services.verification.models import Staff, WalkInScan

KEEP = timedelta(hours=12)  # a working day at the counter
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
FILENAME_MAX = 120


@dataclass(frozen=True)
class Kept:
    """A scan kept for the form: what the operator is shown, and what is filed."""

    kind: str
    filename: str
    size_bytes: int
    content: bytes


def new_token() -> str:
    return uuid.uuid4().hex


def token_of(raw: str) -> str:
    """The form's token if it is one of ours in shape, else a fresh one."""
    return raw if _TOKEN.match(raw) else new_token()


def clean_filename(raw: str) -> str:
    """The browser's name for the file without any folder, short enough to show."""
    name = re.split(r"[\\/]", raw)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:FILENAME_MAX] or "berkas"


def _mine(token: str, staff: Staff) -> ColumnElement[bool]:
    return and_(
        col(WalkInScan.token) == token,
        col(WalkInScan.staff_id) == str(staff.id),
        col(WalkInScan.desa_code) == staff.desa_code,
        col(WalkInScan.created_at) >= utcnow() - KEEP,
    )


async def keep(
    session: AsyncSession, token: str, staff: Staff, kind: str, filename: str, content: bytes
) -> None:
    """Keeps (or replaces) the token's scan for this syarat; committed at once, so a refusal
    that follows does not lose it. Scans older than KEEP go at the same time."""
    await session.exec(delete(WalkInScan).where(col(WalkInScan.created_at) < utcnow() - KEEP))
    await session.exec(
        delete(WalkInScan).where(col(WalkInScan.token) == token, col(WalkInScan.kind) == kind)
    )
    session.add(
        WalkInScan(
            token=token,
            staff_id=str(staff.id),
            desa_code=staff.desa_code,
            kind=kind,
            filename=clean_filename(filename),
            size_bytes=len(content),
            content=content,
        )
    )
    await session.commit()


async def kept(session: AsyncSession, token: str, staff: Staff) -> dict[str, Kept]:
    """The token's scans by syarat; another staff member's token has none."""
    rows = await session.exec(select(WalkInScan).where(_mine(token, staff)))
    return {r.kind: Kept(r.kind, r.filename, r.size_bytes, r.content) for r in rows.all()}


async def drop(session: AsyncSession, token: str, staff: Staff, kind: str | None = None) -> None:
    """Forgets one scan (refused by intake), or every scan of the token (filed)."""
    where = and_(col(WalkInScan.token) == token, col(WalkInScan.staff_id) == str(staff.id))
    if kind is not None:
        where = and_(where, col(WalkInScan.kind) == kind)
    await session.exec(delete(WalkInScan).where(where))
    await session.commit()
