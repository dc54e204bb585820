"""The staff web client: pages in Bahasa Indonesia over the same rules as the staff API.

Layout (the intake portal's `web/` has the same): `pages.py` (templates and the page context),
`routes/` (one router per area), `templates/`, `static/`. Pages declare the API's own
dependencies (`DesaStaff`, `HeldRoles`, `DesaManager` …), so they check role and desa exactly
as the API does; the session cookie holds the API's staff token.
"""

from fastapi import FastAPI

from common.web import install_web
from services.verification.web.pages import SIGN_IN_PATH, STATIC_DIR, templates
from services.verification.web.routes import (
    application,
    catalogue,
    corrections,
    desa_profile,
    duties,
    inbox,
    kabupaten,
    kecamatan_pages,
    letter_settings,
    office_messages,
    onboarding,
    penduduk,
    plt_pages,
    session,
    settings,
    sign_in_phone,
    staff_accounts,
    walk_in,
)


def install_pages(app: FastAPI) -> None:
    install_web(app, static_dir=STATIC_DIR, templates=templates, sign_in_path=SIGN_IN_PATH)
    for module in (
        session,
        inbox,
        application,
        walk_in,
        sign_in_phone,
        office_messages,
        penduduk,
        corrections,
        settings,
        staff_accounts,
        plt_pages,
        letter_settings,
        desa_profile,
        onboarding,
        kecamatan_pages,
        kabupaten,
        catalogue,
        duties,
    ):
        app.include_router(module.router)
