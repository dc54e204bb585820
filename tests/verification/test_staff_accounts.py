"""The desa's staff accounts through the staff API: the Sekdes and the Kades (or the operator
they allowed) create accounts, change roles, deactivate and reset passwords, within their own
desa and under the rules of services/verification/staff_admin.py; every change is recorded."""

from typing import Any

import httpx

from tests.verification.conftest import Service

NEW_PASSWORD = "kata-sandi-awal-1"


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    body["code"] = str(body["type"]).rsplit("/", 1)[-1]
    return body


async def test_sekdes_creates_a_kasi_kesra_who_can_sign_in(service: Service) -> None:
    headers = await service.login("sekdes.pamanukan")
    r = await service.http.post(
        "/api/v1/staff",
        json={"username": "Kesra2.Pamanukan", "role": "kasi_kesra", "password": NEW_PASSWORD},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "kesra2.pamanukan"  # usernames are lower case
    assert r.json()["role"] == "kasi_kesra" and r.json()["active"] is True
    assert "password" not in r.text and "hash" not in r.text

    await service.login("kesra2.pamanukan", NEW_PASSWORD)
    listed = await service.http.get("/api/v1/staff", headers=headers)
    assert listed.status_code == 200
    kesra = [s["username"] for s in listed.json() if s["role"] == "kasi_kesra" and s["active"]]
    assert kesra == ["kesra.pamanukan", "kesra2.pamanukan"]
    assert all(s["username"].endswith(".pamanukan") for s in listed.json())  # own desa only

    again = await service.http.post(
        "/api/v1/staff",
        json={"username": "kesra2.pamanukan", "role": "operator", "password": NEW_PASSWORD},
        headers=headers,
    )
    assert again.status_code == 409
    assert _problem(again)["code"] == "username-taken"

    changes = (await service.http.get("/api/v1/staff/changes", headers=headers)).json()
    assert changes[0]["username"] == "kesra2.pamanukan"
    assert (changes[0]["action"], changes[0]["changed_by"]) == ("created", "sekdes.pamanukan")


async def test_bad_input_is_refused_with_a_message(service: Service) -> None:
    headers = await service.login("kades.pamanukan")
    cases = [
        ({"username": "x", "role": "operator"}, "invalid-username"),
        ({"username": "baru.pamanukan", "role": "lurah"}, "unknown-role"),
        ({"username": "baru.pamanukan", "role": "operator", "password": "pendek"}, "weak-password"),
        ({"username": "baru.pamanukan", "role": "kades"}, "role-taken"),
        ({"username": "baru.pamanukan", "role": "sekdes"}, "role-taken"),
    ]
    for body, code in cases:
        r = await service.http.post(
            "/api/v1/staff", json={"password": NEW_PASSWORD, **body}, headers=headers
        )
        assert r.status_code in (409, 422), r.text
        problem = _problem(r)
        assert problem["code"] == code
        assert problem["detail"]  # an Indonesian sentence


async def test_a_changed_role_ends_the_old_sessions(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    kasi = await service.login("pemerintahan.pamanukan")
    assert (await service.http.get("/api/v1/auth/me", headers=kasi)).status_code == 200

    r = await service.http.patch(
        "/api/v1/staff/pemerintahan.pamanukan", json={"role": "kasi_kesra"}, headers=sekdes
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "kasi_kesra"
    old = await service.http.get("/api/v1/auth/me", headers=kasi)
    assert old.status_code == 401
    assert _problem(old)["code"] == "session-ended"
    fresh = await service.login("pemerintahan.pamanukan")
    me = (await service.http.get("/api/v1/auth/me", headers=fresh)).json()
    assert me["role"] == "kasi_kesra"

    changes = (await service.http.get("/api/v1/staff/changes", headers=sekdes)).json()
    assert changes[0]["detail"] == "kasi_pemerintahan -> kasi_kesra"


async def test_deactivate_reactivate_and_a_new_password(service: Service) -> None:
    kades = await service.login("kades.pamanukan")
    kasi = await service.login("kesra.pamanukan")
    off = await service.http.patch(
        "/api/v1/staff/kesra.pamanukan", json={"active": False}, headers=kades
    )
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await service.http.get("/api/v1/auth/me", headers=kasi)).status_code == 401
    refused = await service.http.post(
        "/api/v1/auth/token", data={"username": "kesra.pamanukan", "password": "x"}
    )
    assert refused.status_code == 401

    on = await service.http.patch(
        "/api/v1/staff/kesra.pamanukan", json={"active": True}, headers=kades
    )
    assert on.status_code == 200 and on.json()["active"] is True
    short = await service.http.post(
        "/api/v1/staff/kesra.pamanukan/password", json={"password": "123"}, headers=kades
    )
    assert short.status_code == 422
    r = await service.http.post(
        "/api/v1/staff/kesra.pamanukan/password", json={"password": NEW_PASSWORD}, headers=kades
    )
    assert r.status_code == 200, r.text
    await service.login("kesra.pamanukan", NEW_PASSWORD)
    actions = [
        c["action"] for c in (await service.http.get("/api/v1/staff/changes", headers=kades)).json()
    ]
    assert actions[:3] == ["password", "reactivated", "deactivated"]


async def test_nobody_demotes_or_deactivates_themself(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    for body in ({"role": "operator"}, {"active": False}):
        r = await service.http.patch("/api/v1/staff/sekdes.pamanukan", json=body, headers=sekdes)
        assert r.status_code == 422
        assert _problem(r)["code"] == "self-change"


async def test_only_the_kades_changes_the_sekdes_and_kades_accounts(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    r = await service.http.patch(
        "/api/v1/staff/kades.pamanukan", json={"active": False}, headers=sekdes
    )
    assert r.status_code == 403
    assert _problem(r)["code"] == "kades-only"
    r = await service.http.patch(
        "/api/v1/staff/operator.pamanukan", json={"role": "sekdes"}, headers=sekdes
    )
    assert r.status_code == 403

    kades = await service.login("kades.pamanukan")
    # One active Sekdes: the old one has to go first.
    r = await service.http.patch(
        "/api/v1/staff/operator.pamanukan", json={"role": "sekdes"}, headers=kades
    )
    assert r.status_code == 409
    assert _problem(r)["code"] == "role-taken"


async def test_only_administrators_of_the_same_desa(service: Service) -> None:
    for username in ("pemerintahan.pamanukan", "operator.pamanukan"):
        headers = await service.login(username)
        r = await service.http.get("/api/v1/staff", headers=headers)
        assert r.status_code == 403, username
        r = await service.http.post(
            "/api/v1/staff",
            json={"username": "baru.pamanukan", "role": "operator", "password": NEW_PASSWORD},
            headers=headers,
        )
        assert r.status_code == 403, username

    # Another desa's Kades does not see or touch Pamanukan's accounts.
    other = await service.login("kades.rancasari")
    listed = (await service.http.get("/api/v1/staff", headers=other)).json()
    assert {s["username"] for s in listed} == {"pemerintahan.rancasari", "kades.rancasari"}
    r = await service.http.patch(
        "/api/v1/staff/kesra.pamanukan", json={"active": False}, headers=other
    )
    assert r.status_code == 404


async def test_an_operator_allowed_by_the_sekdes_administers_accounts(service: Service) -> None:
    sekdes = await service.login("sekdes.pamanukan")
    settings = (await service.http.get("/api/v1/settings", headers=sekdes)).json()
    body = {
        k: v
        for k, v in settings.items()
        if k not in ("desa_code", "customized", "updated_by", "updated_at")
    }
    r = await service.http.put(
        "/api/v1/settings", json={**body, "operator_may_edit_routes": True}, headers=sekdes
    )
    assert r.status_code == 200, r.text

    operator = await service.login("operator.pamanukan")
    r = await service.http.post(
        "/api/v1/staff",
        json={
            "username": "pelayanan.pamanukan",
            "role": "kasi_pelayanan",
            "password": NEW_PASSWORD,
        },
        headers=operator,
    )
    assert r.status_code == 201, r.text
    # …but not the Sekdes's or Kades's accounts.
    r = await service.http.post(
        "/api/v1/staff/sekdes.pamanukan/password", json={"password": NEW_PASSWORD}, headers=operator
    )
    assert r.status_code == 403
