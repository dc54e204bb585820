"""Templates of the resident portal and what every page's frame needs (the signed-in resident
and the CSRF token of their session)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from common.auth import Principal
from common.web import web_templates
from services.intake.api.deps import CsrfToken, CurrentResident

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = web_templates(WEB_DIR / "templates")

SIGN_IN_PATH = "/masuk"
HOME_PATH = "/"


@dataclass
class ResidentPage:
    """The signed-in resident as every page's frame needs them."""

    resident: Principal  # subject = the resident's id (never the NIK)
    csrf: str


def resident_page(resident: CurrentResident, csrf: CsrfToken) -> ResidentPage:
    return ResidentPage(resident=resident, csrf=csrf)


ResidentPageDep = Annotated[ResidentPage, Depends(resident_page)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    page: ResidentPage | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page of the portal; `page` (when signed in) fills the frame's menu and CSRF token."""
    if page is not None:
        context = {"signed_in": True, "csrf": page.csrf, **context}
    return templates.TemplateResponse(request, template, context, status_code=status_code)
