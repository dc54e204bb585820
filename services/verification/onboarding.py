"""Onboarding a desa is data: a kabupaten operator (role `kabupaten_operator`) brings a desa of
their kabupaten live from the staff client or the API, with no new image and no restart:

1. its profile (kop surat, officials: desa_profile.save_profile, made if it has none);
2. its first accounts, the Kades and an operator (any desa role), each with a one-time link to
   set their own password: nobody but the account's holder ever knows it;
3. its signers' certificates (signing's InstallSigner: checked, kept, used from the next
   letter on);
4. the switch: a desa takes new applications only while it is switched on. Switching on needs
   the profile, an active Kades and the Kades' certificate, so no resident applies to a desa
   that cannot sign. Switching off stops new applications (portal, API and walk-in, in
   Indonesian: `closed_reason`) and lets every running one finish: the workflow, its steps,
   revisions and signing do not ask the switch.

Every desa of the kabupaten is known (common.wilayah); those served before this switch existed
(`pilot_codes`) count as switched on until an operator says otherwise."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
from smartdesa.v1 import signing_pb2
from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain import DESA_ROLES, Role, role_label
from common.domain.errors import Conflict, Invalid, NotFound, Unavailable
from common.wilayah import Desa, all_desa, find_desa
from services.verification.accounts import end_all_sessions, hash_password
from services.verification.desa_service import closed_reason, serving_codes
from services.verification.models import DesaService, PasswordSetupLink, Staff, StaffChange
from services.verification.runtime import Runtime
from services.verification.sign_in_throttle import clear_account
from services.verification.staff_admin import (
    check_password,
    check_role,
    checked_username,
    refuse_taken_username,
    single_holder_free,
)

log = logging.getLogger(__name__)

SET_PASSWORD_PATH = "/akun/atur-sandi"  # noqa: S105 (a page, not a password)
LINK_INVALID = (
    "Tautan ini tidak berlaku lagi (sudah dipakai atau kedaluwarsa). Mintalah tautan baru "
    "kepada operator kabupaten."
)
# What a password hash never is: argon2 refuses it, so the account cannot sign in until its
# holder sets a password through their link.
NO_PASSWORD = "!belum-diatur"  # noqa: S105 (not a password: no hash matches it)


def _desa_in(kabupaten_code: str, desa_code: str) -> Desa:
    desa = find_desa(desa_code)
    if desa is None or desa.kabupaten_code != kabupaten_code:
        raise NotFound("unknown-desa", "Desa tidak ditemukan di kabupaten Anda.")
    return desa


def desa_of(actor: Staff, desa_code: str) -> Desa:
    """The desa, if it is in the operator's kabupaten (another's is as unknown as none)."""
    return _desa_in(actor.kabupaten_code, desa_code)


@dataclass(frozen=True)
class DesaRow:
    desa: Desa
    serving: bool
    accounts: int  # active staff accounts


async def kabupaten_desa(session: AsyncSession, kabupaten_code: str) -> list[DesaRow]:
    """Every desa of the kabupaten, by kecamatan and name, with its switch and staff count."""
    serving = await serving_codes(session, kabupaten_code)
    counts: dict[str, int] = {}
    for code in (await session.exec(select(Staff.desa_code).where(col(Staff.active)))).all():
        counts[code] = counts.get(code, 0) + 1
    desa = [d for d in all_desa().values() if d.kabupaten_code == kabupaten_code]
    desa.sort(key=lambda d: (d.kecamatan, d.name))
    return [DesaRow(d, d.code in serving, counts.get(d.code, 0)) for d in desa]


@dataclass(frozen=True)
class Readiness:
    """What a desa has of what it needs to take applications."""

    desa: Desa
    serving: bool
    has_profile: bool
    accounts: list[Staff]
    signer_kind: str  # local | pkcs11 | bsre
    signer_roles: list[str]  # roles whose certificate the desa's signer holds

    def _active(self, role: str) -> bool:
        return any(s.role == role and s.active for s in self.accounts)

    @property
    def missing(self) -> list[str]:
        """What switching on still needs, in Indonesian (empty: ready)."""
        missing = []
        if not self.has_profile:
            missing.append("profil desa (kop surat dan nama pejabat)")
        if not self.has_kades:
            missing.append("akun Kepala Desa yang aktif")
        if Role.KADES not in self.signer_roles:
            missing.append("sertifikat penandatangan Kepala Desa")
        return missing

    @property
    def has_kades(self) -> bool:
        return self._active(Role.KADES)

    @property
    def has_operator(self) -> bool:
        return self._active(Role.OPERATOR)


def _signing_unavailable() -> Unavailable:
    return Unavailable(
        "signing-unavailable", "Layanan surat sedang tidak dapat dihubungi. Silakan coba lagi."
    )


async def readiness(runtime: Runtime, session: AsyncSession, desa: Desa) -> Readiness:
    timeout = runtime.settings.signing_timeout_seconds
    try:
        signer: signing_pb2.SignerInfo = await runtime.signing.GetSigner(
            signing_pb2.GetSignerRequest(desa_code=desa.code), timeout=timeout
        )
        has_profile = True
        try:
            await runtime.signing.GetDesaProfile(
                signing_pb2.GetDesaProfileRequest(desa_code=desa.code), timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            has_profile = False
    except grpc.aio.AioRpcError as exc:
        log.warning("signing did not answer about desa %s: %s", desa.code, exc.code())
        raise _signing_unavailable() from exc
    accounts = await session.exec(
        select(Staff).where(col(Staff.desa_code) == desa.code).order_by(col(Staff.username))
    )
    return Readiness(
        desa=desa,
        serving=not await closed_reason(session, desa.code),
        has_profile=has_profile,
        accounts=list(accounts.all()),
        signer_kind=signer.kind,
        signer_roles=list(signer.roles),
    )


async def set_serving(
    runtime: Runtime, session: AsyncSession, actor: Staff, desa_code: str, serving: bool
) -> Readiness:
    """Switches the desa on (when it is ready) or off. Running applications are not touched."""
    desa = desa_of(actor, desa_code)
    if serving:
        ready = await readiness(runtime, session, desa)
        if ready.missing:
            raise Conflict(
                "desa-not-ready",
                f"Desa {desa.name} belum dapat dilayani; yang belum ada: "
                f"{'; '.join(ready.missing)}.",
            )
    row = await session.get(DesaService, desa.code) or DesaService(
        desa_code=desa.code, serving=serving, changed_by=actor.username
    )
    row.serving = serving
    row.changed_by = actor.username
    row.changed_at = utcnow()
    session.add(row)
    await session.commit()
    log.info("desa %s switched %s by staff %s", desa.code, "on" if serving else "off", actor.id)
    return await readiness(runtime, session, desa)


@dataclass(frozen=True)
class PasswordLink:
    username: str
    # /akun/atur-sandi?t=<token>: shown once, to the operator who made it. The token rides in
    # the query string, which traces and logs leave out (common.tracing, common.logging).
    path: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_link(session: AsyncSession, actor: Staff, staff: Staff, hours: int) -> PasswordLink:
    """A fresh link for the account; any earlier link of it stops working."""
    await session.exec(
        delete(PasswordSetupLink).where(col(PasswordSetupLink.username) == staff.username)
    )
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=hours)
    session.add(
        PasswordSetupLink(
            token_sha256=_digest(token),
            username=staff.username,
            created_by=actor.username,
            expires_at=expires_at,
        )
    )
    return PasswordLink(staff.username, f"{SET_PASSWORD_PATH}?t={token}", expires_at)


async def create_first_account(
    runtime: Runtime,
    session: AsyncSession,
    actor: Staff,
    desa_code: str,
    username: str,
    role: str,
) -> tuple[Staff, PasswordLink]:
    """An account of the desa (its Kades, its operator, or any desa role) without a password,
    and the one-time link its holder sets one with."""
    desa = desa_of(actor, desa_code)
    username = checked_username(username)
    role = check_role(role)
    await refuse_taken_username(session, username)
    await single_holder_free(session, desa.code, role)
    staff = Staff(username=username, password_hash=NO_PASSWORD, role=role, desa_code=desa.code)
    session.add(staff)
    session.add(
        StaffChange(
            desa_code=desa.code,
            username=username,
            action="created",
            detail=role,
            changed_by=actor.username,
        )
    )
    link = await new_link(session, actor, staff, runtime.settings.staff_password_link_hours)
    await session.commit()
    log.info("staff account %s created in desa %s by staff %s", staff.id, desa.code, actor.id)
    return staff, link


async def new_password_link(
    runtime: Runtime, session: AsyncSession, actor: Staff, desa_code: str, username: str
) -> PasswordLink:
    """Another link for an account of the desa (the first was lost or has expired)."""
    desa = desa_of(actor, desa_code)
    staff = await account_in(session, desa.code, username)
    if not staff.active:
        raise Conflict("inactive", "Akun ini nonaktif; aktifkan dulu oleh Kepala Desa.")
    link = await new_link(session, actor, staff, runtime.settings.staff_password_link_hours)
    await session.commit()
    log.info("password link for staff account %s made by staff %s", staff.id, actor.id)
    return link


async def account_in(session: AsyncSession, desa_code: str, username: str) -> Staff:
    staff = (await session.exec(select(Staff).where(Staff.username == username))).first()
    if staff is None or staff.desa_code != desa_code:
        raise NotFound("not-found", "Akun staf tidak ditemukan di desa ini.")
    return staff


async def link_account(session: AsyncSession, token: str) -> Staff:
    """The account a still valid link is for; Invalid otherwise."""
    link = await session.get(PasswordSetupLink, _digest(token)) if token else None
    if link is None or link.used_at is not None or as_utc(link.expires_at) <= utcnow():
        raise Invalid("invalid-link", LINK_INVALID)
    staff = (await session.exec(select(Staff).where(Staff.username == link.username))).first()
    if staff is None or not staff.active:
        raise Invalid("invalid-link", LINK_INVALID)
    return staff


async def set_password_with_link(session: AsyncSession, token: str, password: str) -> Staff:
    """The holder's own password through their link, which then stops working (also when two
    requests race: the link is claimed by one conditional update). Ends the account's sessions
    and lifts a sign-in lockout."""
    staff = await link_account(session, token)
    check_password(password)
    claimed = await session.exec(
        update(PasswordSetupLink)
        .where(
            col(PasswordSetupLink.token_sha256) == _digest(token),
            col(PasswordSetupLink.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:
        await session.rollback()
        raise Invalid("invalid-link", LINK_INVALID)
    staff.password_hash = await asyncio.to_thread(hash_password, password)
    end_all_sessions(staff)
    session.add(staff)
    await clear_account(session, staff.username)
    session.add(
        StaffChange(
            desa_code=staff.desa_code,
            username=staff.username,
            action="password-link",
            changed_by=staff.username,
        )
    )
    await session.commit()
    log.info("staff account %s set its password through its link", staff.id)
    return staff


def roles_offered() -> list[tuple[str, str]]:
    return [(r, role_label(r)) for r in DESA_ROLES]


CERTIFICATE_UPLOAD_LIMIT = 64 * 1024  # signing refuses more with its own message


@dataclass(frozen=True)
class CertificateUpload:
    """A PKCS#12 file (with its password), or a PEM certificate and PEM key (with the key's
    password when it is encrypted). The password goes to signing and nowhere else."""

    pkcs12: bytes = b""
    certificate_pem: bytes = b""
    key_pem: bytes = b""
    password: bytes = b""
    # Instead of a certificate: a camat who signs through BSrE, by the NIK BSrE knows them by.
    bsre_nik: str = ""

    def __repr__(self) -> str:  # never the key, the password or a NIK in a log or traceback
        return (
            f"CertificateUpload(pkcs12={len(self.pkcs12)} B, pem={bool(self.certificate_pem)}, "
            f"bsre={bool(self.bsre_nik)})"
        )


async def install_signer(
    runtime: Runtime, actor: Staff, desa_code: str, role: str, upload: CertificateUpload
) -> signing_pb2.InstalledSignerInfo:
    """Has signing check and install the desa signer's certificate; its refusal (Indonesian)
    comes back as Invalid (the upload) or Conflict (the desa signs elsewhere)."""
    desa = desa_of(actor, desa_code)
    return await send_signer(runtime, actor, desa.code, role, upload)


async def send_signer(
    runtime: Runtime,
    actor: Staff,
    code: str,
    role: str,
    upload: CertificateUpload,
    signer_name: str = "",
) -> signing_pb2.InstalledSignerInfo:
    """Signing's InstallSigner for a desa's signer or (role camat, the kecamatan's code) a
    camat, the caller having checked the code is the operator's."""
    try:
        info: signing_pb2.InstalledSignerInfo = await runtime.signing.InstallSigner(
            signing_pb2.InstallSignerRequest(
                desa_code=code,
                role=role,
                pkcs12=upload.pkcs12,
                certificate_pem=upload.certificate_pem,
                key_pem=upload.key_pem,
                password=upload.password,
                installed_by=actor.username,
                signer_name=signer_name,
                bsre_nik=upload.bsre_nik,
            ),
            timeout=runtime.settings.signing_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise Invalid("certificate-refused", exc.details() or "Sertifikat ditolak.") from exc
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
            raise Conflict("certificate-refused", exc.details() or "Sertifikat ditolak.") from exc
        log.warning("signing did not install a signer of %s: %s", code, exc.code())
        raise _signing_unavailable() from exc
    log.info("signer %s of %s installed by staff %s", role, code, actor.id)
    return info


async def signer_roles(runtime: Runtime, code: str) -> list[str]:
    """The roles whose certificate signing holds for a desa or (the camat) a kecamatan."""
    try:
        signer: signing_pb2.SignerInfo = await runtime.signing.GetSigner(
            signing_pb2.GetSignerRequest(desa_code=code),
            timeout=runtime.settings.signing_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("signing did not answer about %s: %s", code, exc.code())
        raise _signing_unavailable() from exc
    return list(signer.roles)
