"""The /penduduk pages: the operator imports, searches (the NIK in the form's body), opens a
resident saying what for, corrects and marks them; a Kasi reads (logged) but sees no way to
change anything and is refused if they try."""

import html
import re
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from sqlmodel import col, select

from scripts.opensid_sample import nik, rows, to_xlsx
from services.verification.population.models import ResidentAccess
from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service

HEAD_NIK = nik(date(1980, 3, 12), False, 1)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csrf_of(page: httpx.Response) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return token.group(1)


async def signed_in(service: Service, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url="http://t")
    response = await client.post(
        "/masuk", data=await async_sign_in_form(client, username=username, password=PASSWORD)
    )
    assert response.status_code == 303
    return client


@pytest.fixture
async def operator(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    client = await signed_in(service, "operator.pamanukan")
    try:
        yield client
    finally:
        await client.aclose()


async def import_sample(client: httpx.AsyncClient) -> httpx.Response:
    table = list(rows(8, seed=4))
    table[0]["nik"] = HEAD_NIK
    table[3]["nik"] = "123"  # refused, reported by its row
    page = await client.get("/penduduk")
    return await client.post(
        "/penduduk/impor",
        data={"csrf_token": csrf_of(page)},
        files={"berkas": ("penduduk.xlsx", to_xlsx(table), XLSX)},
    )


async def search(client: httpx.AsyncClient, query: str, purpose: str) -> httpx.Response:
    page = await client.get("/penduduk")
    return await client.post(
        "/penduduk/cari",
        data={"csrf_token": csrf_of(page), "cari": query, "keperluan": purpose},
    )


def _input_value(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else ""


def resident_link(results: httpx.Response) -> str:
    found = re.search(r'href="(/penduduk/[0-9a-f]{32})\?keperluan=[^"]*"', results.text)
    assert found is not None, results.text
    return found.group(1)


async def test_the_operator_imports_searches_opens_and_corrects(
    service: Service, operator: httpx.AsyncClient
) -> None:
    imported = await import_sample(operator)
    results = await search(operator, HEAD_NIK, "permohonan A-1")
    path = resident_link(results)
    asked = await operator.get(path)
    opened = await operator.get(path, params={"keperluan": "permohonan A-1"})

    assert imported.status_code == 200
    assert "7 penduduk baru, 0 diperbarui, 0 tidak berubah, 1 baris ditolak." in imported.text
    assert "NIK harus 16 digit angka dengan tanggal lahir yang valid." in imported.text
    assert results.status_code == 200 and HEAD_NIK in results.text
    assert HEAD_NIK not in str(results.url) and HEAD_NIK not in path
    assert "Keperluan" in asked.text and HEAD_NIK not in asked.text  # nothing before a purpose
    assert opened.status_code == 200 and HEAD_NIK in opened.text
    assert "Perbaiki data" in opened.text and "Data dibuat" in opened.text

    form = {
        "csrf_token": csrf_of(opened),
        "keperluan": "permohonan A-1",
        "nik": HEAD_NIK,
        "name": "ASEP DIPERBAIKI",
        "sex": "1",
        "kk_level": "1",
        "dusun": "KRAJAN",
        "rw": "001",
        "rt": "002",
        "religion": "1",
        "catatan": "sesuai KTP",
        # As the form shows them: a correction never takes a number away (that is the
        # in-person phone change).
        "phones": _input_value(opened.text, "phones"),
    }
    corrected = await operator.post(f"{path}/ubah", data=form, follow_redirects=True)
    refused = await operator.post(
        f"{path}/ubah", data={**form, "religion": "99"}, follow_redirects=True
    )
    marked = await operator.post(
        f"{path}/status",
        data={"csrf_token": csrf_of(opened), "status": "meninggal", "catatan": "2026-11-30"},
        follow_redirects=True,
    )

    assert corrected.status_code == 200
    assert "Data penduduk disimpan." in corrected.text and "ASEP DIPERBAIKI" in corrected.text
    assert (refused.status_code, "Kode agama &#39;99&#39; tidak dikenal." in refused.text) == (
        422,
        True,
    )
    assert marked.status_code == 200 and "Status penduduk diubah." in marked.text
    assert "Meninggal" in marked.text
    async with service.runtime.sessions() as session:
        kinds = (
            await session.exec(select(ResidentAccess.kind).order_by(col(ResidentAccess.id)))
        ).all()
    assert "search" in kinds and "view" in kinds and "history" in kinds


async def test_the_operator_adds_a_newcomer_from_another_region(
    operator: httpx.AsyncClient,
) -> None:
    newcomer = nik(date(1995, 6, 1), True, 77, region="317401")
    form_page = await operator.get("/penduduk/baru")
    added = await operator.post(
        "/penduduk/baru",
        data={
            "csrf_token": csrf_of(form_page),
            "nik": newcomer,
            "name": "NENENG",
            "sex": "2",
            "dusun": "KRAJAN",
            "rw": "001",
            "rt": "002",
            "phones": "0812 1111 2222, 0857 3333 4444",
        },
        follow_redirects=True,
    )
    twice = await operator.post(
        "/penduduk/baru",
        data={
            "csrf_token": csrf_of(form_page),
            "nik": newcomer,
            "name": "NENENG",
            "sex": "2",
            "dusun": "KRAJAN",
            "rw": "001",
            "rt": "002",
        },
    )

    assert added.status_code == 200, added.text
    assert "Penduduk ditambahkan" in added.text and "6281211112222, 6285733334444" in added.text
    assert twice.status_code == 409
    assert "NIK ini sudah terdaftar di data penduduk desa ini." in twice.text


async def test_a_kasi_reads_but_does_not_change(
    service: Service, operator: httpx.AsyncClient
) -> None:
    await import_sample(operator)
    kasi = await signed_in(service, "pemerintahan.pamanukan")
    try:
        home = await kasi.get("/penduduk")
        results = await search(kasi, HEAD_NIK, "tugas 3")
        path = resident_link(results)
        opened = await kasi.get(path, params={"keperluan": "tugas 3"})
        refused = await kasi.post(
            f"{path}/status", data={"csrf_token": csrf_of(opened), "status": "pindah"}
        )
        new_form = await kasi.get("/penduduk/baru")
    finally:
        await kasi.aclose()

    assert home.status_code == 200 and "Impor dari OpenSID" not in home.text
    assert opened.status_code == 200 and HEAD_NIK in opened.text
    assert "Perbaiki data" not in opened.text and "Ubah status" not in opened.text
    assert refused.status_code == 403
    assert new_form.status_code == 403
