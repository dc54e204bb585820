"""Staff sign-in is throttled per account and per client address (sign_in_throttle.py): past
the limit the right password is refused too, before any password hashing, with a message that
says how to lift the lockout; the page and the API count the same attempts, a restart or a
second replica on the same database still refuses, and an administrator's reset lifts it."""

import httpx
import pytest

from services.verification import accounts
from services.verification.config import Settings
from services.verification.main import create_app
from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service

LOCKED = "Akun dikunci sementara karena terlalu banyak percobaan masuk yang gagal."
KASI = "pemerintahan.pamanukan"


async def _token(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_the_right_password_after_13_wrong_ones_is_refused_with_how_to_lift_it(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    password_matches = accounts.password_matches

    def counting(password_hash: str, password: str) -> bool:
        hashed.append(password)
        return password_matches(password_hash, password)

    monkeypatch.setattr(accounts, "password_matches", counting)
    statuses = [(await _token(service.http, KASI, f"salah-{i}")).status_code for i in range(13)]
    right = await _token(service.http, KASI, PASSWORD)

    assert statuses == [401] * 10 + [429] * 3
    assert right.status_code == 429
    body = right.json()
    assert body["type"].endswith("/sign-in-locked") and "access_token" not in body
    assert body["detail"].startswith(LOCKED)
    assert "Coba lagi dalam 15 menit" in body["detail"]
    assert "Sekretaris Desa atau Kepala Desa mengatur ulang kata sandi" in body["detail"]
    assert 0 < int(right.headers["retry-after"]) <= 15 * 60
    # Only the ten counted attempts cost a password hash; the locked ones were refused first.
    assert len(hashed) == 10


async def test_the_page_and_the_api_count_the_same_attempts(service: Service) -> None:
    http = service.http
    form = await async_sign_in_form(http, username=KASI, password="salah")
    for _ in range(5):
        assert (await http.post("/masuk", data=form)).status_code == 401
    for _ in range(5):
        assert (await _token(http, KASI, "salah")).status_code == 401

    page = await http.post("/masuk", data={**form, "password": PASSWORD})
    assert page.status_code == 429
    assert LOCKED in page.text and "sd_staf" not in page.cookies
    assert (await _token(http, KASI, PASSWORD)).status_code == 429


async def test_a_lockout_holds_after_a_restart_and_on_a_second_replica(
    service: Service, settings: Settings
) -> None:
    for _ in range(10):
        assert (await _token(service.http, KASI, "salah")).status_code == 401

    replica = create_app(settings)  # the same database, another process's memory
    async with replica.router.lifespan_context(replica):
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            refused = await _token(http, KASI, PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(LOCKED)


async def test_an_administrators_password_reset_lifts_the_lockout(service: Service) -> None:
    for _ in range(10):
        await _token(service.http, KASI, "salah")
    assert (await _token(service.http, KASI, PASSWORD)).status_code == 429

    sekdes = await service.login("sekdes.pamanukan")
    reset = await service.http.post(
        f"/api/v1/staff/{KASI}/password",
        json={"password": "sandi-baru-dari-sekdes"},
        headers=sekdes,
    )
    assert reset.status_code == 200, reset.text
    assert (await _token(service.http, KASI, "sandi-baru-dari-sekdes")).status_code == 200


async def test_a_success_clears_the_accounts_count(service: Service) -> None:
    for _ in range(9):
        await _token(service.http, KASI, "salah")
    assert (await _token(service.http, KASI, PASSWORD)).status_code == 200
    for _ in range(9):
        assert (await _token(service.http, KASI, "salah")).status_code == 401
    assert (await _token(service.http, KASI, PASSWORD)).status_code == 200


async def test_one_client_address_guessing_many_accounts_is_locked_out(service: Service) -> None:
    # 30 failures from one address, each on another (unknown) username: no account is locked,
    # but the address is, for every account, the right password included.
    for i in range(30):
        assert (await _token(service.http, f"tebakan{i}.pamanukan", "salah")).status_code == 401
    refused = await _token(service.http, KASI, PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(
        "Terlalu banyak percobaan masuk yang gagal dari jaringan ini."
    )
    assert "retry-after" in refused.headers

    # Another address (another office) signs in as usual.
    transport = httpx.ASGITransport(app=service.app, client=("10.20.30.40", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as elsewhere:
        assert (await _token(elsewhere, KASI, PASSWORD)).status_code == 200
