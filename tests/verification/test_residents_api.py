"""The population register on the staff API: who may import and edit (operator, Sekdes, Kades of
that desa, also as Plt), reads by every desa staff member each logged with its purpose, search
and family by NIK or KK in the request body, add, correct, mark moved; another desa's staff see
nothing of it."""

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from common.db import utcnow
from scripts.opensid_sample import nik, rows, to_csv, to_xlsx
from services.verification.accounts import hash_password
from services.verification.api.routes import residents
from services.verification.models import PltAssignment, Staff
from services.verification.population.models import ResidentAccess
from services.verification.seed import PAMANUKAN, RANCASARI
from services.verification.web.routes import penduduk
from tests.verification.conftest import PASSWORD, Service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD_NIK = nik(date(1980, 3, 12), False, 1)


def opensid_file(count: int = 12) -> bytes:
    table = list(rows(count, seed=21))
    table[0]["nik"] = HEAD_NIK  # a head of family the tests look up
    return to_xlsx(table)


async def import_as(
    service: Service, username: str, content: bytes, name: str = "p.xlsx"
) -> dict[str, Any]:
    response = await service.http.post(
        "/api/v1/residents/import",
        files={"file": (name, content, XLSX)},
        headers=await service.login(username),
    )
    return {"status": response.status_code, **response.json()}


async def add_staff(service: Service, username: str, role: str, desa: str) -> None:
    async with service.runtime.sessions() as session:
        session.add(
            Staff(
                username=username,
                password_hash=hash_password(PASSWORD),
                role=role,
                desa_code=desa,
            )
        )
        await session.commit()


async def find(
    service: Service, username: str, query: str, purpose: str = "cek"
) -> list[dict[str, Any]]:
    response = await service.http.post(
        "/api/v1/residents/search",
        json={"query": query, "purpose": purpose},
        headers=await service.login(username),
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def accesses(service: Service) -> list[ResidentAccess]:
    async with service.runtime.sessions() as session:
        rows_ = await session.exec(select(ResidentAccess).order_by(col(ResidentAccess.id)))
        return list(rows_.all())


async def test_the_operator_imports_and_a_kasi_may_not(service: Service) -> None:
    content = opensid_file()

    by_kasi = await import_as(service, "pemerintahan.pamanukan", content)
    by_operator = await import_as(service, "operator.pamanukan", content)
    again_by_kades = await import_as(service, "kades.pamanukan", content)
    unreadable = await import_as(service, "sekdes.pamanukan", b"bukan excel", "p.xlsx")

    assert by_kasi["status"] == 403
    assert by_kasi["detail"].startswith("Hanya Operator Desa, Sekretaris Desa atau Kepala Desa")
    assert by_operator == {
        "status": 200,
        "created": 12,
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }
    assert (again_by_kades["created"], again_by_kades["unchanged"]) == (0, 12)
    assert (unreadable["status"], unreadable["detail"]) == (422, "Berkas .xlsx tidak dapat dibaca.")


async def test_a_kasi_acting_as_operator_imports(service: Service) -> None:
    now = utcnow()
    async with service.runtime.sessions() as session:
        session.add(
            PltAssignment(
                desa_code=PAMANUKAN,
                username="kesra.pamanukan",
                role="operator",
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=1),
                granted_by="kades.pamanukan",
            )
        )
        await session.commit()

    result = await import_as(service, "kesra.pamanukan", to_csv(list(rows(3))), "p.csv")

    assert (result["status"], result["created"]) == (200, 3)


async def test_another_desa_sees_and_changes_nothing_of_it(service: Service) -> None:
    await add_staff(service, "operator.rancasari", "operator", RANCASARI)
    await import_as(service, "operator.pamanukan", opensid_file())
    [head] = await find(service, "operator.pamanukan", HEAD_NIK)
    other = await service.login("operator.rancasari")

    searched = await find(service, "operator.rancasari", HEAD_NIK)
    read = await service.http.get(
        f"/api/v1/residents/{head['id']}", params={"purpose": "x"}, headers=other
    )
    patched = await service.http.patch(
        f"/api/v1/residents/{head['id']}", json={"name": "DIUBAH"}, headers=other
    )
    marked = await service.http.post(
        f"/api/v1/residents/{head['id']}/status", json={"status": "pindah"}, headers=other
    )
    by_kabupaten = await service.http.post(
        "/api/v1/residents/search",
        json={"query": HEAD_NIK, "purpose": "x"},
        headers=await service.login("diskominfo.subang"),
    )

    assert searched == []
    assert (read.status_code, patched.status_code, marked.status_code) == (404, 404, 404)
    assert read.json()["detail"] == "Penduduk tidak ditemukan di data penduduk desa Anda."
    assert by_kabupaten.status_code == 403
    [unchanged] = await find(service, "operator.pamanukan", HEAD_NIK)
    assert (unchanged["name"], unchanged["status"]) == (head["name"], "hidup")


async def test_search_reads_and_family_are_logged_with_their_purpose(service: Service) -> None:
    await import_as(service, "operator.pamanukan", opensid_file())
    kasi = await service.login("pemerintahan.pamanukan")

    by_nik = await find(service, "pemerintahan.pamanukan", HEAD_NIK, "permohonan A-17")
    head = by_nik[0]
    by_kk = await find(service, "pemerintahan.pamanukan", head["kk_number"], "tugas 9")
    by_name = await find(service, "pemerintahan.pamanukan", head["name"].split()[0].lower())
    read = await service.http.get(
        f"/api/v1/residents/{head['id']}", params={"purpose": "permohonan A-17"}, headers=kasi
    )
    unexplained = await service.http.get(f"/api/v1/residents/{head['id']}", headers=kasi)
    family = await service.http.post(
        "/api/v1/residents/family",
        json={"kk_number": head["kk_number"], "purpose": "tugas 9"},
        headers=kasi,
    )
    too_short = await service.http.post(
        "/api/v1/residents/search", json={"query": "as", "purpose": "x"}, headers=kasi
    )

    assert [r["nik"] for r in by_nik] == [HEAD_NIK]
    assert head["relation"] == {"code": 1, "label": "KEPALA KELUARGA"}
    assert {r["kk_number"] for r in by_kk} == {head["kk_number"]} and len(by_kk) >= 2
    assert head["id"] in {r["id"] for r in by_name}
    assert read.status_code == 200
    body = read.json()
    assert (body["nik"], body["version"], body["status"]) == (HEAD_NIK, 1, "hidup")
    assert body["religion"] == {"code": 1, "label": "ISLAM"}
    assert unexplained.status_code == 422
    assert {m["id"] for m in family.json()} == {m["id"] for m in by_kk}
    assert family.json()[0]["id"] == head["id"]  # the head of the family first
    assert too_short.status_code == 422
    logged = await accesses(service)
    assert {a.actor for a in logged} == {"pemerintahan.pamanukan"}
    head_reads = [(a.kind, a.purpose) for a in logged if a.resident_id == head["id"]]
    assert head_reads == [
        ("search", "permohonan A-17"),
        ("search", "tugas 9"),
        ("search", "cek"),
        ("view", "permohonan A-17"),
        ("family", "tugas 9"),
    ]
    assert len([a for a in logged if a.kind == "family"]) == len(family.json())


def test_no_route_of_the_register_takes_a_nik_in_its_url() -> None:
    paths = [getattr(r, "path", "") for r in [*residents.router.routes, *penduduk.router.routes]]
    assert len(paths) > 10
    for path in paths:
        params = {p.strip("{}").split(":")[0] for p in path.split("/") if p.startswith("{")}
        assert params <= {"resident_id"}, path


async def test_staff_add_correct_and_mark_a_resident_with_its_history(service: Service) -> None:
    operator = await service.login("operator.pamanukan")
    newcomer: dict[str, Any] = {
        "nik": nik(date(1995, 6, 1), True, 77, region="317401"),  # issued in Jakarta
        "name": "Neneng Kurniasih",
        "sex": 2,
        "kk_number": "3213110101260001",
        "kk_level": 1,
        "birth_place": "Jakarta",
        "birth_date": "1995-06-01",
        "religion": 1,
        "dusun": "Krajan",
        "rw": "001",
        "rt": "002",
        "mother_name": "Enok",
        "phones": ["0812 1111 2222"],
        "note": "pindah datang dari Jakarta",
    }

    created = await service.http.post("/api/v1/residents", json=newcomer, headers=operator)
    duplicate = await service.http.post("/api/v1/residents", json=newcomer, headers=operator)
    by_kasi = await service.http.post(
        "/api/v1/residents",
        json=dict(newcomer, nik=nik(date(1995, 6, 2), True, 78)),
        headers=await service.login("kesra.pamanukan"),
    )
    resident_id = created.json()["id"]
    corrected = await service.http.patch(
        f"/api/v1/residents/{resident_id}",
        json={"name": "Neneng Kurniasih Permana", "occupation": 15, "note": "sesuai KTP"},
        headers=await service.login("sekdes.pamanukan"),
    )
    bad_code = await service.http.patch(
        f"/api/v1/residents/{resident_id}", json={"religion": 99}, headers=operator
    )
    moved = await service.http.post(
        f"/api/v1/residents/{resident_id}/status",
        json={"status": "pindah", "note": "SKPWNI 470/12"},
        headers=operator,
    )
    history = await service.http.get(
        f"/api/v1/residents/{resident_id}/history", params={"purpose": "cek"}, headers=operator
    )

    assert created.status_code == 201, created.text
    assert (created.json()["phones"], created.json()["version"]) == (["6281211112222"], 1)
    assert duplicate.status_code == 409
    assert duplicate.json()["resident_id"] == resident_id
    assert by_kasi.status_code == 403
    assert corrected.status_code == 200
    assert (corrected.json()["name"], corrected.json()["version"]) == (
        "Neneng Kurniasih Permana",
        2,
    )
    assert (bad_code.status_code, bad_code.json()["detail"]) == (
        422,
        "Kode agama '99' tidak dikenal.",
    )
    assert (moved.json()["status"], moved.json()["version"]) == ("pindah", 3)
    assert [
        (h["version"], h["field"], h["old_value"], h["new_value"], h["changed_by"], h["note"])
        for h in history.json()
    ] == [
        (3, "status", "hidup", "pindah", "operator.pamanukan", "SKPWNI 470/12"),
        (2, "occupation", "", "15 (KARYAWAN SWASTA)", "sekdes.pamanukan", "sesuai KTP"),
        (
            2,
            "name",
            "Neneng Kurniasih",
            "Neneng Kurniasih Permana",
            "sekdes.pamanukan",
            "sesuai KTP",
        ),
        (1, "", "", "", "operator.pamanukan", "pindah datang dari Jakarta"),
    ]
    # The moved resident keeps their record and is still found.
    [found] = await find(service, "operator.pamanukan", newcomer["nik"])
    assert found["status"] == "pindah"


@pytest.mark.parametrize("status", ["meninggal", "hilang"])
async def test_other_statuses_and_an_unknown_one(service: Service, status: str) -> None:
    await import_as(service, "operator.pamanukan", opensid_file(3))
    [head] = await find(service, "operator.pamanukan", HEAD_NIK)
    headers = await service.login("kades.pamanukan")

    marked = await service.http.post(
        f"/api/v1/residents/{head['id']}/status", json={"status": status}, headers=headers
    )
    unknown = await service.http.post(
        f"/api/v1/residents/{head['id']}/status", json={"status": "mati"}, headers=headers
    )

    assert (marked.status_code, marked.json()["status"]) == (200, status)
    assert unknown.status_code == 422
