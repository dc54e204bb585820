"""Pengaturan pemberitahuan (/pengaturan-pemberitahuan): the signed-in resident's notification
preferences, kept by notification and changed through its NotificationService
(services/intake/notification_preferences.py): which outside channels, an email address, quiet
hours, and whether each step the application reaches sends its one short WhatsApp/SMS line
(issue 15: "a single short line that can be switched off in preferences"). A refusal is shown
beside the form; when notification does not answer, the page says so and nothing changes."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import Invalid, Unavailable
from common.web.refusals import refusal_of
from services.intake.api.deps import RuntimeDep
from services.intake.notification_preferences import (
    CHANNEL_LABELS,
    NotificationSettings,
    change_settings,
    read_settings,
)
from services.intake.web.pages import ResidentPage, ResidentPageDep, render

router = APIRouter(include_in_schema=False)

PATH = "/pengaturan-pemberitahuan"
SAVED = "Pengaturan pemberitahuan sudah disimpan."


def _page(
    request: Request,
    page: ResidentPage,
    settings: NotificationSettings | None,
    *,
    flash: str | None = None,
    flash_kind: str = "ok",
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "pengaturan-pemberitahuan.html",
        {
            "title": "Pengaturan pemberitahuan",
            "nav_active": "permohonan",
            "settings": settings,
            "channel_labels": CHANNEL_LABELS,
            "flash": flash,
            "flash_kind": flash_kind,
        },
        page=page,
        status_code=status_code,
    )


@router.get(PATH)
async def notification_settings(
    request: Request, page: ResidentPageDep, runtime: RuntimeDep, pesan: str | None = None
) -> HTMLResponse:
    try:
        settings = await read_settings(runtime.notifications, page.resident.subject)
    except Unavailable as exc:
        refused = refusal_of(exc)
        return _page(
            request, page, None, flash=refused.message, flash_kind="galat", status_code=503
        )
    return _page(request, page, settings, flash=SAVED if pesan == "tersimpan" else None)


@router.post(PATH)
async def change_notification_settings(
    request: Request, page: ResidentPageDep, runtime: RuntimeDep
) -> Response:
    form = await request.form()

    def text(name: str, limit: int) -> str:
        value = form.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    wanted = NotificationSettings(
        channels=frozenset(
            c for c in form.getlist("saluran") if isinstance(c, str) and c in CHANNEL_LABELS
        ),
        email=text("email", 254),
        step_updates=text("setiap_tahap", 3) == "ya",
        quiet_start=text("jam_tenang_mulai", 5),
        quiet_end=text("jam_tenang_selesai", 5),
    )
    try:
        await change_settings(runtime.notifications, page.resident.subject, wanted)
    except (Invalid, Unavailable) as exc:
        # The form again, as the resident filled it in; nothing was stored.
        refused = refusal_of(exc)
        return _page(
            request, page, wanted, flash=refused.message, flash_kind="galat",
            status_code=refused.status,
        )  # fmt: skip
    return RedirectResponse(f"{PATH}?pesan=tersimpan", status_code=303)
