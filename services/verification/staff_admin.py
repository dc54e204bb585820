"""Administering the desa's staff accounts: who holds which role, who may sign in.

Who may: the desa's administrators (`may_administer`): the Sekdes and the Kades, also as Plt,
and the desa's operator when the Sekdes or Kades allowed it in the desa settings
(`operator_may_edit_routes`: one "operator may administer" right covers routes, offered letter
types and staff accounts; the working calendar and Plt periods stay with Sekdes and Kades).

Rules (each refusal is a domain error with an Indonesian message):
- usernames are unique across the system (lower case letters, digits, '.', '_', '-');
- roles come from the desa roles (`DESA_ROLES`); a kabupaten account is not made here;
- a desa has at most one active Kades and one active Sekdes (others act as Plt instead);
- nobody deactivates or changes the role of their own account;
- only a Kades makes, changes or deactivates a Kades or Sekdes account (a Sekdes or operator
  administers the roles below the Sekdes);
- passwords are at least `MIN_PASSWORD_LENGTH` characters, hashed with argon2id;
- nobody sets their own password here: changing one's own needs the current one
  (`change_own_password`), so a stolen session cannot become a permanent takeover.
A changed role, a deactivation and a new password end every session of the account, in every
service (accounts.end_all_sessions); a password set by an administrator also lifts a sign-in
lockout. Every change is written to `verification_staff_change`.
"""

import asyncio
import logging
import re

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import DESA_ROLES, MANAGER_ROLES, Role, role_label
from common.domain.errors import Conflict, Forbidden, Invalid, NotFound
from services.verification.accounts import end_all_sessions, hash_password, password_matches
from services.verification.models import Staff, StaffChange
from services.verification.routes import rules_for
from services.verification.sign_in_throttle import (
    SignInLimits,
    clear_account,
    record_failure,
    refuse_if_locked,
)

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
        raise Forbidden(
            "kades-only",
            "Hanya Kepala Desa yang dapat membuat atau mengubah akun Sekretaris Desa dan "
            "Kepala Desa.",
        )


def check_role(role: str) -> str:
    role = role.strip()
    if role not in DESA_ROLES:
        raise Invalid(
            "unknown-role",
            f"Peran '{role}' tidak dikenal (pilihan: {', '.join(DESA_ROLES)}).",
            field="role",
        )
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            "weak-password",
            f"Kata sandi paling sedikit {MIN_PASSWORD_LENGTH} karakter.",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid("weak-password", "Kata sandi terlalu panjang.", field="password")
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
        raise NotFound("not-found", "Akun staf tidak ditemukan di desa Anda.")
    return staff


async def single_holder_free(
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
        raise Conflict(
            "role-taken",
            f"Desa ini sudah memiliki {role_label(role)} aktif ({holder.username}). Nonaktifkan atau "
            "ubah jabatan akun itu terlebih dahulu, atau tetapkan Plt.",
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


def checked_username(username: str) -> str:
    """A new account's username as stored (trimmed, lower case), refused unless it fits."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise Invalid(
            "invalid-username",
            "Nama pengguna 3–64 karakter: huruf kecil, angka, titik, garis bawah atau tanda "
            "hubung, diawali huruf atau angka.",
            field="username",
        )
    return username


async def refuse_taken_username(session: AsyncSession, username: str) -> None:
    """Usernames are unique across every desa, kecamatan and the kabupaten."""
    if (await session.exec(select(Staff.id).where(Staff.username == username))).first():
        raise Conflict("username-taken", "Nama pengguna ini sudah dipakai.", field="username")


async def create_account(
    session: AsyncSession,
    actor: Staff,
    actor_roles: list[str],
    username: str,
    role: str,
    password: str,
) -> Staff:
    username = checked_username(username)
    role = check_role(role)
    _refuse_role(actor_roles, role)
    check_password(password)
    await refuse_taken_username(session, username)
    await single_holder_free(session, actor.desa_code, role)
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
        raise Invalid(
            "self-change",
            "Anda tidak dapat mengubah jabatan atau menonaktifkan akun Anda sendiri.",
        )
    _refuse_role(actor_roles, staff.role)
    changed = False
    if role is not None:
        role = check_role(role)
        if role != staff.role:
            _refuse_role(actor_roles, role)
            if active is not False and (staff.active or active):
                await single_holder_free(session, actor.desa_code, role, staff.username)
            _record(session, actor, staff.username, "role", f"{staff.role} -> {role}")
            staff.role = role
            changed = True
    if active is not None and active != staff.active:
        if active:
            await single_holder_free(session, actor.desa_code, staff.role, staff.username)
        _record(session, actor, staff.username, "reactivated" if active else "deactivated")
        staff.active = active
        changed = True
    if changed:
        end_all_sessions(staff)
        session.add(staff)
        await session.commit()
        log.info("staff account %s changed by staff %s", staff.id, actor.id)
    return staff


async def set_password(
    session: AsyncSession, actor: Staff, actor_roles: list[str], username: str, password: str
) -> Staff:
    """A new initial password (e.g. the staff member forgot theirs, or is locked out), which
    they are to change after signing in. Ends the account's sessions and lifts its lockout."""
    staff = await account_of(session, actor.desa_code, username)
    if staff.username == actor.username:
        raise Invalid(
            "own-password",
            "Kata sandi Anda sendiri diganti lewat menu Ubah kata sandi, dengan kata sandi saat "
            "ini.",
            field="password",
        )
    _refuse_role(actor_roles, staff.role)
    check_password(password)
    staff.password_hash = await _hash(password)
    end_all_sessions(staff)
    session.add(staff)
    await clear_account(session, staff.username)
    _record(session, actor, staff.username, "password")
    await session.commit()
    log.info("password of staff account %s set by staff %s", staff.id, actor.id)
    return staff


async def change_own_password(
    session: AsyncSession,
    limits: SignInLimits,
    staff: Staff,
    current: str,
    new: str,
    client: str,
) -> Staff:
    """The signed-in staff member's own new password, given the current one. A wrong current
    password counts as a failed sign-in (a stolen session is no unthrottled password oracle).
    Every session of the account ends; the caller issues a new token for this one."""
    await refuse_if_locked(session, limits, staff.username, client)
    if not await asyncio.to_thread(password_matches, staff.password_hash, current):
        await record_failure(session, limits, staff.username, client)
        raise Forbidden(
            "wrong-current-password",
            "Kata sandi saat ini salah.",
            field="current_password",
        )
    check_password(new)
    if new == current:
        raise Invalid(
            "same-password",
            "Kata sandi baru harus berbeda dari kata sandi saat ini.",
            field="password",
        )
    staff.password_hash = await _hash(new)
    end_all_sessions(staff)
    session.add(staff)
    await clear_account(session, staff.username)
    _record(session, staff, staff.username, "own-password")
    await session.commit()
    log.info("staff account %s changed its own password", staff.id)
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
