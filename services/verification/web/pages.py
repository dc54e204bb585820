"""Templates of the staff client and what every page's frame needs (who is signed in, which
roles they hold now, the CSRF token of their session)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from common.domain import KABUPATEN_ROLES, MANAGER_ROLES, ROLE_LABELS
from common.web import web_templates
from services.verification.api.deps import CsrfToken, CurrentStaff, SessionDep
from services.verification.kecamatan import is_kecamatan_staff
from services.verification.models import Staff
from services.verification.plt import roles_held

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = web_templates(WEB_DIR / "templates")

SIGN_IN_PATH = "/masuk"
HOME_PATH = "/"

# How a role is named on screen: the workflow's words, and the kabupaten's read-only role.
templates.env.globals["ROLE_NAMES"] = ROLE_LABELS


@dataclass
class StaffPage:
    """The signed-in staff member as every page's frame shows them."""

    staff: Staff
    csrf: str
    roles: list[str] = field(default_factory=list)  # own role, then Plt roles (desa staff)

    @property
    def is_kabupaten(self) -> bool:
        return self.staff.role in KABUPATEN_ROLES

    @property
    def is_kecamatan(self) -> bool:
        """Camat, Sekcam or Kasi Pelayanan of a kecamatan (kecamatan.is_kecamatan_staff)."""
        return is_kecamatan_staff(self.staff)

    @property
    def is_manager(self) -> bool:
        return any(r in MANAGER_ROLES for r in self.roles)


async def staff_page(staff: CurrentStaff, session: SessionDep, csrf: CsrfToken) -> StaffPage:
    if staff.role in KABUPATEN_ROLES:
        roles = []
    elif is_kecamatan_staff(staff):
        roles = [staff.role]  # no Plt at the kecamatan
    else:
        roles = await roles_held(session, staff)
    return StaffPage(staff=staff, csrf=csrf, roles=roles)


StaffPageDep = Annotated[StaffPage, Depends(staff_page)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    page: StaffPage | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page of the staff client; `page` fills the frame (navigation, CSRF token). A signed-in
    page is never stored by the browser: on an office computer shared by the staff, Back after
    signing out must not bring a resident's particulars (NIK, names) up again."""
    if page is not None:
        context = {"me": page, "csrf": page.csrf, **context}
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if page is not None:
        response.headers["Cache-Control"] = "no-store"
    return response
