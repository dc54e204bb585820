"""The buku agenda surat keluar: the desa's staff list and export their own desa's letters;
no one else does, and no NIK leaves in it."""

import csv
import io

import pytest

from common.auth import Principal, resident_token_issuer, staff_token_issuer
from services.signing.config import Settings
from services.signing.models import Letter
from tests.signing.conftest import (
    PAMANUKAN,
    RANCASARI,
    RunningSigning,
    StaffDirectory,
    skd_request,
)

NIK = "3213115705900001"


@pytest.fixture
def settings(settings_with_directory: Settings) -> Settings:
    return settings_with_directory


async def _staff(
    directory: StaffDirectory, desa: str = PAMANUKAN, role: str = "sekdes"
) -> dict[str, str]:
    return await directory.headers(f"{role}.{desa}", role, desa)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _issue_some(signing: RunningSigning) -> list[Letter]:
    issuer = signing.runtime.issuer
    letters = [
        await issuer.issue(skd_request("reg-1", purpose="Melamar pekerjaan")),
        await issuer.issue(
            skd_request(
                "reg-2",
                letter_type="SKU",
                purpose='=HYPERLINK("http://x.test")',
                signer_role="kades",
            )
        ),
        await issuer.issue(skd_request("reg-3", purpose="Daftar sekolah")),
        await issuer.issue(skd_request("reg-other", RANCASARI, purpose="Desa lain")),
    ]
    async with signing.runtime.sessions() as session:  # as revocation leaves it
        row = await session.get(Letter, letters[2].id)
        assert row is not None
        row.status = "revoked"
        session.add(row)
        await session.commit()
    return letters


async def test_staff_list_their_desa_register_in_issue_order(
    signing: RunningSigning, staff_directory: StaffDirectory
) -> None:
    letters = await _issue_some(signing)
    year = letters[0].year
    r = await signing.http.get(
        "/api/v1/register", params={"tahun": year}, headers=await _staff(staff_directory)
    )
    assert r.status_code == 200
    body = r.json()
    assert body["desa_code"] == PAMANUKAN and body["year"] == year
    rows = body["letters"]
    assert [row["no_urut"] for row in rows] == [1, 2, 3]
    assert [row["number"] for row in rows] == [letter.number for letter in letters[:3]]
    assert rows[0]["letter_title"] == "Surat Keterangan Domisili"
    assert rows[1]["letter_type"] == "SKU" and rows[1]["number"].startswith("500.2.2/001/")
    assert rows[0]["purpose"] == "Melamar pekerjaan"
    assert rows[0]["addressee"] == "Yang berkepentingan"
    assert rows[0]["signed_by"] == "Dadang Suhendar (Kepala Desa)"
    assert [row["status_label"] for row in rows] == ["Berlaku", "Berlaku", "Dicabut"]
    assert NIK not in r.text and "Desa lain" not in r.text

    other = await signing.http.get(
        "/api/v1/register", params={"tahun": year}, headers=await _staff(staff_directory, RANCASARI)
    )
    assert [row["purpose"] for row in other.json()["letters"]] == ["Desa lain"]
    empty = await signing.http.get(
        "/api/v1/register", params={"tahun": year - 1}, headers=await _staff(staff_directory)
    )
    assert empty.json()["letters"] == []


async def test_csv_export_has_indonesian_headers_and_no_nik(
    signing: RunningSigning, staff_directory: StaffDirectory
) -> None:
    letters = await _issue_some(signing)
    r = await signing.http.get(
        "/api/v1/register.csv",
        params={"tahun": letters[0].year},
        headers=await _staff(staff_directory, role="operator"),
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert ".csv" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "No. Urut",
        "Nomor Surat",
        "Tanggal Surat",
        "Jenis Surat",
        "Perihal/Keperluan",
        "Tujuan",
        "Penandatangan",
        "Status",
    ]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert rows[1][1] == letters[0].number and rows[3][7] == "Dicabut"
    # A resident's text that a spreadsheet would run as a formula is kept as text.
    assert rows[2][4] == '\'=HYPERLINK("http://x.test")'
    assert NIK not in text and "Desa lain" not in text


async def test_only_desa_staff_may_read_the_register(
    signing: RunningSigning, staff_directory: StaffDirectory
) -> None:
    await _issue_some(signing)
    for path in ("/api/v1/register", "/api/v1/register.csv"):
        anonymous = await signing.http.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        forged = await signing.http.get(path, headers=_auth("not-a-token"))
        assert forged.status_code == 401
        resident = resident_token_issuer(signing.settings, 600).issue(
            Principal("resident", "resident-1")
        )
        # Residents' tokens are not accepted here at all.
        assert (await signing.http.get(path, headers=_auth(resident))).status_code == 401
        # A staff token that belongs to no desa (e.g. a kabupaten operator's) opens no book.
        kabupaten = staff_token_issuer(signing.settings, 600).issue(
            Principal("staff", "operator.kabupaten", role="operator")
        )
        refused = await signing.http.get(path, headers=_auth(kabupaten))
        assert refused.status_code == 403 and NIK not in refused.text
        bad_year = await signing.http.get(
            path, params={"tahun": "1800"}, headers=await _staff(staff_directory)
        )
        assert bad_year.status_code == 422
