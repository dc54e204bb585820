"""Administering the desa's staff accounts: who holds which role, who may sign in.

Who may: the desa's administrators (`may_administer`): the Sekdes and the Kades, also as Plt,
and the desa's operator when the Sekdes or Kades allowed it in the desa settings
(`operator_may_edit_routes`: one "operator may administer" right covers routes, offered letter
types and staff accounts; the working calendar and Plt periods stay with Sekdes and Kades).

Rules (each refusal is an Indonesian `Problem`):
- usernames are unique across the system (lower case letters, digits, '.', '_', '-');
- roles come from the desa roles (`DESA_ROLES`); a kabupaten account is not made here;
- a desa has at most one active Kades and one active Sekdes (others act as Plt instead);
- nobody deactivates or changes the role of their own account;
- only a Kades makes, changes or deactivates a Kades or Sekdes account (a Sekdes or operator
  administers the roles below the Sekdes);
- passwords are at least `MIN_PASSWORD_LENGTH` characters, hashed with argon2id.
A changed role or a deactivation ends the account's sessions: `current_staff` refuses a token
whose role differs from the account's or whose account is inactive. Every change is written to
`verification_staff_change`.
"""

import asyncio
import logging
import re

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import DESA_ROLES, MANAGER_ROLES, Role, role_label
from common.http import Problem
from services.verification.accounts import hash_password
from services.verification.models import Staff, StaffChange
from services.verification.routes import rules_for

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# One active holder per desa: the others of these roles act as Plt.
SINGLE_HOLDER_ROLES = (Role.SEKDES, Role.KADES)


def may_administer(roles: list[str], operator_allowed: bool) -> bool:
    return any(r in MANAGER_ROLES for r in roles) or (Role.OPERATOR in roles and operator_allowed)


async def administers_desa(session: AsyncSession, desa_code: str, roles: list[str]) -> bool:
    """`may_administer`, with the desa's own rule read only when an operator asks."""
    operator_allowed = (
        Role.OPERATOR in roles and (await rules_for(session, desa_code)).operator_may_edit_routes
    )
    return may_administer(roles, operator_allowed)


def _may_touch(actor_roles: list[str], role: str) -> bool:
    """Sekdes and Kades accounts are the Kades's to make and change."""
    return role not in SINGLE_HOLDER_ROLES or Role.KADES in actor_roles


def _refuse_role(actor_roles: list[str], role: str) -> None:
    if not _may_touch(actor_roles, role):
        raise Problem(
            403,
            "Hanya Kepala Desa yang dapat membuat atau mengubah akun Sekretaris Desa dan "
            "Kepala Desa.",
            code="kades-only",
        )


def check_role(role: str) -> str:
    role = role.strip()
    if role not in DESA_ROLES:
        raise Problem(
            422,
            f"Peran '{role}' tidak dikenal (pilihan: {', '.join(DESA_ROLES)}).",
            code="unknown-role",
            field="role",
        )
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Problem(
            422,
            f"Kata sandi paling sedikit {MIN_PASSWORD_LENGTH} karakter.",
            code="weak-password",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Problem(422, "Kata sandi terlalu panjang.", code="weak-password", field="password")
    return password


async def desa_accounts(session: AsyncSession, desa_code: str) -> list[Staff]:
    rows = await session.exec(
        select(Staff).where(Staff.desa_code == desa_code).order_by(col(Staff.username))
    )
    return list(rows.all())


async def account_of(session: AsyncSession, desa_code: str, username: str) -> Staff:
    """The desa's account; another desa's account is as unknown as a missing one."""
    staff = (await session.exec(select(Staff).where(Staff.username == username))).first()
    if staff is None or staff.desa_code != desa_code:
        raise Problem(404, "Akun staf tidak ditemukan di desa Anda.", code="not-found")
    return staff


async def _single_holder_free(
    session: AsyncSession, desa_code: str, role: str, except_username: str = ""
) -> None:
    if role not in SINGLE_HOLDER_ROLES:
        return
    holder = (
        await session.exec(
            select(Staff).where(
                Staff.desa_code == desa_code,
                Staff.role == role,
                col(Staff.active).is_(True),
                Staff.username != except_username,
            )
        )
    ).first()
    if holder is not None:
        raise Problem(
            409,
            f"Desa ini sudah memiliki {role_label(role)} aktif ({holder.username}). Nonaktifkan atau "
            "ubah jabatan akun itu terlebih dahulu, atau tetapkan Plt.",
            code="role-taken",
            field="role",
        )


async def _hash(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


def _record(
    session: AsyncSession, actor: Staff, username: str, action: str, detail: str = ""
) -> None:
    session.add(
        StaffChange(
            desa_code=actor.desa_code,
            username=username,
            action=action,
            detail=detail,
            changed_by=actor.username,
        )
    )


async def create_account(
    session: AsyncSession,
    actor: Staff,
    actor_roles: list[str],
    username: str,
    role: str,
    password: str,
) -> Staff:
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise Problem(
            422,
            "Nama pengguna 3–64 karakter: huruf kecil, angka, titik, garis bawah atau tanda "
            "hubung, diawali huruf atau angka.",
            code="invalid-username",
            field="username",
        )
    role = check_role(role)
    _refuse_role(actor_roles, role)
    check_password(password)
    if (await session.exec(select(Staff.id).where(Staff.username == username))).first():
        raise Problem(
            409, "Nama pengguna ini sudah dipakai.", code="username-taken", field="username"
        )
    await _single_holder_free(session, actor.desa_code, role)
    staff = Staff(
        username=username,
        password_hash=await _hash(password),
        role=role,
        desa_code=actor.desa_code,
    )
    session.add(staff)
    _record(session, actor, username, "created", role)
    await session.commit()
    log.info("staff account %s created in desa %s by staff %s", staff.id, actor.desa_code, actor.id)
    return staff


async def change_account(
    session: AsyncSession,
    actor: Staff,
    actor_roles: list[str],
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
) -> Staff:
    staff = await account_of(session, actor.desa_code, username)
    if staff.username == actor.username and (
        (role is not None and role.strip() != staff.role) or active is False
    ):
        raise Problem(
            422,
            "Anda tidak dapat mengubah jabatan atau menonaktifkan akun Anda sendiri.",
            code="self-change",
        )
    _refuse_role(actor_roles, staff.role)
    changed = False
    if role is not None:
        role = check_role(role)
        if role != staff.role:
            _refuse_role(actor_roles, role)
            if active is not False and (staff.active or active):
                await _single_holder_free(session, actor.desa_code, role, staff.username)
            _record(session, actor, staff.username, "role", f"{staff.role} -> {role}")
            staff.role = role
            changed = True
    if active is not None and active != staff.active:
        if active:
            await _single_holder_free(session, actor.desa_code, staff.role, staff.username)
        _record(session, actor, staff.username, "reactivated" if active else "deactivated")
        staff.active = active
        changed = True
    if changed:
        session.add(staff)
        await session.commit()
        log.info("staff account %s changed by staff %s", staff.id, actor.id)
    return staff


async def set_password(
    session: AsyncSession, actor: Staff, actor_roles: list[str], username: str, password: str
) -> Staff:
    """A new initial password, which the staff member is to change after signing in."""
    staff = await account_of(session, actor.desa_code, username)
    if staff.username != actor.username:
        _refuse_role(actor_roles, staff.role)
    check_password(password)
    staff.password_hash = await _hash(password)
    session.add(staff)
    _record(session, actor, staff.username, "password")
    await session.commit()
    log.info("password of staff account %s set by staff %s", staff.id, actor.id)
    return staff


async def recent_changes(
    session: AsyncSession, desa_code: str, limit: int = 50
) -> list[StaffChange]:
    rows = await session.exec(
        select(StaffChange)
        .where(StaffChange.desa_code == desa_code)
        .order_by(col(StaffChange.changed_at).desc(), col(StaffChange.id).desc())
        .limit(limit)
    )
    return list(rows.all())
