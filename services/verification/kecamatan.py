"""The kecamatan tier: kecamatan staff, the letter types that go through the kecamatan, and the
kecamatan's steps of a letter's route.

- Kecamatan accounts (camat, sekcam, kasi_pelayanan_kecamatan) hold a kecamatan code and no
  desa; the kabupaten operator creates them like a desa's first accounts (one-time password
  link, onboarding.py). They see only tasks of their kecamatan's desa at their role's step.
- Which letter types go through the kecamatan is data per kabupaten
  (`verification_kecamatan_letter_type`), edited by the kabupaten operator, optionally only
  for some purposes (keperluan, common/domain/purposes.py). A letter of such a type gets the
  kecamatan's steps after the desa's (`kecamatan_part`): working-time deadlines, reminders and
  escalation (kasi pelayanan -> sekcam -> camat -> kabupaten operator,
  common.domain.roles.SUPERVISOR) like any other step. The worker drops those steps when the
  letter's purpose is not one of the row's (it reads the purpose when the letter starts).
- The kecamatan's steps count their deadlines in the kecamatan's calendar: the kabupaten's
  default for its kecamatan, or the kecamatan's own. Both are rows of
  `verification_desa_settings`, keyed by the kabupaten's or the kecamatan's code instead of a
  desa's (only their hours and days off are used), written by `route_admin.store_rules`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from common.domain import KECAMATAN_ROLES, Role, is_kecamatan_role, role_label
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound
from common.domain.purposes import normalized, purposes_problems
from common.wilayah import all_desa
from services.verification.calendars import DesaCalendar, calendar_of, desa_calendar
from services.verification.models import (
    TASK_OPEN,
    DesaSettings,
    KecamatanLetterType,
    Staff,
    StaffChange,
    Task,
)
from services.verification.routes import (
    DEFAULT_RULES,
    MAX_STEP_HOURS,
    DayHours,
    DesaRules,
    LetterRoute,
    StepSpec,
    route_to_json,
    rules_for,
    rules_of,
    with_hours,
)
from services.verification.staff_admin import checked_username, refuse_taken_username

if TYPE_CHECKING:  # the servicer imports this module, and the runtime the servicer
    from smartdesa.v1 import signing_pb2

    from services.verification.onboarding import CertificateUpload, PasswordLink
    from services.verification.runtime import Runtime

log = logging.getLogger(__name__)

KECAMATAN_STAFF_ONLY = "Fitur ini hanya untuk staf kecamatan."
# One camat and one sekcam per kecamatan at a time; the kasi pelayanan may be several.
SINGLE_HOLDER_KECAMATAN_ROLES = (Role.CAMAT, Role.SEKCAM)
MAX_KECAMATAN_STEPS = 3
DEFAULT_STEPS = (
    StepSpec(Role.KASI_PELAYANAN_KECAMATAN, 8),
    StepSpec(Role.CAMAT, 8),
)


@dataclass(frozen=True)
class KecamatanArea:
    code: str
    name: str
    kabupaten_code: str
    desa_codes: frozenset[str]


def kecamatan_area(kecamatan_code: str) -> KecamatanArea | None:
    members = [d for d in all_desa().values() if d.kecamatan_code == kecamatan_code]
    if not members:
        return None
    return KecamatanArea(
        kecamatan_code,
        members[0].kecamatan,
        members[0].kabupaten_code,
        frozenset(d.code for d in members),
    )


def kecamatan_of_desa(desa_code: str) -> str:
    desa = all_desa().get(desa_code)
    return desa.kecamatan_code if desa is not None else ""


def kecamatan_in_kabupaten(kabupaten_code: str, kecamatan_code: str) -> KecamatanArea:
    """The kecamatan, if it is in the operator's kabupaten (another's is as unknown as none)."""
    area = kecamatan_area(kecamatan_code)
    if area is None or area.kabupaten_code != kabupaten_code:
        raise NotFound("not-found", "Kecamatan tidak ditemukan di kabupaten ini.")
    return area


def is_kecamatan_staff(staff: Staff) -> bool:
    return staff.role in KECAMATAN_ROLES and bool(staff.kecamatan_code) and not staff.desa_code


def sees_desa(staff: Staff, desa_code: str) -> bool:
    """A kecamatan account sees a desa only if it lies in its kecamatan."""
    return is_kecamatan_staff(staff) and kecamatan_of_desa(desa_code) == staff.kecamatan_code


FULL_NAME_MAX = 120
CAMAT_NAME_NEEDED = (
    'Nama lengkap Camat wajib diisi: nama itu tercetak pada tanda tangan "Mengetahui".'
)


def clean_full_name(full_name: str, role: str) -> str:
    """The holder's name as printed (spaces tidied); required for a camat, whose name is
    printed on the approval stamp."""
    name = " ".join(full_name.split())
    if len(name) > FULL_NAME_MAX:
        raise Invalid(
            "invalid-full-name",
            f"Nama lengkap paling panjang {FULL_NAME_MAX} karakter.",
            field="full_name",
        )
    if role == Role.CAMAT and not name:
        raise Invalid("invalid-full-name", CAMAT_NAME_NEEDED, field="full_name")
    return name


async def create_kecamatan_account(
    runtime: Runtime,
    session: AsyncSession,
    actor: Staff,
    kecamatan_code: str,
    username: str,
    role: str,
    full_name: str = "",
) -> tuple[Staff, PasswordLink]:
    """A kecamatan account without a password, and the one-time link its holder sets one with
    (the same links as a desa's first accounts). `full_name`: as printed on letters (required
    for the camat)."""
    from services.verification.onboarding import NO_PASSWORD, new_link

    area = kecamatan_in_kabupaten(actor.kabupaten_code, kecamatan_code)
    username = checked_username(username)
    if role not in KECAMATAN_ROLES:
        raise Invalid(
            "invalid-role",
            "Jabatan kecamatan harus salah satu dari: "
            + ", ".join(role_label(r) for r in KECAMATAN_ROLES)
            + ".",
            field="role",
        )
    name = clean_full_name(full_name, role)
    await refuse_taken_username(session, username)
    if role in SINGLE_HOLDER_KECAMATAN_ROLES:
        holder = (
            await session.exec(
                select(Staff).where(
                    Staff.kecamatan_code == area.code,
                    Staff.role == role,
                    col(Staff.active).is_(True),
                )
            )
        ).first()
        if holder is not None:
            raise Conflict(
                "role-taken",
                f"Kecamatan ini sudah memiliki {role_label(role)} aktif ({holder.username}).",
                field="role",
            )
    staff = Staff(
        username=username,
        password_hash=NO_PASSWORD,
        role=role,
        desa_code="",
        kecamatan_code=area.code,
        kabupaten_code=area.kabupaten_code,
        full_name=name,
    )
    session.add(staff)
    # The staff change log is per office: the kecamatan code stands where a desa code would.
    session.add(
        StaffChange(
            desa_code=area.code,
            username=username,
            action="created",
            detail=role,
            changed_by=actor.username,
        )
    )
    link = await new_link(session, actor, staff, runtime.settings.staff_password_link_hours)
    await session.commit()
    log.info("kecamatan account %s created in %s by staff %s", staff.id, area.code, actor.id)
    return staff, link


async def kecamatan_accounts(session: AsyncSession, kecamatan_code: str) -> list[Staff]:
    query = select(Staff).where(Staff.kecamatan_code == kecamatan_code, Staff.desa_code == "")
    return list((await session.exec(query.order_by(col(Staff.username)))).all())


async def kecamatan_account(session: AsyncSession, kecamatan_code: str, username: str) -> Staff:
    for staff in await kecamatan_accounts(session, kecamatan_code):
        if staff.username == username:
            return staff
    raise NotFound("not-found", "Akun tidak ditemukan di kecamatan ini.")


async def set_account_name(
    session: AsyncSession, actor: Staff, kecamatan_code: str, username: str, full_name: str
) -> Staff:
    """The holder's name as printed on letters (the camat's takes effect with the next
    certificate installed: signing keeps the name with it)."""
    area = kecamatan_in_kabupaten(actor.kabupaten_code, kecamatan_code)
    staff = await kecamatan_account(session, area.code, username)
    staff.full_name = clean_full_name(full_name, staff.role)
    session.add(staff)
    session.add(
        StaffChange(
            desa_code=area.code,
            username=staff.username,
            action="renamed",
            detail=staff.role,
            changed_by=actor.username,
        )
    )
    await session.commit()
    await session.refresh(staff)
    return staff


async def new_kecamatan_password_link(
    runtime: Runtime, session: AsyncSession, actor: Staff, kecamatan_code: str, username: str
) -> PasswordLink:
    """Another one-time link for a kecamatan account; the earlier one stops working."""
    from services.verification.onboarding import new_link

    area = kecamatan_in_kabupaten(actor.kabupaten_code, kecamatan_code)
    staff = await kecamatan_account(session, area.code, username)
    if not staff.active:
        raise Conflict("inactive", "Akun ini nonaktif.")
    link = await new_link(session, actor, staff, runtime.settings.staff_password_link_hours)
    await session.commit()
    log.info("password link for kecamatan account %s made by staff %s", staff.id, actor.id)
    return link


@dataclass(frozen=True)
class KecamatanRow:
    """A kecamatan of the kabupaten, as the operator's list shows it."""

    area: KecamatanArea
    accounts: dict[str, int]  # active accounts by role

    def has(self, role: str) -> bool:
        return self.accounts.get(role, 0) > 0


def kabupaten_kecamatan(kabupaten_code: str) -> list[KecamatanArea]:
    codes = {d.kecamatan_code for d in all_desa().values() if d.kabupaten_code == kabupaten_code}
    areas = [a for a in (kecamatan_area(c) for c in codes) if a is not None]
    return sorted(areas, key=lambda a: a.name)


async def kecamatan_rows(session: AsyncSession, kabupaten_code: str) -> list[KecamatanRow]:
    query = select(Staff).where(
        Staff.kabupaten_code == kabupaten_code,
        Staff.desa_code == "",
        Staff.kecamatan_code != "",
        col(Staff.active).is_(True),
    )
    counts: dict[str, dict[str, int]] = {}
    for staff in (await session.exec(query)).all():
        by_role = counts.setdefault(staff.kecamatan_code, {})
        by_role[staff.role] = by_role.get(staff.role, 0) + 1
    return [KecamatanRow(a, counts.get(a.code, {})) for a in kabupaten_kecamatan(kabupaten_code)]


async def active_camat(session: AsyncSession, kecamatan_code: str) -> Staff | None:
    for staff in await kecamatan_accounts(session, kecamatan_code):
        if staff.role == Role.CAMAT and staff.active:
            return staff
    return None


async def install_camat_signer(
    runtime: Runtime,
    session: AsyncSession,
    actor: Staff,
    kecamatan_code: str,
    upload: CertificateUpload,
) -> signing_pb2.InstalledSignerInfo:
    """The camat's certificate and key, checked and kept by signing as a desa signer's are
    (onboarding.send_signer), with the active camat account's name to print on the stamp."""
    from services.verification.onboarding import send_signer

    area = kecamatan_in_kabupaten(actor.kabupaten_code, kecamatan_code)
    camat = await active_camat(session, area.code)
    if camat is None or not camat.full_name:
        raise Conflict(
            "no-camat",
            "Buat dulu akun Camat yang aktif dengan nama lengkapnya: nama itu tercetak pada "
            'tanda tangan "Mengetahui".',
        )
    return await send_signer(
        runtime, actor, area.code, Role.CAMAT, upload, signer_name=camat.full_name
    )


# Which letter types go through the kecamatan.


def steps_of(row: KecamatanLetterType) -> tuple[StepSpec, ...]:
    return tuple(
        StepSpec(
            role=str(s["role"]),
            deadline_working_hours=int(s["deadline_working_hours"]),
            skippable=bool(s.get("skippable", False)),
        )
        for s in json.loads(row.steps_json)
    )


def purposes_of(row: KecamatanLetterType) -> tuple[str, ...]:
    return tuple(str(p) for p in json.loads(row.purposes_json or "[]"))


def steps_problems(steps: tuple[StepSpec, ...]) -> list[str]:
    problems: list[str] = []
    if not steps:
        problems.append("Langkah kecamatan tidak boleh kosong.")
    if len(steps) > MAX_KECAMATAN_STEPS:
        problems.append(f"Paling banyak {MAX_KECAMATAN_STEPS} langkah kecamatan.")
    for i, step in enumerate(steps, start=1):
        if step.role not in KECAMATAN_ROLES:
            problems.append(
                f"Langkah {i}: jabatan {step.role!r} bukan jabatan kecamatan ("
                + ", ".join(KECAMATAN_ROLES)
                + ")."
            )
        if not 1 <= step.deadline_working_hours <= MAX_STEP_HOURS:
            problems.append(f"Langkah {i}: batas waktu 1–{MAX_STEP_HOURS} jam kerja.")
    if steps and steps[-1].role != Role.CAMAT:
        problems.append('Langkah terakhir harus Camat (tanda tangan "mengetahui").')
    if len({s.role for s in steps}) != len(steps):
        problems.append("Satu jabatan hanya boleh satu langkah.")
    return problems


async def kecamatan_letter_types(
    session: AsyncSession, kabupaten_code: str
) -> list[KecamatanLetterType]:
    query = select(KecamatanLetterType).where(KecamatanLetterType.kabupaten_code == kabupaten_code)
    return list((await session.exec(query.order_by(col(KecamatanLetterType.letter_type)))).all())


async def set_kecamatan_letter_type(
    session: AsyncSession,
    actor: Staff,
    letter_type: str,
    steps: tuple[StepSpec, ...] = DEFAULT_STEPS,
    purposes: tuple[str, ...] = (),
) -> KecamatanLetterType:
    """The letter type goes through the kecamatan with these steps (only for these purposes,
    when any are given), for letters started from now on (a running letter keeps the route it
    started with)."""
    problems = steps_problems(steps)
    if problems:
        raise Invalid("invalid-steps", " ".join(problems), field="steps")
    purposes = tuple(" ".join(p.split()) for p in purposes)
    problems = purposes_problems(purposes)
    if problems:
        raise Invalid("invalid-purposes", " ".join(problems), field="purposes")
    row = await session.get(KecamatanLetterType, (actor.kabupaten_code, letter_type))
    if row is None:
        row = KecamatanLetterType(
            kabupaten_code=actor.kabupaten_code, letter_type=letter_type, steps_json=""
        )
    row.steps_json = route_to_json(steps)
    row.purposes_json = json.dumps(sorted(purposes, key=normalized))
    row.updated_by = actor.username
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


async def unset_kecamatan_letter_type(
    session: AsyncSession, actor: Staff, letter_type: str
) -> None:
    row = await session.get(KecamatanLetterType, (actor.kabupaten_code, letter_type))
    if row is None:
        raise NotFound("not-found", "Jenis surat ini tidak melalui kecamatan.")
    await session.delete(row)
    await session.commit()


@dataclass(frozen=True)
class KecamatanPart:
    """What the kecamatan adds to a letter's route: its steps, the purposes they apply to
    (none: every purpose) and the calendar their deadlines count in."""

    steps: tuple[StepSpec, ...]
    purposes: tuple[str, ...]
    calendar: DesaRules


async def kecamatan_part(
    session: AsyncSession, desa_code: str, letter_type: str
) -> KecamatanPart | None:
    """The kecamatan's part of the route, if the letter type goes through the kecamatan in
    the desa's kabupaten."""
    desa = all_desa().get(desa_code)
    if desa is None:
        return None
    row = await session.get(KecamatanLetterType, (desa.kabupaten_code, letter_type))
    if row is None:
        return None
    calendar, _ = await kecamatan_calendar(session, desa.kecamatan_code, desa.kabupaten_code)
    return KecamatanPart(steps_of(row), purposes_of(row), calendar)


async def with_kecamatan_steps(
    session: AsyncSession, desa_code: str, letter_type: str, route: LetterRoute
) -> LetterRoute:
    """The route with the kecamatan's steps after the desa's, if the letter type goes through
    the kecamatan in the desa's kabupaten (for any purpose: the worker applies the purposes)."""
    part = await kecamatan_part(session, desa_code, letter_type)
    return route if part is None else replace(route, steps=route.steps + part.steps)


# The kecamatan's calendar.

CALENDAR_KECAMATAN = "kecamatan"  # the kecamatan's own
CALENDAR_KABUPATEN = "kabupaten"  # the kabupaten's default for its kecamatan
CALENDAR_DEFAULT = "default"  # neither is set: 08.00-16.00, Monday to Friday


async def kecamatan_calendar(
    session: AsyncSession, kecamatan_code: str, kabupaten_code: str
) -> tuple[DesaRules, str]:
    """The kecamatan's working calendar and where it comes from: its own, else the
    kabupaten's default for its kecamatan, else the service's default."""
    for code, source in (
        (kecamatan_code, CALENDAR_KECAMATAN),
        (kabupaten_code, CALENDAR_KABUPATEN),
    ):
        row = await session.get(DesaSettings, code)
        if row is not None:
            return rules_of(row), source
    return DEFAULT_RULES, CALENDAR_DEFAULT


async def step_calendar(
    session: AsyncSession, desa_code: str, role: str, now: datetime
) -> DesaCalendar:
    """The calendar a step's deadline counts in, as the staff pages show what is left of it:
    the kecamatan's for a kecamatan step, the desa's for any other."""
    desa = all_desa().get(desa_code)
    if desa is None or not is_kecamatan_role(role):
        return await calendar_of(session, desa_code, now)
    rules, _ = await kecamatan_calendar(session, desa.kecamatan_code, desa.kabupaten_code)
    return desa_calendar(rules, now.year - 1, now.year + 1)


async def step_rules(session: AsyncSession, desa_code: str, role: str) -> DesaRules:
    """The working rules a step counts in (as step_calendar): the kecamatan's for a
    kecamatan step, the desa's for any other."""
    desa = all_desa().get(desa_code)
    if desa is None or not is_kecamatan_role(role):
        return await rules_for(session, desa_code)
    rules, _ = await kecamatan_calendar(session, desa.kecamatan_code, desa.kabupaten_code)
    return rules


def calendar_key(desa_code: str, role: str) -> str:
    """Which calendar a step's deadline counts in, as a key: its desa's, or for a kecamatan
    step the kecamatan's (of that desa)."""
    return f"{desa_code}/kecamatan" if is_kecamatan_role(role) else desa_code


async def calendar_row(session: AsyncSession, office_code: str) -> DesaSettings | None:
    return await session.get(DesaSettings, office_code)


async def save_calendar(
    session: AsyncSession,
    actor: Staff,
    office_code: str,
    hours: tuple[DayHours, ...],
    local_days_off: tuple[str, ...],
) -> DesaSettings:
    """The kabupaten's default kecamatan calendar (office_code: the kabupaten's code) or one
    kecamatan's own; applies to kecamatan steps assigned in letters started from now on."""
    from services.verification.route_admin import store_rules

    rules = with_hours(
        replace(DEFAULT_RULES, local_days_off=tuple(d.strip() for d in local_days_off)), hours
    )
    row = await store_rules(session, office_code, rules, actor.username, "kecamatan")
    log.info("kecamatan calendar of %s changed by staff %s", office_code, actor.id)
    return row


async def reset_calendar(session: AsyncSession, actor: Staff, kecamatan_code: str) -> None:
    """The kecamatan follows the kabupaten's default again."""
    row = await session.get(DesaSettings, kecamatan_code)
    if row is None:
        raise NotFound("not-found", "Kecamatan ini belum memiliki jam kerja sendiri.")
    await session.delete(row)
    await session.commit()
    log.info("kecamatan calendar of %s reset by staff %s", kecamatan_code, actor.id)


# The kecamatan's inbox.


def require_kecamatan_staff(staff: Staff) -> None:
    if not is_kecamatan_staff(staff):
        raise Forbidden("kecamatan-staff-only", KECAMATAN_STAFF_ONLY)


async def open_kecamatan_tasks(session: AsyncSession, staff: Staff) -> list[Task]:
    """Open tasks of the kecamatan's desa at the staff member's role (or escalated to it)."""
    require_kecamatan_staff(staff)
    query = select(Task).where(
        Task.kecamatan_code == staff.kecamatan_code,
        Task.status == TASK_OPEN,
        (col(Task.role) == staff.role) | (col(Task.escalated_to_role) == staff.role),
    )
    tasks = list((await session.exec(query.order_by(col(Task.assigned_at)))).all())
    # The task's kecamatan comes from its event; the desa code is what scope is judged on.
    return [t for t in tasks if kecamatan_of_desa(t.desa_code) == staff.kecamatan_code]


async def kecamatan_task(session: AsyncSession, staff: Staff, application_id: str) -> Task:
    """The open task of this application at the staff member's kecamatan step; NotFound for
    any other (another kecamatan's desa, a desa step, another role)."""
    for task in await open_kecamatan_tasks(session, staff):
        if task.application_id == application_id:
            return task
    raise NotFound("not-found", "Tugas tidak ditemukan di kecamatan Anda.")
