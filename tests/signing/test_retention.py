"""Retention of issued letters as records: the schedule per main class of the kode klasifikasi,
and the letters whose retention has run out listed (never deleted) for the kabupaten operator,
across a clock jump."""

from datetime import UTC, datetime, timedelta

import pytest

from services.signing.config import Settings
from services.signing.models import Letter, LetterStatus
from services.signing.retention import DISPOSITIONS, main_class, retention_of, schedule
from tests.signing.conftest import PAMANUKAN, RANCASARI, RunningSigning, StaffDirectory, skd_request


@pytest.fixture
def settings(settings_with_directory: Settings) -> Settings:
    return settings_with_directory


def test_schedule_covers_every_main_class_and_marks_what_is_unconfirmed() -> None:
    classes, default = schedule()
    assert sorted(classes) == [f"{n}00" for n in range(10)]
    for entry in [*classes.values(), default]:
        assert entry.disposition in DISPOSITIONS and entry.total_years > 0
        # Not in /work/shared/reference: placeholders until the kabupaten's JRA is confirmed,
        # and none proposes destruction while unconfirmed.
        assert entry.confirmed or entry.disposition != "musnah"
    assert main_class("400.12.2") == "400" and main_class("100.2") == "100"
    assert main_class("300") == "300" and main_class("belum ditetapkan") == ""
    assert retention_of("474.2").name == "Kesejahteraan Rakyat"
    assert retention_of("belum ditetapkan") is default


async def _set(signing: RunningSigning, letter_id: str, **values: object) -> None:
    async with signing.runtime.sessions() as session:
        row = await session.get(Letter, letter_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        await session.commit()


async def test_due_letters_are_listed_for_the_kabupaten_operator_after_a_clock_jump(
    signing: RunningSigning, staff_directory: StaffDirectory
) -> None:
    issuer = signing.runtime.issuer
    kept = await issuer.issue(skd_request("ret-1"))
    revoked = await issuer.issue(skd_request("ret-2", RANCASARI))
    unclassified = await issuer.issue(skd_request("ret-3"))
    await _set(signing, revoked.id, status=LetterStatus.REVOKED.value)
    await _set(signing, unclassified.id, kode_klasifikasi="belum ditetapkan")
    still_issuing = await issuer.issue(skd_request("ret-4"))
    await _set(signing, still_issuing.id, status=LetterStatus.ISSUING.value)

    operator = await staff_directory.headers("diskominfo.test", "kabupaten_operator", "")
    path = "/api/v1/retention/due"
    issued = datetime.now(UTC)
    years = retention_of(kept.kode_klasifikasi).total_years

    signing.runtime.clock = lambda: issued + timedelta(days=365 * years - 30)
    body = (await signing.http.get(path, headers=operator)).json()
    assert body["letters"] == [] and body["schedule"]

    signing.runtime.clock = lambda: issued + timedelta(days=365 * years + 30)
    response = await signing.http.get(path, headers=operator)
    assert response.status_code == 200
    due = response.json()["letters"]
    # A revoked letter stays a record; one still being issued is not one yet.
    assert {d["letter_id"] for d in due} == {kept.id, revoked.id, unclassified.id}
    assert {d["desa_code"] for d in due} == {PAMANUKAN, RANCASARI}
    first = next(d for d in due if d["letter_id"] == kept.id)
    assert first["retention"]["main_class"] == "400"
    assert first["retention"]["disposition"] == "dinilai kembali"
    assert "nik" not in str(due).lower() and "holder" not in str(due)
    # Listing destroys nothing.
    async with signing.runtime.sessions() as session:
        for letter in (kept, revoked, unclassified):
            row = await session.get(Letter, letter.id)
            assert row is not None and row.pdf_path


async def test_only_the_kabupaten_operator_sees_records_due(
    signing: RunningSigning, staff_directory: StaffDirectory
) -> None:
    path = "/api/v1/retention/due"
    assert (await signing.http.get(path)).status_code == 401
    viewer = await staff_directory.headers("dpmd.test", "kabupaten_viewer", "")
    sekdes = await staff_directory.headers(f"sekdes.{PAMANUKAN}", "sekdes", PAMANUKAN)
    for headers in (viewer, sekdes):
        refused = await signing.http.get(path, headers=headers)
        assert refused.status_code == 403
        assert "operator kabupaten" in refused.json()["detail"]
