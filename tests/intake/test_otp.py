"""Sign-in end to end in-process: the code travels over the real NATS internal stream."""

from datetime import timedelta

from sqlmodel import col, func, select, update

from common.db import utcnow
from common.domain.events import OTP_REQUESTED
from common.events import event_type
from common.outbox import OutboxEvent
from services.intake.models import OtpChallenge
from services.intake.otp import MAX_ATTEMPTS
from tests.intake.conftest import NIK_ANI, NIK_BUDI, PHONE_ANI, PHONE_BUDI, Intake, problem


async def _challenges(intake: Intake) -> list[OtpChallenge]:
    async with intake.runtime.sessions() as session:
        return list((await session.exec(select(OtpChallenge))).all())


async def _outbox_count(intake: Intake) -> int:
    async with intake.runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(OutboxEvent))).one()


async def test_code_arrives_over_nats_and_buys_a_token(intake: Intake) -> None:
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    assert event.type == event_type(OTP_REQUESTED)
    assert event.source == "/services/intake"
    code = event.data["code"]
    assert len(code) == 6 and code.isdigit()
    assert "phone" not in event.data and PHONE_ANI[1:] not in event.body().decode()
    # Only an HMAC is stored.
    (challenge,) = await _challenges(intake)
    assert code not in challenge.code_hmac and len(challenge.code_hmac) == 64

    r = await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": "+6281234567890", "otp": code}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await intake.http.get("/api/v1/applications", headers=headers)).json() == []

    # A code works once.
    again = await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": code}
    )
    assert again.status_code == 401
    assert "Kode masuk salah" in problem(again)["detail"]


async def test_bad_nik_and_phone_get_indonesian_422(intake: Intake) -> None:
    r = await intake.http.post(
        "/api/v1/auth/otp", json={"nik": "3213113202850002", "phone": PHONE_ANI}
    )
    assert r.status_code == 422
    assert problem(r)["detail"] == "NIK harus 16 digit angka dengan tanggal lahir yang valid."
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": "0221234567"})
    assert r.status_code == 422
    assert "Nomor HP" in problem(r)["detail"]
    assert await _challenges(intake) == []


async def test_nik_bound_to_another_phone_gets_the_same_answer_and_nothing_is_sent(
    intake: Intake,
) -> None:
    await intake.request_code(NIK_BUDI, PHONE_BUDI)
    events_before = await _outbox_count(intake)
    first = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_BUDI, "phone": PHONE_BUDI})
    other = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_BUDI, "phone": PHONE_ANI})
    assert other.status_code == first.status_code == 202
    assert other.json() == first.json()
    assert "Kode masuk telah dikirim" in other.json()["detail"]
    assert len(await _challenges(intake)) == 2  # the first two only
    assert await _outbox_count(intake) == events_before + 1
    # And the other phone cannot sign in with Budi's NIK.
    r = await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_BUDI, "phone": PHONE_ANI, "otp": "000000"}
    )
    assert r.status_code == 401


async def test_wrong_code_is_401_and_too_many_tries_429(intake: Intake) -> None:
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    code = event.data["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(MAX_ATTEMPTS):
        r = await intake.http.post(
            "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": wrong}
        )
        assert r.status_code == 401
        assert problem(r)["detail"].startswith("Kode masuk salah")
    # Even the right code is refused now: the challenge is spent.
    r = await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": code}
    )
    assert r.status_code == 429
    assert "Terlalu banyak percobaan" in problem(r)["detail"]


async def test_malformed_code_is_422(intake: Intake) -> None:
    r = await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": "12ab"}
    )
    assert r.status_code == 422
    assert problem(r)["detail"] == "Kode masuk harus 6 digit angka."


async def test_expired_code_is_refused(intake: Intake) -> None:
    event = await intake.request_code(NIK_ANI, PHONE_ANI)
    async with intake.runtime.sessions() as session:
        await session.exec(update(OtpChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    r = await intake.http.post(
        "/api/v1/auth/token",
        json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": event.data["code"]},
    )
    assert r.status_code == 401


async def test_only_the_newest_code_counts(intake: Intake) -> None:
    old = await intake.request_code(NIK_ANI, PHONE_ANI)
    new = await intake.request_code(NIK_ANI, PHONE_ANI)
    if old.data["code"] != new.data["code"]:
        r = await intake.http.post(
            "/api/v1/auth/token",
            json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": old.data["code"]},
        )
        assert r.status_code == 401
    r = await intake.http.post(
        "/api/v1/auth/token", json={"nik": NIK_ANI, "phone": PHONE_ANI, "otp": new.data["code"]}
    )
    assert r.status_code == 200


async def test_three_codes_per_fifteen_minutes(intake: Intake) -> None:
    for _ in range(3):
        await intake.request_code(NIK_ANI, PHONE_ANI)
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": PHONE_ANI})
    assert r.status_code == 429
    assert "15 menit" in problem(r)["detail"]
    assert len(await _challenges(intake)) == 3
    # Once the window has passed, a new code may be asked for.
    async with intake.runtime.sessions() as session:
        await session.exec(
            update(OtpChallenge)
            .where(col(OtpChallenge.resident_id) == await intake.resident_id(NIK_ANI))
            .values(created_at=utcnow() - timedelta(minutes=16))
        )
        await session.commit()
    r = await intake.http.post("/api/v1/auth/otp", json={"nik": NIK_ANI, "phone": PHONE_ANI})
    assert r.status_code == 202


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
