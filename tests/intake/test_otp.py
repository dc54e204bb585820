"""Sign-in end to end in-process: the code travels over the real NATS internal stream; code
requests are counted against their limits and wrong codes lock the NIK, all in the database."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, func, select, update

from common.db import utcnow
from common.domain.events import OTP_REQUESTED
from common.events import event_type
from common.outbox import OutboxEvent
from services.intake.config import RateLimit, Settings
from services.intake.main import create_app
from services.intake.models import Resident, SignInCode, SignInGuard, SignInThrottle
from tests.intake.conftest import NIK_ANI, NIK_BUDI, PHONE_ANI, PHONE_BUDI, Intake, problem

# Windows so long that no test straddles one's end (the next ends in 2033): "the window has
# passed" is made by moving the counted rows back, never by waiting.
LONG = 10**9


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "intake_code_limits_per_phone": [RateLimit(count=3, seconds=LONG)],
            "intake_code_limits_per_nik": [RateLimit(count=3, seconds=LONG)],
            "intake_code_limits_per_client": [RateLimit(count=8, seconds=LONG)],
            "intake_code_limits_overall": [RateLimit(count=12, seconds=LONG)],
        }
    )


def nik(n: int) -> str:
    """A structurally valid NIK (Pamanukan, born 01-01-1985), serial n."""
    return f"321311010185{n:04d}"


def phone(n: int) -> str:
    return f"08123{n:07d}"


async def _pending(intake: Intake) -> list[SignInCode]:
    async with intake.runtime.sessions() as session:
        return list((await session.exec(select(SignInCode))).all())


async def _count(intake: Intake, table: type[Resident] | type[OutboxEvent]) -> int:
    async with intake.runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def _ask(http: httpx.AsyncClient, nik: str, phone: str) -> httpx.Response:
    return await http.post("/api/v1/auth/otp", json={"nik": nik, "phone": phone})


async def _redeem(http: httpx.AsyncClient, nik: str, phone: str, code: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", json={"nik": nik, "phone": phone, "otp": code})


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _window_passes(intake: Intake) -> None:
    """Every counted request moves one window back, as if its window had ended."""
    async with intake.runtime.sessions() as session:
        await session.exec(
            update(SignInThrottle).values(
                period=col(SignInThrottle.period) - 1, ends_at=utcnow() - timedelta(seconds=1)
            )
        )
        await session.commit()


async def _lock_ends(intake: Intake) -> None:
    async with intake.runtime.sessions() as session:
        await session.exec(update(SignInGuard).values(locked_until=utcnow() - timedelta(seconds=1)))
        await session.commit()


def _assert_throttled(r: httpx.Response, words: str) -> int:
    assert r.status_code == 429, r.text
    assert words in problem(r)["detail"]
    retry_after = r.headers["retry-after"]
    assert retry_after.isascii() and retry_after.isdigit() and int(retry_after) > 0
    return int(retry_after)


async def test_code_arrives_over_nats_and_buys_a_token(intake: Intake) -> None:
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    assert event.type == event_type(OTP_REQUESTED)
    assert event.source == "/services/intake"
    code = event.data["code"]
    assert len(code) == 6 and code.isdigit()
    assert "phone" not in event.data and PHONE_ANI[1:] not in event.body().decode()
    assert NIK_ANI not in event.body().decode()
    # Only HMACs of the code and the NIK are kept, and no resident exists before a code is used.
    (pending,) = await _pending(intake)
    assert code not in pending.code_hmac and len(pending.code_hmac) == 64
    assert pending.nik_hmac != NIK_ANI and len(pending.nik_hmac) == 64
    assert await _count(intake, Resident) == 0

    r = await _redeem(intake.http, NIK_ANI, "+6281234567890", code)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await intake.http.get("/api/v1/applications", headers=headers)).json() == []
    assert await _count(intake, Resident) == 1

    # A code works once.
    again = await _redeem(intake.http, NIK_ANI, PHONE_ANI, code)
    assert again.status_code == 401
    assert "Kode masuk salah" in problem(again)["detail"]


async def test_bad_nik_and_phone_get_indonesian_422(intake: Intake) -> None:
    r = await _ask(intake.http, "3213113202850002", PHONE_ANI)
    assert r.status_code == 422
    assert problem(r)["detail"] == "NIK harus 16 digit angka dengan tanggal lahir yang valid."
    r = await _ask(intake.http, NIK_ANI, "0221234567")
    assert r.status_code == 422
    assert "Nomor HP" in problem(r)["detail"]
    assert await _pending(intake) == []


async def test_nik_bound_to_another_phone_gets_the_same_answer_and_work_but_no_sign_in(
    intake: Intake,
) -> None:
    await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    await _window_passes(intake)
    events_before = await _count(intake, OutboxEvent)
    first = await _ask(intake.http, NIK_BUDI, PHONE_BUDI)
    other = await intake.request_code(NIK_BUDI, PHONE_ANI)
    again = await _ask(intake.http, NIK_BUDI, PHONE_ANI)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert "Kode masuk telah dikirim" in again.json()["detail"]
    # A pending code and an event for each, so the work is the same, but the one for the
    # other phone goes nowhere.
    assert await _count(intake, OutboxEvent) == events_before + 3
    pending = await _pending(intake)
    assert sorted(p.phone for p in pending) == ["", "", "6285712345678", "6285712345678"]
    # Not even that request's own code signs the other phone in with Budi's NIK.
    r = await _redeem(intake.http, NIK_BUDI, PHONE_ANI, other.data["code"])
    assert r.status_code == 401
    assert await _count(intake, Resident) == 1


async def test_six_fresh_niks_do_not_send_six_codes_to_one_phone(intake: Intake) -> None:
    answers = [await _ask(intake.http, nik(n), PHONE_ANI) for n in range(1, 7)]
    assert [a.status_code for a in answers] == [202] * 3 + [429] * 3
    _assert_throttled(answers[3], "Terlalu sering meminta kode masuk")
    assert len(await _pending(intake)) == 3
    assert await _count(intake, Resident) == 0  # and no resident row for any of them
    # Once the window has passed, the phone may ask again.
    await _window_passes(intake)
    assert (await _ask(intake.http, nik(7), PHONE_ANI)).status_code == 202


async def test_one_nik_from_many_phones_is_limited(intake: Intake) -> None:
    answers = [await _ask(intake.http, NIK_ANI, phone(n)) for n in range(1, 6)]
    assert [a.status_code for a in answers] == [202] * 3 + [429] * 2
    _assert_throttled(answers[-1], "Terlalu sering meminta kode masuk")


async def test_one_client_is_limited_and_others_are_not(intake: Intake) -> None:
    answers = [await _ask(intake.http, nik(n), phone(n)) for n in range(1, 10)]
    assert [a.status_code for a in answers] == [202] * 8 + [429]
    _assert_throttled(answers[-1], "Terlalu sering meminta kode masuk")
    async with intake.client_at("10.20.30.40") as elsewhere:
        assert (await _ask(elsewhere, nik(10), phone(10))).status_code == 202


async def test_all_clients_together_are_limited(intake: Intake) -> None:
    statuses = []
    for n in range(1, 14):  # each from its own address, NIK and phone
        async with intake.client_at(f"10.0.0.{n}") as client:
            statuses.append((await _ask(client, nik(n), phone(n))).status_code)
    assert statuses == [202] * 12 + [429]


async def test_limits_hold_across_replicas_and_restarts(intake: Intake, settings: Settings) -> None:
    for _ in range(2):
        assert (await _ask(intake.http, NIK_ANI, PHONE_ANI)).status_code == 202
    # A second intake on the same database, as a replica (or this one restarted) would be.
    replica = create_app(settings)
    async with replica.router.lifespan_context(replica):
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await _ask(http, NIK_ANI, PHONE_ANI)).status_code == 202
            assert (await _ask(http, NIK_ANI, PHONE_ANI)).status_code == 429
    assert (await _ask(intake.http, NIK_ANI, PHONE_ANI)).status_code == 429


async def test_wrong_codes_lock_the_nik_for_longer_each_time_across_codes(
    intake: Intake,
) -> None:
    first = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    for _ in range(5):
        r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, _other(first))
        assert r.status_code == 401
        assert problem(r)["detail"].startswith("Kode masuk salah")
    # Locked: even the right code is refused, and so is a new code.
    r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, first)
    assert 50 < _assert_throttled(r, "Terlalu banyak percobaan kode yang salah") <= 60
    assert "1 menit" in problem(r)["detail"]
    _assert_throttled(
        await _ask(intake.http, NIK_ANI, PHONE_ANI), "Terlalu banyak percobaan kode yang salah"
    )

    # A new code brings no new tries: one more wrong one locks for twice as long.
    await _lock_ends(intake)
    second = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    assert (await _redeem(intake.http, NIK_ANI, PHONE_ANI, _other(second))).status_code == 401
    r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, second)
    assert 110 < _assert_throttled(r, "Terlalu banyak percobaan kode yang salah") <= 120

    # The right code after the lock signs in and forgives the wrong ones.
    await _lock_ends(intake)
    assert (await _redeem(intake.http, NIK_ANI, PHONE_ANI, second)).status_code == 200
    async with intake.runtime.sessions() as session:
        (guard,) = (await session.exec(select(SignInGuard))).all()
    assert guard.failures == 0 and guard.locked_until is None


async def test_parallel_guesses_do_not_slip_past_the_lock(intake: Intake) -> None:
    code = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    answers = await asyncio.gather(
        *(_redeem(intake.http, NIK_ANI, PHONE_ANI, _other(code)) for _ in range(20))
    )
    assert sorted(a.status_code for a in answers) == [401] * 5 + [429] * 15


async def test_malformed_code_is_422(intake: Intake) -> None:
    r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, "12ab")
    assert r.status_code == 422
    assert problem(r)["detail"] == "Kode masuk harus 6 digit angka."


async def test_expired_code_is_refused(intake: Intake) -> None:
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    async with intake.runtime.sessions() as session:
        await session.exec(update(SignInCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, event.data["code"])
    assert r.status_code == 401
    assert await _count(intake, Resident) == 0


async def test_only_the_newest_code_counts(intake: Intake) -> None:
    old = await intake.request_code(NIK_ANI, PHONE_ANI)
    new = await intake.request_code(NIK_ANI, PHONE_ANI)
    if old.data["code"] != new.data["code"]:
        r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, old.data["code"])
        assert r.status_code == 401
    r = await _redeem(intake.http, NIK_ANI, PHONE_ANI, new.data["code"])
    assert r.status_code == 200


async def test_two_phones_racing_for_a_new_nik_bind_the_first_to_redeem(intake: Intake) -> None:
    ani = (await intake.request_code(NIK_ANI, PHONE_ANI)).data["code"]
    budi = (await intake.request_code(NIK_ANI, PHONE_BUDI)).data["code"]
    assert (await _redeem(intake.http, NIK_ANI, PHONE_BUDI, budi)).status_code == 200
    assert (await _redeem(intake.http, NIK_ANI, PHONE_ANI, ani)).status_code == 401
    async with intake.runtime.sessions() as session:
        (resident,) = (await session.exec(select(Resident))).all()
    assert resident.phone == "6285712345678"


async def test_application_routes_require_a_resident_token(intake: Intake) -> None:
    r = await intake.http.get("/api/v1/applications")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert problem(r)["detail"] == "Silakan masuk terlebih dahulu."
    r = await intake.http.get(
        "/api/v1/applications", headers={"Authorization": "Bearer bukan-token"}
    )
    assert r.status_code == 401
    r = await intake.http.post("/api/v1/applications", json={})
    assert r.status_code == 401
