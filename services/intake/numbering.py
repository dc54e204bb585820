"""Application numbers: what the resident, desa staff and Diskominfo call an application, e.g.
SKU-2026-000123 (letter type code, year in WIB, a sequence per letter type and year).

The sequence runs across the whole kabupaten, not per desa: Diskominfo's runbook starts from
the number alone, so it must name one application without the desa beside it, and it stays
short. It is given when the application is first submitted (before its approval starts, so
every event and message after that can name it), never changes and never repeats; a number
taken by a submission whose start failed is kept by that application, so numbers may skip.
"""

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.wib import WIB
from services.intake.models import ApplicationCounter, LetterApplication


def format_number(letter_type: str, year: int, sequence: int) -> str:
    return f"{letter_type}-{year}-{sequence:06d}"


async def _next_sequence(session: AsyncSession, letter_type: str, year: int) -> int:
    """One atomic upsert: concurrent submissions of the same type each get their own value."""
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ApplicationCounter).values(letter_type=letter_type, year=year, last=1)
    statement = insert.on_conflict_do_update(
        index_elements=["letter_type", "year"],
        set_={"last": col(ApplicationCounter.last) + 1},
    ).returning(col(ApplicationCounter.last))
    sequence: int = (await session.exec(statement)).scalar_one()
    return sequence


async def assign_number(session: AsyncSession, application: LetterApplication, at: datetime) -> str:
    """The application's number, given now (committed) if it has none yet."""
    if application.number:
        return application.number
    year = at.astimezone(WIB).year
    number = format_number(
        application.letter_type, year, await _next_sequence(session, application.letter_type, year)
    )
    given = await session.exec(
        update(LetterApplication)
        .where(col(LetterApplication.id) == application.id)
        .where(col(LetterApplication.number).is_(None))
        .values(number=number)
    )
    if given.rowcount == 0:  # a concurrent submit of the same application gave it one
        await session.rollback()
        await session.refresh(application)
        assert application.number is not None
        return application.number
    await session.commit()
    # What was just committed, without reading the row again (nor marking it changed).
    set_committed_value(application, "number", number)
    return number


async def find_by_number(session: AsyncSession, number: str) -> LetterApplication | None:
    normalized = number.strip().upper()
    return (
        await session.exec(select(LetterApplication).where(LetterApplication.number == normalized))
    ).first()
