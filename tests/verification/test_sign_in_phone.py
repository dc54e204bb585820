"""The operator's side of residents' sign-in (issue 13 item 6) on the staff API and pages:
a phone changed at the office after an in-person check, and the bindings a first sign-in made
by family knowledge, listed and undone. Intake answers over real gRPC (tests/verification/
intake_peer.py); what intake does with them is tested in tests/intake/test_sign_in_register.py."""

from datetime import date
from typing import Any

from smartdesa.v1 import intake_pb2
from sqlmodel import select

from scripts.opensid_sample import nik
from services.verification.population.models import ResidentChange
from services.verification.seed import PAMANUKAN
from tests.verification.conftest import Service
from tests.verification.test_penduduk_pages import csrf_of, signed_in

NIK = nik(date(1990, 8, 17), True, 41)


async def _resident(service: Service, phones: list[str]) -> str:
    body: dict[str, Any] = {
        "nik": NIK,
        "name": "Ani Suryani",
        "sex": 2,
        "kk_number": "3213110101090001",
        "kk_level": 3,
        "dusun": "Krajan",
        "rw": "001",
        "rt": "002",
        "mother_name": "Siti Aminah",
        "phones": phones,
    }
    r = await service.http.post(
        "/api/v1/residents", json=body, headers=await service.login("operator.pamanukan")
    )
    assert r.status_code == 201, r.text
    resident_id: str = r.json()["id"]
    return resident_id


async def test_a_phone_is_changed_only_after_an_in_person_check_and_is_recorded(
    service: Service,
) -> None:
    resident_id = await _resident(service, ["081234567890"])
    operator = await service.login("operator.pamanukan")
    url = f"/api/v1/residents/{resident_id}/phone"
    unchecked = await service.http.post(
        url, json={"phone": "085712345678", "checked_in_person": False}, headers=operator
    )
    assert unchecked.status_code == 422
    assert unchecked.json()["type"].endswith("not-checked-in-person")
    by_kasi = await service.http.post(
        url,
        json={"phone": "085712345678", "checked_in_person": True},
        headers=await service.login("kesra.pamanukan"),
    )
    assert by_kasi.status_code == 403
    assert service.intake.phone_changes == []

    changed = await service.http.post(
        url,
        json={"phone": "085712345678", "checked_in_person": True, "note": "SIM hilang"},
        headers=operator,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phones"] == ["6285712345678"]
    assert changed.json()["old_numbers_told"] == 1
    (asked,) = service.intake.phone_changes
    assert (asked.nik, asked.new_phone, list(asked.old_phones)) == (
        NIK,
        "6285712345678",
        ["6281234567890"],
    )
    assert (asked.desa_code, asked.changed_by) == (PAMANUKAN, "operator.pamanukan")
    history = await service.http.get(
        f"/api/v1/residents/{resident_id}/history",
        params={"purpose": "pemeriksaan"},
        headers=operator,
    )
    change = next(c for c in history.json() if c["field"] == "phones")
    assert change["changed_by"] == "operator.pamanukan"
    assert change["new_value"] == "6285712345678"
    async with service.app.state.runtime.sessions() as session:
        row = (
            await session.exec(select(ResidentChange).where(ResidentChange.field == "phones"))
        ).one()
        assert row.source == "kantor" and "SIM hilang" in row.note


async def test_a_correction_adds_a_phone_but_never_takes_one_away(service: Service) -> None:
    """Taking a number away must end its sign-ins and tell it: only the phone change above
    does both, so the general correction refuses it and changes nothing."""
    resident_id = await _resident(service, ["081234567890"])
    operator = await service.login("operator.pamanukan")
    url = f"/api/v1/residents/{resident_id}"
    for phones in ([], ["085712345678"]):
        refused = await service.http.patch(url, json={"phones": phones}, headers=operator)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/phone-change-at-office")
        assert refused.json()["field"] == "phones"
    kept = await service.http.get(url, params={"purpose": "pemeriksaan"}, headers=operator)
    assert kept.json()["phones"] == ["6281234567890"]
    added = await service.http.patch(
        url, json={"phones": ["081234567890", "085712345678"]}, headers=operator
    )
    assert added.status_code == 200, added.text
    assert added.json()["phones"] == ["6281234567890", "6285712345678"]
    assert service.intake.phone_changes == []


async def test_the_operator_lists_and_undoes_bindings_of_their_desa_only(
    service: Service,
) -> None:
    resident_id = await _resident(service, [])
    binding = intake_pb2.SignInBinding(id="b-1", nik=NIK, phone="6285712345678")
    binding.bound_at.GetCurrentTime()
    service.intake.bindings["b-1"] = (PAMANUKAN, binding)
    operator = await service.login("operator.pamanukan")
    listed = await service.http.get("/api/v1/sign-in-bindings", headers=operator)
    assert listed.status_code == 200
    (row,) = listed.json()
    assert (row["resident_id"], row["name"], row["phone"]) == (
        resident_id,
        "Ani Suryani",
        "6285712345678",
    )
    page = await service.http.get("/masuk-warga", headers=operator)
    assert page.status_code == 200 and "Ani Suryani" in page.text
    by_kasi = await service.http.get(
        "/api/v1/sign-in-bindings", headers=await service.login("kesra.pamanukan")
    )
    assert by_kasi.status_code == 403

    undone = await service.http.post("/api/v1/sign-in-bindings/b-1/undo", headers=operator)
    assert undone.json() == {"undone": True}
    again = await service.http.post("/api/v1/sign-in-bindings/b-1/undo", headers=operator)
    assert again.json() == {"undone": False}
    assert (await service.http.get("/api/v1/sign-in-bindings", headers=operator)).json() == []
    missing = await service.http.post("/api/v1/sign-in-bindings/b-2/undo", headers=operator)
    assert missing.status_code == 404


async def test_the_operator_changes_a_phone_and_undoes_a_binding_on_the_pages(
    service: Service,
) -> None:
    resident_id = await _resident(service, ["081234567890"])
    binding = intake_pb2.SignInBinding(id="b-9", nik=NIK, phone="6281299998888")
    binding.bound_at.GetCurrentTime()
    service.intake.bindings["b-9"] = (PAMANUKAN, binding)
    client = await signed_in(service, "operator.pamanukan")
    try:
        page = await client.get(f"/penduduk/{resident_id}/nomor-hp")
        assert page.status_code == 200
        assert "Saya telah memeriksa KTP dan KK" in page.text and "+6281234567890" in page.text
        form = {"csrf_token": csrf_of(page), "phone": "085712345678"}
        forged = await client.post(
            f"/penduduk/{resident_id}/nomor-hp", data={**form, "csrf_token": "x"}
        )
        assert forged.status_code == 403
        unchecked = await client.post(f"/penduduk/{resident_id}/nomor-hp", data=form)
        assert unchecked.status_code == 422
        assert "diperiksa langsung" in unchecked.text
        assert service.intake.phone_changes == []
        done = await client.post(
            f"/penduduk/{resident_id}/nomor-hp", data={**form, "diperiksa": "ya"}
        )
        assert done.status_code == 303
        shown = await client.get(done.headers["location"])
        assert "Nomor HP diganti" in shown.text and "+6285712345678" in shown.text
        assert [c.new_phone for c in service.intake.phone_changes] == ["6285712345678"]

        listed = await client.get("/masuk-warga")
        assert "+6281299998888" in listed.text
        undone = await client.post(
            "/masuk-warga/b-9/batalkan", data={"csrf_token": csrf_of(listed)}
        )
        assert undone.status_code == 303
        after = await client.get(undone.headers["location"])
        assert "Pengikatan dibatalkan" in after.text and "+6281299998888" not in after.text
    finally:
        await client.aclose()
