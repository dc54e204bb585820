"""Dependencies the routes declare: the runtime, its settings, a database session, the signed-in
staff member (of a desa, or of the kabupaten), the roles a desa staff member holds now."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InvalidToken, Principal
from common.domain import KABUPATEN_ROLES, MANAGER_ROLES, Role
from common.http import Problem
from common.web import bearer_or_cookie, csrf_token_for, verify_csrf
from services.verification import staff_tasks
from services.verification.access_log import act_as
from services.verification.accounts import current_account_and_roles
from services.verification.api.params import ApplicationId
from services.verification.catalogue import Catalogue
from services.verification.config import Settings
from services.verification.kecamatan import is_kecamatan_staff
from services.verification.models import Staff
from services.verification.plt import roles_held
from services.verification.runtime import Runtime
from services.verification.staff_admin import administers_desa


# Async although it never waits (as get_settings, get_catalogue and _desa_staff): FastAPI hands
# a plain function to a worker thread, and these run on every request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_catalogue(runtime: RuntimeDep) -> Catalogue:
    return runtime.catalogue


# The kabupaten's letter catalogue as verification reads it (services/verification/catalogue.py).
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

# Documents the bearer scheme in OpenAPI; the token itself is read by `staff_session_token`.
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
# The staff client's session cookie holds the same token (set by the sign-in page).
SESSION_COOKIE = "sd_staf"


async def staff_session_token(
    request: Request, runtime: RuntimeDep, _documented: Annotated[str | None, Depends(bearer)]
) -> str | None:
    """The bearer token, or the session cookie's; a write by cookie must carry its CSRF token."""
    token, from_cookie = bearer_or_cookie(request, SESSION_COOKIE)
    if token and from_cookie:
        await verify_csrf(request, token, runtime.token_issuer.csrf_secret)
    return token


def csrf_of(request: Request, runtime: RuntimeDep) -> str:
    """This session's CSRF token, for the forms of a page ("" when not signed in by cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    return csrf_token_for(token, runtime.token_issuer.csrf_secret) if token else ""


CsrfToken = Annotated[str, Depends(csrf_of)]


def client_address(request: Request) -> str:
    """The client's address, as the sign-in throttle counts it (behind a proxy, uvicorn takes
    it from X-Forwarded-For when the proxy is in FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def current_principal(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(staff_session_token)]
) -> Principal:
    """The staff token's principal, whatever its session's state (see `current_staff`)."""
    if not token:
        raise Problem(
            401, "Silakan masuk terlebih dahulu.", code="unauthenticated", headers=_CHALLENGE
        )
    try:
        principal = runtime.token_verifier.verify(token)
    except InvalidToken:
        principal = None
    if principal is None or principal.kind != "staff":
        raise Problem(
            401,
            "Sesi tidak sah atau sudah berakhir. Silakan masuk kembali.",
            code="invalid-token",
            headers=_CHALLENGE,
        )
    return principal


StaffPrincipal = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True)
class SignedIn:
    """The signed-in staff member and the roles they hold now in their desa (own, then Plt)."""

    staff: Staff
    roles: list[str]


async def signed_in(principal: StaffPrincipal, session: SessionDep) -> SignedIn:
    """A valid staff token whose session is still current (accounts.current_account: not
    signed out, the account active, and no password, role or status change since it was
    issued), and the roles its holder has now: one query, as every staff request asks."""
    found = await current_account_and_roles(session, principal)
    if found is None:
        raise Problem(
            401,
            "Sesi ini sudah berakhir (keluar, kata sandi atau jabatan diubah, atau akun "
            "dinonaktifkan). Silakan masuk kembali.",
            code="session-ended",
            headers=_CHALLENGE,
        )
    # Whom this request's reads of personal data are logged for (access_log: register reads).
    act_as(found[0])
    return SignedIn(*found)


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


async def current_staff(signed: SignedInDep) -> Staff:
    """The signed-in staff member (`signed_in`)."""
    return signed.staff


CurrentStaff = Annotated[Staff, Depends(current_staff)]


def desa_staff(staff: CurrentStaff) -> Staff:
    """A staff member of a desa (kabupaten accounts have their own, read-only routes)."""
    if not staff.desa_code or staff.role in KABUPATEN_ROLES:
        raise Problem(403, "Fitur ini hanya untuk staf desa.", code="desa-staff-only")
    return staff


async def _desa_staff(staff: CurrentStaff) -> Staff:
    return desa_staff(staff)


DesaStaff = Annotated[Staff, Depends(_desa_staff)]


def kabupaten_staff(staff: CurrentStaff) -> Staff:
    """A kabupaten account (Diskominfo's operator, or DPMD's read-only viewer): reads across the
    kabupaten's desa. Both roles may only read; only the operator is escalated to."""
    if staff.role not in KABUPATEN_ROLES or not staff.kabupaten_code:
        raise Problem(403, "Fitur ini hanya untuk petugas kabupaten.", code="kabupaten-staff-only")
    return staff


KabupatenStaff = Annotated[Staff, Depends(kabupaten_staff)]


def kabupaten_operator(staff: CurrentStaff) -> Staff:
    """Diskominfo's operator of the kabupaten: edits the catalogue of letter types and onboards
    desa (onboarding.py). DPMD's viewer only reads; desa staff change their own desa's wording."""
    if staff.role != Role.KABUPATEN_OPERATOR or not staff.kabupaten_code:
        raise Problem(
            403,
            "Hanya operator kabupaten yang dapat melakukan perubahan ini.",
            code="kabupaten-operator-only",
        )
    return staff


KabupatenOperator = Annotated[Staff, Depends(kabupaten_operator)]


async def roles_of(_desa_staff: DesaStaff, signed: SignedInDep) -> list[str]:
    """The roles the desa staff member holds now: their own, then any Plt roles (read with the
    account, `signed_in`). Async, so that FastAPI does not hand it to a thread."""
    return signed.roles


HeldRoles = Annotated[list[str], Depends(roles_of)]


async def desa_manager(staff: DesaStaff, roles: HeldRoles) -> Staff:
    """Sekdes or Kades of the desa (also as Plt): may change routes, settings and Plt periods."""
    if not any(r in MANAGER_ROLES for r in roles):
        raise Problem(
            403,
            "Hanya Sekretaris Desa atau Kepala Desa yang dapat melakukan perubahan ini.",
            code="manager-only",
        )
    return staff


DesaManager = Annotated[Staff, Depends(desa_manager)]


async def desa_admin(staff: DesaStaff, roles: HeldRoles, session: SessionDep) -> Staff:
    """Administers the desa (staff_admin.administers_desa): staff accounts."""
    if await administers_desa(session, staff.desa_code, roles):
        return staff
    raise Problem(
        403,
        "Hanya Sekretaris Desa atau Kepala Desa (atau operator yang diberi izin) yang dapat "
        "melakukan perubahan ini.",
        code="admin-only",
    )


DesaAdmin = Annotated[Staff, Depends(desa_admin)]


async def route_editor(staff: DesaStaff, roles: HeldRoles, session: SessionDep) -> Staff:
    """Administers the desa (staff_admin.administers_desa): routes and offered letter types."""
    if await administers_desa(session, staff.desa_code, roles):
        return staff
    raise Problem(
        403,
        "Hanya Sekretaris Desa atau Kepala Desa (atau operator yang diberi izin) yang dapat "
        "mengubah rute surat.",
        code="route-editor-only",
    )


RouteEditor = Annotated[Staff, Depends(route_editor)]


async def task_desk(
    application_id: ApplicationId, signed: SignedInDep, session: SessionDep
) -> staff_tasks.Desk:
    """Who acts on this application's task: a desa staff member in the roles they hold now, or
    the kabupaten operator for a step escalated to them (staff_tasks.desk_for)."""
    return await staff_tasks.desk_for(session, signed.staff, application_id, signed.roles)


TaskDesk = Annotated[staff_tasks.Desk, Depends(task_desk)]


async def signer_desk(
    application_id: ApplicationId, staff: CurrentStaff, session: SessionDep
) -> staff_tasks.Desk:
    """Who signs or issues again an approved letter: a desa staff member in the roles they hold
    now, or the camat at their kecamatan's signature task (a BSrE camat's "mengetahui"). Never
    the kabupaten's accounts: that is the signer's own act."""
    if is_kecamatan_staff(staff):
        return await staff_tasks.desk_for(session, staff, application_id)
    desa = desa_staff(staff)
    return staff_tasks.Desk(desa, await roles_held(session, desa))


SignerDesk = Annotated[staff_tasks.Desk, Depends(signer_desk)]
