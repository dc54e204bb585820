"""The desa's routes per letter type, the letter types it offers and its working calendar, as
staff read and change them: the one path of the API (/routes, /settings) and the pages
(/pengaturan/surat, /pengaturan/jam-kerja). Who may change what is the callers' dependency
(`RouteEditor` for routes and offered types, `DesaManager` for the calendar); the rules are
`routes.py`'s, and a refusal is a domain error.

A change applies to letters submitted afterwards: a running letter keeps the route it started
with (the workflow resolves its route once, at the start).
"""

import json
import logging
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain.errors import Invalid, NotFound
from services.verification.catalogue import Catalogue
from services.verification.models import ApplicationRecord, DesaSettings, RouteOverride, Staff
from services.verification.routes import (
    MAX_STEPS,
    DayHours,
    DesaRules,
    LetterRoute,
    StepSpec,
    hours_to_json,
    not_offered,
    route_for,
    route_override,
    route_problems,
    route_to_json,
    rules_for,
    rules_problems,
    set_offered,
    with_hours,
)

log = logging.getLogger(__name__)


class StepIO(BaseModel):
    role: str = Field(max_length=40)
    deadline_working_hours: int = 8
    skippable: bool = False


class RouteIn(BaseModel):
    steps: list[StepIO] = Field(max_length=MAX_STEPS * 2)
    signer_role: str = Field(max_length=40)
    on_behalf_of_role: str = Field(default="", max_length=40)


class RouteOut(RouteIn):
    letter_type: str
    name: str
    customized: bool  # the desa's own route rather than the default
    offered: bool = True  # the desa offers this letter type to residents
    updated_by: str | None = None
    updated_at: datetime | None = None


class DayHoursIO(BaseModel):
    """One working weekday's hours, e.g. {"weekday": 5, "start": "07:30", "end": "11:00"}."""

    weekday: int = Field(ge=1, le=7)  # ISO, Monday = 1
    start: str = Field(pattern=r"^[0-9]{2}[:.][0-9]{2}$")
    end: str = Field(pattern=r"^[0-9]{2}[:.][0-9]{2}$")


class SettingsIO(BaseModel):
    # One schedule for every workday (what clients sent before `hours`); ignored when `hours`
    # is given, and in answers a summary of it (earliest opening, latest closing).
    start_hour: int = 8
    end_hour: int = 16
    workdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], max_length=7)
    local_days_off: list[str] = Field(default_factory=list, max_length=366)
    max_revision_rounds: int
    resubmit_days: int
    operator_may_edit_routes: bool = False
    # Each working weekday's own hours, to the half hour (Friday shorter, ...).
    hours: list[DayHoursIO] | None = Field(default=None, max_length=7)


class SettingsOut(SettingsIO):
    desa_code: str
    customized: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


async def known(catalogue: Catalogue, letter_type: str) -> str:
    """The catalogue's code of the letter type; NotFound for an unknown one."""
    code = letter_type.upper()
    if await catalogue.known(code) is None:
        raise NotFound("unknown-letter-type", f"Jenis surat '{letter_type}' tidak dikenal.")
    return code


async def _route_out(
    session: AsyncSession, catalogue: Catalogue, desa_code: str, code: str
) -> RouteOut:
    found = await route_for(session, desa_code, code, catalogue)
    known_type = await catalogue.known(code)
    assert found is not None and known_type is not None  # code is a known letter type
    route, customized = found
    row = await route_override(session, desa_code, code) if customized else None
    off = await not_offered(session, desa_code)
    return RouteOut(
        letter_type=code,
        name=known_type.name,
        steps=[StepIO(**vars(s)) for s in route.steps],
        signer_role=route.signer_role,
        on_behalf_of_role=route.on_behalf_of_role,
        customized=customized,
        offered=code not in off,
        updated_by=row.updated_by if row else None,
        updated_at=as_utc(row.updated_at) if row else None,
    )


async def routes_of(session: AsyncSession, catalogue: Catalogue, desa_code: str) -> list[RouteOut]:
    """Every type residents may request, in the catalogue's order."""
    current = await catalogue.current()
    return [
        await _route_out(session, catalogue, desa_code, code)
        for code, t in current.items()
        if t.online
    ]


async def route_of(
    session: AsyncSession, catalogue: Catalogue, desa_code: str, letter_type: str
) -> RouteOut:
    return await _route_out(session, catalogue, desa_code, await known(catalogue, letter_type))


async def save_route(
    session: AsyncSession, catalogue: Catalogue, staff: Staff, letter_type: str, body: RouteIn
) -> RouteOut:
    """The desa's own route of the letter type; Invalid (`errors`: every broken rule)."""
    code = await known(catalogue, letter_type)
    route = LetterRoute(
        steps=tuple(
            StepSpec(s.role.strip(), s.deadline_working_hours, s.skippable) for s in body.steps
        ),
        signer_role=body.signer_role.strip(),
        on_behalf_of_role=body.on_behalf_of_role.strip(),
    )
    problems = route_problems(route)
    if problems:
        raise Invalid("invalid-route", " ".join(problems), errors=problems)
    row = await route_override(session, staff.desa_code, code)
    if row is None:
        row = RouteOverride(
            desa_code=staff.desa_code,
            letter_type=code,
            steps_json="",
            signer_role="",
            updated_by=staff.username,
        )
    row.steps_json = route_to_json(route.steps)
    row.signer_role = route.signer_role
    row.on_behalf_of_role = route.on_behalf_of_role
    row.updated_by = staff.username
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()
    log.info("route of %s in desa %s changed by staff %s", code, staff.desa_code, staff.id)
    return await _route_out(session, catalogue, staff.desa_code, code)


async def reset_route(
    session: AsyncSession, catalogue: Catalogue, staff: Staff, letter_type: str
) -> RouteOut:
    """Back to the default route of the letter type."""
    code = await known(catalogue, letter_type)
    row = await route_override(session, staff.desa_code, code)
    if row is not None:
        await session.delete(row)
        await session.commit()
        log.info("route of %s in desa %s reset by staff %s", code, staff.desa_code, staff.id)
    return await _route_out(session, catalogue, staff.desa_code, code)


async def offer(
    session: AsyncSession, catalogue: Catalogue, staff: Staff, letter_type: str, offered: bool
) -> RouteOut:
    """Whether the desa offers this letter type: residents (and walk-in registration) can only
    start letters of offered types. Letters already started are not affected."""
    code = await known(catalogue, letter_type)
    await set_offered(session, staff.desa_code, code, offered, staff.username)
    log.info(
        "letter type %s in desa %s %s by staff %s",
        code,
        staff.desa_code,
        "offered" if offered else "withdrawn",
        staff.id,
    )
    return await _route_out(session, catalogue, staff.desa_code, code)


def minutes_of(text: str) -> int:
    """'07:30' or '07.30' -> 450 (the form's and the API's way of writing a time)."""
    hours, minutes = int(text[:2]), int(text[3:])
    return hours * 60 + minutes if minutes < 60 else -1


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


async def letters_in_progress(
    session: AsyncSession, catalogue: Catalogue, desa_code: str, letter_type: str
) -> int:
    """How many letters of this type the desa has submitted and not yet closed (issued,
    rejected, cancelled or expired): what stopping the service leaves running to the end."""
    code = await known(catalogue, letter_type)
    query = select(func.count()).where(
        col(ApplicationRecord.desa_code) == desa_code,
        col(ApplicationRecord.letter_type) == code,
        col(ApplicationRecord.closed_at).is_(None),
    )
    return int((await session.exec(query)).one())


def _settings_out(desa_code: str, rules: DesaRules, row: DesaSettings | None) -> SettingsOut:
    return SettingsOut(
        desa_code=desa_code,
        start_hour=rules.start_hour,
        end_hour=rules.end_hour,
        workdays=list(rules.workdays),
        local_days_off=list(rules.local_days_off),
        max_revision_rounds=rules.max_revision_rounds,
        resubmit_days=rules.resubmit_days,
        operator_may_edit_routes=rules.operator_may_edit_routes,
        hours=[
            DayHoursIO(weekday=d.weekday, start=hhmm(d.start_minute), end=hhmm(d.end_minute))
            for d in rules.schedule
        ],
        customized=row is not None,
        updated_by=row.updated_by if row else None,
        updated_at=as_utc(row.updated_at) if row else None,
    )


async def settings_of(session: AsyncSession, desa_code: str) -> SettingsOut:
    row = await session.get(DesaSettings, desa_code)
    return _settings_out(desa_code, await rules_for(session, desa_code), row)


async def store_rules(
    session: AsyncSession, office_code: str, rules: DesaRules, by: str, office: str = "desa"
) -> DesaSettings:
    """Checks and stores an office's calendar and rules (a desa's by its code; a kecamatan's,
    or the kabupaten's default for its kecamatan, by theirs: kecamatan.py) and commits;
    Invalid (`errors`: every broken rule)."""
    problems = rules_problems(rules, office)
    if problems:
        raise Invalid("invalid-settings", " ".join(problems), errors=problems)
    # One schedule for every workday (an older client's body) is stored per day too.
    rules = with_hours(rules, rules.schedule)
    days_off = sorted({date.fromisoformat(d).isoformat() for d in rules.local_days_off})
    row = await session.get(DesaSettings, office_code)
    if row is None:
        row = DesaSettings(
            desa_code=office_code,
            start_hour=0,
            end_hour=0,
            workdays_json="[]",
            local_days_off_json="[]",
            max_revision_rounds=0,
            resubmit_days=0,
            updated_by=by,
        )
    row.hours_json = hours_to_json(rules.schedule)
    row.start_hour = rules.start_hour
    row.end_hour = rules.end_hour
    row.workdays_json = json.dumps(sorted(rules.workdays))
    row.local_days_off_json = json.dumps(days_off)
    row.max_revision_rounds = rules.max_revision_rounds
    row.resubmit_days = rules.resubmit_days
    row.operator_may_edit_routes = rules.operator_may_edit_routes
    row.updated_by = by
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()
    return row


def hours_of(body: list[DayHoursIO]) -> tuple[DayHours, ...]:
    """The week's hours as typed; Invalid when no day is left."""
    if not body:
        raise Invalid(
            "invalid-settings",
            "Paling sedikit satu hari kerja dalam seminggu.",
            errors=["Paling sedikit satu hari kerja dalam seminggu."],
        )
    return tuple(DayHours(d.weekday, minutes_of(d.start), minutes_of(d.end)) for d in body)


async def save_settings(session: AsyncSession, staff: Staff, body: SettingsIO) -> SettingsOut:
    """The desa's calendar and revision rules; Invalid (`errors`: every broken rule)."""
    rules = DesaRules(
        start_hour=body.start_hour,
        end_hour=body.end_hour,
        workdays=tuple(body.workdays),
        local_days_off=tuple(d.strip() for d in body.local_days_off),
        max_revision_rounds=body.max_revision_rounds,
        resubmit_days=body.resubmit_days,
        operator_may_edit_routes=body.operator_may_edit_routes,
    )
    if body.hours is not None:
        rules = with_hours(rules, hours_of(body.hours))
    row = await store_rules(session, staff.desa_code, rules, staff.username)
    log.info("settings of desa %s changed by staff %s", staff.desa_code, staff.id)
    return _settings_out(staff.desa_code, await rules_for(session, staff.desa_code), row)
