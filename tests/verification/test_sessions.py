"""Staff sessions end when they should, in verification and in signing (which asks
verification: DirectoryService.GetStaffSession): a password reset, a deactivation, one's own
new password and signing out. Changing one's own password needs the current one."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from smartdesa.v1 import directory_pb2_grpc

from common.auth import InternalAuth, token_verifier
from common.rpc import VERIFICATION, WORKER, client_channel
from common.session_checks import StaffSessions
from services.signing.main import create_app as create_signing_app
from services.signing.models import Letter
from tests.signing.conftest import RunningSigning, make_settings, skd_request
from tests.support.web import async_sign_in_form, sign_in_token
from tests.verification.conftest import PASSWORD, Service

KASI = "pemerintahan.pamanukan"
NEW_PASSWORD = "sandi-baru-yang-panjang"
REASON = "Data alamat pemohon keliru; surat diganti dengan yang baru."


@pytest.fixture
async def signing(service: Service, data_dir: Path, nats_url: str) -> AsyncIterator[RunningSigning]:
    """Signing beside this verification (same secrets), asking it about every staff token
    (no reuse of answers here; the cache's bound has its own test below)."""
    settings = make_settings(
        data_dir,
        nats_url,
        verification_grpc_target=f"127.0.0.1:{service.runtime.grpc_server.port}",
        session_check_cache_seconds=0,
    )
    app = create_signing_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningSigning(app.state.runtime, client)


async def _status(service: Service, headers: dict[str, str]) -> int:
    return (await service.http.get("/api/v1/auth/me", headers=headers)).status_code


async def _register(signing: RunningSigning, headers: dict[str, str]) -> int:
    return (await signing.http.get("/api/v1/register", headers=headers)).status_code


async def test_a_password_reset_ends_the_old_token_in_verification_and_signing(
    service: Service, signing: RunningSigning
) -> None:
    kasi = await service.login(KASI)
    assert await _status(service, kasi) == 200
    assert await _register(signing, kasi) == 200

    sekdes = await service.login("sekdes.pamanukan")
    reset = await service.http.post(
        f"/api/v1/staff/{KASI}/password", json={"password": NEW_PASSWORD}, headers=sekdes
    )
    assert reset.status_code == 200, reset.text

    assert await _status(service, kasi) == 401
    assert await _register(signing, kasi) == 401
    renewed = await service.login(KASI, NEW_PASSWORD)
    assert await _status(service, renewed) == 200
    assert await _register(signing, renewed) == 200
    # The administrator's own session goes on.
    assert await _status(service, sekdes) == 200


async def test_a_dismissed_kades_cannot_revoke_letters_in_signing(
    service: Service, signing: RunningSigning
) -> None:
    letter = await signing.runtime.issuer.issue(skd_request("app-dismissed"))
    kades = await service.login("kades.pamanukan")
    assert await _register(signing, kades) == 200

    # The Sekdes acts as Plt Kades, and as such deactivates the dismissed Kades's account.
    now = datetime.now(UTC)
    plt = await service.http.post(
        "/api/v1/plt",
        json={
            "username": "sekdes.pamanukan",
            "role": "kades",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "reason": "Kepala Desa diberhentikan",
        },
        headers=kades,
    )
    assert plt.status_code == 201, plt.text
    sekdes = await service.login("sekdes.pamanukan")
    deactivated = await service.http.patch(
        "/api/v1/staff/kades.pamanukan", json={"active": False}, headers=sekdes
    )
    assert deactivated.status_code == 200, deactivated.text

    refused = await signing.http.post(
        f"/api/v1/letters/{letter.id}/revocation", json={"reason": REASON}, headers=kades
    )
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    async with signing.runtime.sessions() as session:
        row = await session.get(Letter, letter.id)
    assert row is not None and row.revoked_at is None


async def test_signing_refuses_an_ended_session_within_its_cache_lifetime(
    service: Service,
) -> None:
    """The bound stated in docs/security.md: signing reuses verification's answer for at most
    `session_check_cache_seconds` (a clock the test moves, not a wait)."""
    now = [0.0]
    auth = InternalAuth.from_settings(service.runtime.settings, WORKER)
    target = f"127.0.0.1:{service.runtime.grpc_server.port}"
    verifier = token_verifier(service.runtime.settings, residents=False, staff=True)
    kasi = await service.login(KASI)
    principal = verifier.verify(kasi["Authorization"].removeprefix("Bearer "))
    async with client_channel(target, auth, VERIFICATION) as channel:
        cache = StaffSessions(
            directory_pb2_grpc.DirectoryServiceStub(channel), 30.0, 5.0, clock=lambda: now[0]
        )
        assert await cache.is_current(principal)
        sekdes = await service.login("sekdes.pamanukan")
        patched = await service.http.patch(
            f"/api/v1/staff/{KASI}", json={"active": False}, headers=sekdes
        )
        assert patched.status_code == 200
        now[0] = 29.9
        assert await cache.is_current(principal)  # the last answer, still within its lifetime
        now[0] = 30.0
        assert not await cache.is_current(principal)
        now[0] = 1000.0
        assert not await cache.is_current(principal)


async def test_a_role_change_ends_the_session_in_signing(
    service: Service, signing: RunningSigning
) -> None:
    kasi = await service.login(KASI)
    assert await _register(signing, kasi) == 200
    sekdes = await service.login("sekdes.pamanukan")
    changed = await service.http.patch(
        f"/api/v1/staff/{KASI}", json={"role": "kasi_pelayanan"}, headers=sekdes
    )
    assert changed.status_code == 200
    assert await _register(signing, kasi) == 401


async def test_ones_own_password_needs_the_current_one(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    # Not through the administrators' reset, which asks for no current password.
    own = await service.http.post(
        "/api/v1/staff/sekdes.pamanukan/password", json={"password": NEW_PASSWORD}, headers=sekdes
    )
    assert own.status_code == 422
    assert own.json()["type"].endswith("/own-password")
    missing = await service.http.post(
        "/api/v1/auth/password", json={"new_password": NEW_PASSWORD}, headers=sekdes
    )
    assert missing.status_code == 422
    wrong = await service.http.post(
        "/api/v1/auth/password",
        json={"current_password": "bukan-sandinya", "new_password": NEW_PASSWORD},
        headers=sekdes,
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "Kata sandi saat ini salah."
    # Nothing changed: the session and the old password still work.
    assert await _status(service, sekdes) == 200
    await service.login("sekdes.pamanukan", PASSWORD)

    other_device = await service.login("sekdes.pamanukan")
    changed = await service.http.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=sekdes,
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert await _status(service, fresh) == 200
    assert await _status(service, sekdes) == 401
    assert await _status(service, other_device) == 401
    old = await service.http.post(
        "/api/v1/auth/token", data={"username": "sekdes.pamanukan", "password": PASSWORD}
    )
    assert old.status_code == 401
    await service.login("sekdes.pamanukan", NEW_PASSWORD)


async def test_the_own_password_page_asks_for_the_current_one(service: Service) -> None:
    http = service.http
    form = await async_sign_in_form(http, username=KASI, password=PASSWORD)
    assert (await http.post("/masuk", data=form)).status_code == 303
    page = await http.get("/akun/sandi")
    assert page.status_code == 200
    csrf = sign_in_token(page)

    wrong = await http.post(
        "/akun/sandi",
        data={"csrf_token": csrf, "current_password": "", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 403
    assert "Kata sandi saat ini salah." in wrong.text
    changed = await http.post(
        "/akun/sandi",
        data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    # This browser got the new session's cookie and goes on.
    assert (await http.get(changed.headers["location"])).status_code == 200
    await service.login(KASI, NEW_PASSWORD)


async def test_signing_out_ends_that_token_everywhere(
    service: Service, signing: RunningSigning
) -> None:
    kasi = await service.login(KASI)
    other_device = await service.login(KASI)
    assert await _register(signing, kasi) == 200

    out = await service.http.post("/api/v1/auth/logout", headers=kasi)
    assert out.status_code == 204
    assert await _status(service, kasi) == 401
    assert await _register(signing, kasi) == 401
    assert (await service.http.post("/api/v1/auth/logout", headers=kasi)).status_code == 401
    # Only that session ended.
    assert await _status(service, other_device) == 200
    assert await _register(signing, other_device) == 200


async def test_signing_out_of_the_pages_ends_the_cookie(service: Service) -> None:
    http = service.http
    form = await async_sign_in_form(http, username=KASI, password=PASSWORD)
    assert (await http.post("/masuk", data=form)).status_code == 303
    cookie = http.cookies["sd_staf"]
    home = await http.get("/")
    assert home.status_code == 200

    out = await http.post("/keluar", data={"csrf_token": sign_in_token(home)})
    assert out.status_code == 303 and out.headers["location"] == "/masuk?keluar=1"

    # A copy of the cookie (another tab, a shared computer's saved state) opens nothing.
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", cookies={"sd_staf": cookie}
    ) as copy:
        page = await copy.get("/kotak-masuk")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/masuk")
        assert (await copy.get("/api/v1/auth/me")).status_code == 401
    assert await _status(service, {"Authorization": f"Bearer {cookie}"}) == 401
