"""The resident portal: pages in Bahasa Indonesia over the same rules as the resident API,
installable as a PWA.

Layout (the staff client's `web/` in verification has the same): `pages.py` (templates and the
page context), `routes/` (one router per area), `templates/`, `static/`. Pages declare the
API's own dependencies (`CurrentResident` …), so a resident sees only their own applications;
the session cookie holds the API's resident token.
"""

from fastapi import APIRouter, FastAPI

from common.web import install_web
from services.intake.web.pages import SIGN_IN_PATH, STATIC_DIR, templates
from services.intake.web.routes import (
    application,
    duties,
    figures,
    letters,
    notification_settings,
    own_data,
    pwa,
    session,
    standards,
)


def install_pages(app: FastAPI) -> None:
    install_web(app, static_dir=STATIC_DIR, templates=templates, sign_in_path=SIGN_IN_PATH)
    # The portal's pages, one router per area. `letters` before any router with
    # /permohonan/{id}, so /permohonan/baru is not taken for an application id.
    routers: list[APIRouter] = [
        session.router,
        letters.router,
        pwa.router,
        application.router,
        duties.router,
        standards.router,
        figures.router,
        own_data.router,
        notification_settings.router,
    ]
    for router in routers:
        app.include_router(router)
