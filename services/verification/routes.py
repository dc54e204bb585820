"""The route each letter type takes through a desa's staff, and who signs it at the end.

Routes are data: every version of a letter type in the kabupaten's catalogue has a default
route (read through services/verification/catalogue.py), and a desa may replace it with its own
(table `verification_route_override`, changed through the staff API) and set its own working
calendar and revision rules (`verification_desa_settings`). The approval workflow asks for the
route once, when the letter starts (DirectoryService.GetRoute, naming the catalogue version the
application keeps), and keeps it in its state: changing a route, or publishing a version with
another default, changes letters started afterwards, never a letter already running.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain import DESA_ROLES, Role, rank
from common.wib import DAY_NAMES
from services.verification.models import DesaSettings, LetterTypeOffer, RouteOverride

if TYPE_CHECKING:  # catalogue.py builds routes from this module's types
    from services.verification.catalogue import Catalogue

MAX_STEPS = 8
MAX_STEP_HOURS = 5 * 8 * 4  # four working weeks


@dataclass(frozen=True)
class StepSpec:
    role: str
    deadline_working_hours: int = 8
    skippable: bool = False


@dataclass(frozen=True)
class LetterRoute:
    steps: tuple[StepSpec, ...]
    signer_role: str
    on_behalf_of_role: str = ""  # the signer signs "a.n." this role

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(s.role for s in self.steps)


# Working hours are set to the half hour (a form offers 07:00, 07:30, ...).
MINUTE_STEP = 30


@dataclass(frozen=True)
class DayHours:
    """One weekday's working hours (WIB), in minutes after midnight."""

    weekday: int  # ISO, Monday = 1
    start_minute: int
    end_minute: int


def clock(minute: int) -> str:
    """450 -> '07.30' (the Indonesian way of writing a time)."""
    return f"{minute // 60:02d}.{minute % 60:02d}"


@dataclass(frozen=True)
class DesaRules:
    """When the desa works (WIB) and how the revision loop is bounded.

    `hours` gives each working weekday its own hours; a desa saved before it existed (or an
    API client that sends only start_hour, end_hour and workdays) has one schedule for every
    workday, and `schedule` answers the same for both."""

    start_hour: int = 8
    end_hour: int = 16
    workdays: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO, Monday = 1
    local_days_off: tuple[str, ...] = field(default_factory=tuple)  # ISO dates
    max_revision_rounds: int = 3
    resubmit_days: int = 14
    operator_may_edit_routes: bool = False
    hours: tuple[DayHours, ...] = ()

    @property
    def schedule(self) -> tuple[DayHours, ...]:
        """Each working weekday's hours, Monday first."""
        if self.hours:
            return tuple(sorted(self.hours, key=lambda d: d.weekday))
        return tuple(
            DayHours(d, self.start_hour * 60, self.end_hour * 60) for d in sorted(self.workdays)
        )


def with_hours(rules: DesaRules, hours: tuple[DayHours, ...]) -> DesaRules:
    """The rules with these per-day hours, and the summary fields (earliest opening, latest
    closing, the working weekdays) that older readers of the route still use."""
    if not hours:
        return rules
    return replace(
        rules,
        hours=tuple(sorted(hours, key=lambda d: d.weekday)),
        start_hour=min(d.start_minute for d in hours) // 60,
        end_hour=-(-max(d.end_minute for d in hours) // 60),
        workdays=tuple(sorted(d.weekday for d in hours)),
    )


def hours_to_json(hours: tuple[DayHours, ...]) -> str:
    return json.dumps(
        [{"weekday": d.weekday, "start": d.start_minute, "end": d.end_minute} for d in hours]
    )


def hours_from_json(text: str) -> tuple[DayHours, ...]:
    if not text:
        return ()
    return tuple(
        DayHours(int(d["weekday"]), int(d["start"]), int(d["end"])) for d in json.loads(text)
    )


DEFAULT_RULES = DesaRules()


def route_to_json(steps: tuple[StepSpec, ...]) -> str:
    return json.dumps(
        [
            {
                "role": s.role,
                "deadline_working_hours": s.deadline_working_hours,
                "skippable": s.skippable,
            }
            for s in steps
        ]
    )


def _route_of(row: RouteOverride) -> LetterRoute:
    return LetterRoute(
        steps=tuple(
            StepSpec(
                role=str(s["role"]),
                deadline_working_hours=int(s["deadline_working_hours"]),
                skippable=bool(s["skippable"]),
            )
            for s in json.loads(row.steps_json)
        ),
        signer_role=row.signer_role,
        on_behalf_of_role=row.on_behalf_of_role,
    )


def rules_of(row: DesaSettings | None) -> DesaRules:
    if row is None:
        return DEFAULT_RULES
    rules = DesaRules(
        start_hour=row.start_hour,
        end_hour=row.end_hour,
        workdays=tuple(json.loads(row.workdays_json)),
        local_days_off=tuple(json.loads(row.local_days_off_json)),
        max_revision_rounds=row.max_revision_rounds,
        resubmit_days=row.resubmit_days,
        operator_may_edit_routes=row.operator_may_edit_routes,
    )
    return with_hours(rules, hours_from_json(row.hours_json))


async def route_override(
    session: AsyncSession, desa_code: str, letter_type: str
) -> RouteOverride | None:
    return (
        await session.exec(
            select(RouteOverride).where(
                RouteOverride.desa_code == desa_code, RouteOverride.letter_type == letter_type
            )
        )
    ).first()


async def route_for(
    session: AsyncSession,
    desa_code: str,
    letter_type: str,
    catalogue: "Catalogue",
    template_version: str = "",
) -> tuple[LetterRoute, bool] | None:
    """The route of `letter_type` in `desa_code` and whether it is the desa's own; None if the
    catalogue does not know that letter type (CatalogueUnavailable if it cannot be read).

    The desa's own route wins over the kabupaten's default; the default is that of the version
    `template_version` names (what an application keeps), else of the current version. So a
    version published while an application is a draft or in progress leaves its route as it
    was; the desa's route is the desa's own decision about its staff, and applies from the
    next submission as it always has (docs/letter-catalogue.md#routes-and-versions)."""
    known = await catalogue.known(letter_type, template_version)
    if known is None:
        return None
    row = await route_override(session, desa_code, letter_type)
    if row is not None:
        return _route_of(row), True
    return known.route, False


async def rules_for(session: AsyncSession, desa_code: str) -> DesaRules:
    return rules_of(await session.get(DesaSettings, desa_code))


async def not_offered(session: AsyncSession, desa_code: str) -> set[str]:
    """Letter types the desa switched off; every other known type is offered (the default)."""
    rows = await session.exec(
        select(LetterTypeOffer.letter_type).where(
            LetterTypeOffer.desa_code == desa_code, col(LetterTypeOffer.offered).is_(False)
        )
    )
    return set(rows.all())


async def offered_letter_types(
    session: AsyncSession, desa_code: str, catalogue: "Catalogue"
) -> list[str]:
    """The letter types the desa offers, in catalogue order: every type residents may request
    online unless the desa switched it off."""
    off = await not_offered(session, desa_code)
    current = await catalogue.current()
    return [code for code, t in current.items() if t.online and code not in off]


async def set_offered(
    session: AsyncSession, desa_code: str, letter_type: str, offered: bool, by: str
) -> None:
    row = (
        await session.exec(
            select(LetterTypeOffer).where(
                LetterTypeOffer.desa_code == desa_code, LetterTypeOffer.letter_type == letter_type
            )
        )
    ).first()
    if row is None:
        row = LetterTypeOffer(desa_code=desa_code, letter_type=letter_type, updated_by=by)
    row.offered = offered
    row.updated_by = by
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()


def route_problems(route: LetterRoute) -> list[str]:
    """What is wrong with a route a desa wants, in Indonesian; empty if it is fine."""
    problems: list[str] = []
    if not route.steps:
        problems.append("Rute harus memiliki paling sedikit satu langkah.")
    if len(route.steps) > MAX_STEPS:
        problems.append(f"Rute paling banyak memiliki {MAX_STEPS} langkah.")
    known = ", ".join(DESA_ROLES)
    for number, step in enumerate(route.steps, start=1):
        if step.role not in DESA_ROLES:
            problems.append(
                f"Langkah {number}: peran '{step.role}' tidak dikenal (pilihan: {known})."
            )
        if step.deadline_working_hours <= 0:
            problems.append(f"Langkah {number}: tenggat harus lebih dari 0 jam kerja.")
        elif step.deadline_working_hours > MAX_STEP_HOURS:
            problems.append(f"Langkah {number}: tenggat paling lama {MAX_STEP_HOURS} jam kerja.")
    roles = route.roles
    if len(set(roles)) != len(roles):
        problems.append("Setiap peran hanya boleh muncul satu kali dalam rute.")
    if route.steps and route.steps[-1].skippable:
        problems.append("Langkah terakhir (penanda tangan) tidak boleh dilewati.")
    if route.signer_role not in DESA_ROLES:
        problems.append(f"Penanda tangan '{route.signer_role}' tidak dikenal (pilihan: {known}).")
    elif route.signer_role == Role.OPERATOR:
        # The operator prepares letters; a letter is signed by an official (Permendagri 83/2022
        # on the desa's official letters: the Kades, or the Sekdes a.n. the Kades).
        problems.append(
            "Operator Desa tidak dapat menjadi penanda tangan. Pilih Kepala Desa, Sekretaris "
            "Desa atau Kepala Seksi, dan jadikan peran itu langkah terakhir."
        )
    elif route.steps and route.signer_role != route.steps[-1].role:
        # The one who signs must be the last to approve what they sign.
        problems.append("Penanda tangan harus peran pada langkah terakhir rute.")
    if route.on_behalf_of_role:
        if route.on_behalf_of_role not in DESA_ROLES:
            problems.append(f"Peran a.n. '{route.on_behalf_of_role}' tidak dikenal.")
        elif rank(route.on_behalf_of_role) <= rank(route.signer_role):
            problems.append(
                "Penanda tangan hanya dapat menandatangani a.n. peran yang lebih tinggi "
                "(mis. Sekdes a.n. Kepala Desa)."
            )
    return problems


def _day_problems(hours: tuple[DayHours, ...]) -> list[str]:
    problems: list[str] = []
    for d in hours:
        name = DAY_NAMES.get(d.weekday, str(d.weekday))
        if not 0 <= d.start_minute < d.end_minute <= 24 * 60:
            problems.append(
                f"Jam kerja {name}: jam mulai harus sebelum jam selesai, di antara 00.00 dan 24.00."
            )
        elif d.start_minute % MINUTE_STEP or d.end_minute % MINUTE_STEP:
            problems.append(f"Jam kerja {name}: pilih jam bulat atau setengah jam (mis. 07.30).")
    return problems


def rules_problems(rules: DesaRules, office: str = "desa") -> list[str]:
    problems: list[str] = []
    if rules.hours:
        problems += _day_problems(rules.hours)
    elif not (0 <= rules.start_hour < rules.end_hour <= 24):
        problems.append("Jam kerja: jam mulai harus sebelum jam selesai, di antara 0 dan 24.")
    if not rules.workdays:
        problems.append("Paling sedikit satu hari kerja dalam seminggu.")
    if any(d not in range(1, 8) for d in rules.workdays):
        problems.append("Hari kerja ditulis 1 (Senin) sampai 7 (Minggu).")
    if len(set(rules.workdays)) != len(rules.workdays):
        problems.append("Hari kerja tidak boleh berulang.")
    for day in rules.local_days_off:
        try:
            date.fromisoformat(day)
        except ValueError:
            problems.append(f"Hari libur {office} '{day}' bukan tanggal (format TTTT-BB-HH).")
    if not 0 <= rules.max_revision_rounds <= 10:
        problems.append("Batas perbaikan harus antara 0 dan 10 kali.")
    if not 1 <= rules.resubmit_days <= 90:
        problems.append("Batas waktu perbaikan oleh pemohon harus antara 1 dan 90 hari.")
    return problems
