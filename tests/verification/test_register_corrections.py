"""Residents' correction requests on the staff side (/api/v1/register-corrections and the
/perbaikan-data pages): every desa staff member sees the desa's requests, reading one is logged
as a read of the resident's record; the operator, the Sekdes and the Kades accept (the register
is corrected through correct_resident, its history says so) or decline with a reason; a Kasi
may not decide; another desa's staff see nothing."""

import io
from datetime import date

from PIL import Image
from sqlmodel import col, select

from services.verification.population import corrections
from services.verification.population.models import (
    Resident,
    ResidentAccess,
    ResidentChange,
)
from services.verification.population.register import ResidentData, add_resident
from services.verification.seed import PAMANUKAN
from tests.verification.conftest import Service
from tests.verification.test_penduduk_pages import csrf_of, signed_in

NIK_ANI = "3213115708900001"


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


async def _asked(service: Service, field: str = "religion", value: str = "Kristen") -> str:
    """Ani in Pamanukan's register, and her request (as intake sends it over gRPC)."""
    async with service.runtime.sessions() as session:
        if (await session.exec(select(Resident))).first() is None:
            await add_resident(
                session,
                PAMANUKAN,
                ResidentData(
                    nik=NIK_ANI,
                    name="ANI SURYANI",
                    sex=2,
                    birth_date=date(1990, 8, 17),
                    religion=1,
                    dusun="KRAJAN",
                    rw="002",
                    rt="005",
                ),
                actor="operator.pamanukan",
            )
        made = await corrections.request_correction(
            session,
            NIK_ANI,
            field,
            value,
            "Sesuai KTP",
            actor="intake:resident:r-1",
            document=photo(),
            document_content_type="image/png",
        )
        return made.id


async def test_the_operator_accepts_and_the_register_is_corrected(service: Service) -> None:
    request_id = await _asked(service)
    operator = await service.login("operator.pamanukan")
    kasi = await service.login("pemerintahan.pamanukan")
    other_desa = await service.login("kades.rancasari")

    listed = (await service.http.get("/api/v1/register-corrections", headers=kasi)).json()
    assert [(c["id"], c["field_label"], c["status"]) for c in listed] == [
        (request_id, "Agama", "menunggu")
    ]
    assert (await service.http.get("/api/v1/register-corrections", headers=other_desa)).json() == []
    url = f"/api/v1/register-corrections/{request_id}"
    assert (await service.http.get(url, headers=other_desa)).status_code == 404
    one = (await service.http.get(url, headers=operator)).json()
    assert (one["current_value"], one["proposed_value"], one["has_document"]) == (
        "1 (ISLAM)",
        "Kristen",
        True,
    )
    document = await service.http.get(f"{url}/document", headers=operator)
    assert (document.status_code, document.headers["content-type"]) == (200, "image/png")
    async with service.runtime.sessions() as session:
        reads = (await session.exec(select(ResidentAccess))).all()
    assert {(r.actor, r.purpose) for r in reads} == {
        ("operator.pamanukan", f"perbaikan data {request_id}")
    }

    refused = await service.http.post(f"{url}/accept", json={}, headers=kasi)
    assert refused.status_code == 403
    bad = await service.http.post(f"{url}/accept", json={"value": "Jedi"}, headers=operator)
    assert (bad.status_code, bad.json()["field"]) == (422, "value")
    accepted = await service.http.post(f"{url}/accept", json={}, headers=operator)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["accepted_value"]) == (
        "diterima",
        "2 (KRISTEN)",
    )
    async with service.runtime.sessions() as session:
        ani = (await session.exec(select(Resident))).one()
        history = (
            await session.exec(
                select(ResidentChange)
                .where(ResidentChange.field == "religion")
                .order_by(col(ResidentChange.id))
            )
        ).all()
    assert (ani.religion, ani.version) == (2, 2)
    assert [(h.old_value, h.new_value, h.changed_by) for h in history] == [
        ("1 (ISLAM)", "2 (KRISTEN)", "operator.pamanukan")
    ]
    # Decided once: a second answer is refused.
    again = await service.http.post(f"{url}/decline", json={"reason": "x"}, headers=operator)
    assert again.status_code == 409


async def test_a_decline_needs_a_reason(service: Service) -> None:
    request_id = await _asked(service, "birth_place", "BANDUNG")
    kades = await service.login("kades.pamanukan")
    url = f"/api/v1/register-corrections/{request_id}/decline"
    empty = await service.http.post(url, json={"reason": "  "}, headers=kades)
    assert (empty.status_code, empty.json()["field"]) == (422, "reason")
    r = await service.http.post(url, json={"reason": "Akta tidak terbaca"}, headers=kades)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decline_reason"]) == ("ditolak", "Akta tidak terbaca")
    async with service.runtime.sessions() as session:
        assert (await session.exec(select(Resident))).one().version == 1  # unchanged


async def test_the_pages_list_show_and_decide(service: Service) -> None:
    request_id = await _asked(service, "name", "ANI SURYANI PUTRI")
    operator = await signed_in(service, "operator.pamanukan")
    kasi = await signed_in(service, "pemerintahan.pamanukan")
    try:
        listing = await operator.get("/perbaikan-data")
        assert listing.status_code == 200
        assert "ANI SURYANI PUTRI" in listing.text and NIK_ANI not in listing.text

        seen_by_kasi = await kasi.get(f"/perbaikan-data/{request_id}")
        assert seen_by_kasi.status_code == 200
        assert "/terima" not in seen_by_kasi.text

        page = await operator.get(f"/perbaikan-data/{request_id}")
        assert "Terima dan perbaiki data" in page.text
        done = await operator.post(
            f"/perbaikan-data/{request_id}/terima", data={"csrf_token": csrf_of(page), "nilai": ""}
        )
        assert (done.status_code, done.headers["location"]) == (
            303,
            f"/perbaikan-data/{request_id}?pesan=diterima",
        )
        after = await operator.get(done.headers["location"])
        assert "Diterima" in after.text and "/terima" not in after.text
        forbidden = await kasi.post(
            f"/perbaikan-data/{request_id}/tolak",
            data={"csrf_token": csrf_of(seen_by_kasi), "alasan": "x"},
        )
        assert forbidden.status_code == 403
    finally:
        await operator.aclose()
        await kasi.aclose()
    async with service.runtime.sessions() as session:
        assert (await session.exec(select(Resident))).one().name == "ANI SURYANI PUTRI"
