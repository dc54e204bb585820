from sqlmodel import select

from common.auth import Principal, token_verifier
from services.verification.models import Staff
from tests.verification.conftest import PASSWORD, Service


async def test_staff_signs_in_with_the_password_form(service: Service) -> None:
    response = await service.http.post(
        "/api/v1/auth/token",
        data={"username": "pemerintahan.pamanukan", "password": PASSWORD},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    verifier = token_verifier(service.runtime.settings, residents=False, staff=True)
    assert verifier.verify(body["access_token"]) == Principal(
        kind="staff",
        subject="pemerintahan.pamanukan",
        role="kasi_pemerintahan",
        desa_code="32.13.11.2004",
    )


async def test_wrong_password_and_unknown_user_get_the_same_401(service: Service) -> None:
    wrong = await service.http.post(
        "/api/v1/auth/token", data={"username": "kades.pamanukan", "password": "bukan-ini"}
    )
    unknown = await service.http.post(
        "/api/v1/auth/token", data={"username": "tidak.ada", "password": PASSWORD}
    )

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert "access_token" not in response.json()
    assert (
        wrong.json()["detail"]
        == unknown.json()["detail"]
        == ("Nama pengguna atau kata sandi salah.")
    )


async def test_routes_need_a_staff_token(service: Service) -> None:
    missing = await service.http.get("/api/v1/tasks")
    garbage = await service.http.get(
        "/api/v1/tasks", headers={"Authorization": "Bearer bukan.token.sah"}
    )

    for response in (missing, garbage):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"]


async def test_a_deactivated_account_loses_access_and_cannot_sign_in(service: Service) -> None:
    headers = await service.login("kesra.pamanukan")
    assert (await service.http.get("/api/v1/tasks", headers=headers)).status_code == 200

    async with service.runtime.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.username == "kesra.pamanukan"))).one()
        staff.active = False
        session.add(staff)
        await session.commit()

    assert (await service.http.get("/api/v1/tasks", headers=headers)).status_code == 401
    response = await service.http.post(
        "/api/v1/auth/token", data={"username": "kesra.pamanukan", "password": PASSWORD}
    )
    assert response.status_code == 401
