"""Onboarding a desa (services/verification/onboarding.py): every desa of the kabupaten with
its switch, what a desa still needs, its profile, its first accounts with one-time password
links, its signers' certificates, and the switch itself. The kabupaten's viewer (DPMD) reads;
only the kabupaten operator changes anything. And the public end of a password link,
`POST /api/v1/auth/set-password`."""

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from smartdesa.v1 import signing_pb2

from common.db import as_utc
from common.domain.errors import Invalid
from services.verification import onboarding
from services.verification.api.deps import (
    KabupatenOperator,
    KabupatenStaff,
    RuntimeDep,
    SessionDep,
)
from services.verification.api.routes.desa_profile import DesaProfileIn, profile_form
from services.verification.desa_profile import profile_json, save_profile

router = APIRouter(tags=["onboarding desa"])
PREFIX = "/kabupaten/desa"

DesaCode = Annotated[str, Path(min_length=1, max_length=20, description="kode desa Kemendagri")]
Username = Annotated[str, Path(min_length=1, max_length=64)]
SignerRole = Annotated[str, Path(min_length=1, max_length=20, description="kades | sekdes")]


class DesaOut(BaseModel):
    code: str
    name: str
    jenis: str  # desa | kelurahan
    kecamatan_code: str
    kecamatan: str
    serving: bool  # takes new applications
    active_accounts: int


class AccountOut(BaseModel):
    username: str
    role: str
    active: bool
    password_set: bool  # False until the holder used their link


class ReadinessOut(BaseModel):
    desa: DesaOut
    has_profile: bool
    signer_kind: str
    signer_roles: list[str]
    accounts: list[AccountOut]
    missing: list[str]  # what switching on still needs (Indonesian); empty: ready


def _desa_out(row: onboarding.DesaRow) -> DesaOut:
    d = row.desa
    return DesaOut(
        code=d.code,
        name=d.name,
        jenis="kelurahan" if d.kelurahan else "desa",
        kecamatan_code=d.kecamatan_code,
        kecamatan=d.kecamatan,
        serving=row.serving,
        active_accounts=row.accounts,
    )


def readiness_out(r: onboarding.Readiness) -> ReadinessOut:
    active = sum(1 for s in r.accounts if s.active)
    return ReadinessOut(
        desa=_desa_out(onboarding.DesaRow(r.desa, r.serving, active)),
        has_profile=r.has_profile,
        signer_kind=r.signer_kind,
        signer_roles=r.signer_roles,
        accounts=[
            AccountOut(
                username=s.username,
                role=s.role,
                active=s.active,
                password_set=s.password_hash != onboarding.NO_PASSWORD,
            )
            for s in r.accounts
        ],
        missing=r.missing,
    )


@router.get(PREFIX)
async def list_desa(staff: KabupatenStaff, session: SessionDep) -> list[DesaOut]:
    """Every desa and kelurahan of the kabupaten (by kecamatan, then name) and whether it takes
    new applications."""
    return [_desa_out(r) for r in await onboarding.kabupaten_desa(session, staff.kabupaten_code)]


@router.get(PREFIX + "/{code}")
async def desa_readiness(
    code: DesaCode, staff: KabupatenStaff, runtime: RuntimeDep, session: SessionDep
) -> ReadinessOut:
    """What the desa has (profile, accounts, signers' certificates) and what it still needs."""
    desa = onboarding.desa_of(staff, code)
    return readiness_out(await onboarding.readiness(runtime, session, desa))


class ServiceIn(BaseModel):
    serving: bool


@router.put(PREFIX + "/{code}/service")
async def switch_desa(
    code: DesaCode,
    body: ServiceIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> ReadinessOut:
    """Switches the desa on (409 while something it needs is missing) or off. Off: no new
    applications (portal, API, walk-in); those already submitted finish."""
    return readiness_out(await onboarding.set_serving(runtime, session, staff, code, body.serving))


@router.put(
    PREFIX + "/{code}/profile",
    responses={422: {"description": "Isian yang ditolak, per isian (`errors`)"}},
)
async def put_desa_profile(
    code: DesaCode,
    body: DesaProfileIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> dict[str, Any]:
    """The desa's profile (kop surat, officials, numbering, paper), made if it has none yet;
    the same body and checks as `PUT /api/v1/desa-profile`."""
    desa = onboarding.desa_of(staff, code)
    view = await save_profile(
        runtime, session, staff, profile_form(body), desa_code=desa.code, create=True
    )
    return profile_json(view)


class AccountIn(BaseModel):
    username: str = Field(max_length=64)
    role: str = Field(max_length=40)  # a desa role: kades, operator, sekdes, kasi_…


class PasswordLinkOut(BaseModel):
    username: str
    role: str
    # /akun/atur-sandi/<token> on the staff client: shown this once; hand it to the holder.
    set_password_path: str
    expires_at: datetime


@router.post(PREFIX + "/{code}/accounts", status_code=201)
async def create_account(
    code: DesaCode,
    body: AccountIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> PasswordLinkOut:
    """A first account of the desa, without a password, and the one-time link its holder sets
    their own password with (`staff_password_link_hours`, default 72 hours)."""
    account, link = await onboarding.create_first_account(
        runtime, session, staff, code, body.username, body.role
    )
    return PasswordLinkOut(
        username=account.username,
        role=account.role,
        set_password_path=link.path,
        expires_at=as_utc(link.expires_at),
    )


@router.post(PREFIX + "/{code}/accounts/{username}/password-link", status_code=201)
async def new_password_link(
    code: DesaCode,
    username: Username,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    session: SessionDep,
) -> PasswordLinkOut:
    """Another link for an account of the desa; the earlier one stops working."""
    link = await onboarding.new_password_link(runtime, session, staff, code, username)
    account = await onboarding.account_in(session, code, username)
    return PasswordLinkOut(
        username=account.username,
        role=account.role,
        set_password_path=link.path,
        expires_at=as_utc(link.expires_at),
    )


class SignerIn(BaseModel):
    """Either `pkcs12_base64` (a .p12/.pfx file) or `certificate_pem` with `key_pem`."""

    pkcs12_base64: str = Field(default="", max_length=90_000)
    certificate_pem: str = Field(default="", max_length=60_000)
    key_pem: str = Field(default="", max_length=60_000)
    password: str = Field(default="", max_length=256, repr=False)


class SignerOut(BaseModel):
    desa_code: str
    role: str
    subject: str
    serial: str
    fingerprint: str
    # None for a camat who signs through BSrE (no certificate kept here).
    not_after: datetime | None
    kind: str = "local"  # local (a certificate and key installed) | bsre (a NIK at BSrE)


@router.put(PREFIX + "/{code}/signers/{role}")
async def install_signer(
    code: DesaCode,
    role: SignerRole,
    body: SignerIn,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
) -> SignerOut:
    """Installs (or replaces) the certificate and key of the desa's Kades or Sekdes: checked by
    signing (issued by the kabupaten root, valid, key matches, not revoked) and used from the
    next letter on, without a restart."""
    info = await onboarding.install_signer(runtime, staff, code, role, upload_of(body))
    return signer_out(info)


def upload_of(body: SignerIn) -> onboarding.CertificateUpload:
    try:
        pkcs12 = base64.b64decode(body.pkcs12_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(
            "certificate-refused", "Berkas PKCS#12 harus dikirim sebagai base64."
        ) from exc
    return onboarding.CertificateUpload(
        pkcs12=pkcs12,
        certificate_pem=body.certificate_pem.encode(),
        key_pem=body.key_pem.encode(),
        password=body.password.encode(),
    )


def signer_out(info: signing_pb2.InstalledSignerInfo) -> SignerOut:
    return SignerOut(
        desa_code=info.desa_code,
        role=info.role,
        subject=info.subject,
        serial=info.serial,
        fingerprint=info.fingerprint,
        not_after=info.not_after.ToDatetime(tzinfo=UTC) if info.HasField("not_after") else None,
        kind=info.kind or "local",
    )


class SetPasswordIn(BaseModel):
    token: str = Field(max_length=100)
    new_password: str = Field(max_length=256, repr=False)


class SetPasswordOut(BaseModel):
    username: str


@router.post("/auth/set-password")
async def set_password(body: SetPasswordIn, session: SessionDep) -> SetPasswordOut:
    """Public: the holder of a one-time link sets their own password (at least 10 characters);
    the link then stops working. Sign in afterwards with `/api/v1/auth/token`."""
    staff = await onboarding.set_password_with_link(session, body.token, body.new_password)
    return SetPasswordOut(username=staff.username)
