"""The portal's notification settings (/pengaturan-pemberitahuan, issue 15 item 1) against
notification's real NotificationService over gRPC: a resident switches the one line at each
step off and picks channels; notification's refusal is shown in Indonesian and stores nothing;
without notification the page says so and nothing changes; a forged post by cookie is refused."""

import re
from collections.abc import AsyncIterator

import pytest

from common.web import csrf_token_for
from services.intake.config import Settings
from services.intake.notification_preferences import UNAVAILABLE_MESSAGE
from services.notification.preferences import load_preferences
from tests.intake.conftest import NIK_ANI, Intake, Register
from tests.support.notification import NotificationPeer, notification_peer

PATH = "/pengaturan-pemberitahuan"


@pytest.fixture
async def notification(base_settings: Settings) -> AsyncIterator[NotificationPeer]:
    async with notification_peer(base_settings) as served:
        yield served


@pytest.fixture
def settings(
    base_settings: Settings, register: Register, notification: NotificationPeer
) -> Settings:
    return base_settings.model_copy(
        update={
            "verification_grpc_target": register.target,
            "notification_grpc_target": notification.target,
        }
    )


def _checked(html: str, name: str, value: str) -> bool:
    tag = re.search(rf'<input type="checkbox" name="{name}" value="{value}"[^>]*>', html)
    assert tag is not None, (name, value)
    return " checked" in tag.group(0)


async def test_a_resident_switches_the_step_lines_off(
    intake: Intake, notification: NotificationPeer
) -> None:
    headers = await intake.sign_in()
    listing = await intake.http.get("/permohonan", headers=headers)
    assert f'href="{PATH}"' in listing.text
    page = await intake.http.get(PATH, headers=headers)
    assert page.status_code == 200, page.text
    assert _checked(page.text, "setiap_tahap", "ya")
    assert all(_checked(page.text, "saluran", c) for c in ("whatsapp", "sms", "email"))

    sent = await intake.http.post(
        PATH,
        data={"saluran": ["whatsapp"], "email": "", "jam_tenang_mulai": "21:00",
              "jam_tenang_selesai": "06:00"},
        headers=headers,
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{PATH}?pesan=tersimpan"
    shown = await intake.http.get(sent.headers["location"], headers=headers)
    assert "Pengaturan pemberitahuan sudah disimpan." in shown.text
    assert not _checked(shown.text, "setiap_tahap", "ya")
    assert _checked(shown.text, "saluran", "whatsapp")
    assert not _checked(shown.text, "saluran", "sms")
    assert 'value="21:00"' in shown.text

    # Notification keeps it under the key its rules read for this resident.
    resident_id = await intake.resident_id(NIK_ANI)
    async with notification.sessions() as session:
        stored = await load_preferences(session, f"resident:{resident_id}")
    assert stored.step_updates is False
    assert stored.channels == frozenset({"whatsapp"})


async def test_a_refused_change_is_told_and_stores_nothing(
    intake: Intake, notification: NotificationPeer
) -> None:
    headers = await intake.sign_in()
    refused = await intake.http.post(
        PATH, data={"saluran": ["email"], "email": "bukan-email"}, headers=headers
    )
    assert refused.status_code == 422
    assert "Alamat email tidak valid." in refused.text
    assert 'value="bukan-email"' in refused.text  # the form as it was filled in
    resident_id = await intake.resident_id(NIK_ANI)
    async with notification.sessions() as session:
        stored = await load_preferences(session, f"resident:{resident_id}")
    assert stored.step_updates is True
    assert stored.channels == frozenset({"whatsapp", "sms", "email"})


async def test_a_forged_post_by_cookie_is_refused(
    intake: Intake, notification: NotificationPeer
) -> None:
    headers = await intake.sign_in()
    token = headers["Authorization"].removeprefix("Bearer ")
    csrf = csrf_token_for(token, intake.runtime.token_issuer.csrf_secret)
    intake.http.cookies.set("sd_warga", token)
    try:
        forged = await intake.http.post(PATH, data={"saluran": ["sms"], "csrf_token": "palsu"})
        assert forged.status_code == 403
        resident_id = await intake.resident_id(NIK_ANI)
        async with notification.sessions() as session:
            stored = await load_preferences(session, f"resident:{resident_id}")
        assert stored.step_updates is True
        sent = await intake.http.post(PATH, data={"saluran": ["sms"], "csrf_token": csrf})
        assert sent.status_code == 303, sent.text
    finally:
        intake.http.cookies.clear()


async def test_without_notification_the_page_says_so_and_nothing_changes(
    intake: Intake, notification: NotificationPeer
) -> None:
    headers = await intake.sign_in()
    await notification.server.stop(0)
    page = await intake.http.get(PATH, headers=headers)
    assert page.status_code == 503
    assert UNAVAILABLE_MESSAGE in page.text
    assert '<form method="post" action="/pengaturan-pemberitahuan"' not in page.text
    sent = await intake.http.post(PATH, data={"saluran": ["sms"]}, headers=headers)
    assert sent.status_code == 503
    assert UNAVAILABLE_MESSAGE in sent.text
    resident_id = await intake.resident_id(NIK_ANI)
    async with notification.sessions() as session:
        stored = await load_preferences(session, f"resident:{resident_id}")
    assert stored.channels == frozenset({"whatsapp", "sms", "email"})
