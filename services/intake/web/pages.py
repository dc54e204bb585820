"""Templates of the resident portal and what every page's frame needs (the CSRF token of the
resident's session)."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from common.web import web_templates

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = web_templates(WEB_DIR / "templates")

SIGN_IN_PATH = "/masuk"
HOME_PATH = "/"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    csrf: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """A page of the portal; `csrf` is the session's token for its forms."""
    return templates.TemplateResponse(
        request, template, {"csrf": csrf, **context}, status_code=status_code
    )
