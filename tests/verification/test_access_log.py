"""The residents' access log (issue 19 item 5, UU 27/2022 PDP): every staff read path of
personal data writes a `personal_data_access` row with the reader's role and office and why,
and PopulationService.ListDataAccess gives a resident their own rows, never a username.

`test_every_intake_read_in_verification_is_logged` enumerates the read paths from the source
(every function that reads an application or attachment from intake) so a new path that
forgets the log fails here; the behaviour tests then walk each path through the running
service, the API and the pages, for desa staff and the kabupaten operator."""

import ast
from datetime import date
from pathlib import Path

import grpc
import pytest
from nats.js import JetStreamContext
from smartdesa.v1 import population_pb2, population_pb2_grpc
from sqlmodel import col, select

from scripts.opensid_sample import nik, rows, to_xlsx
from services.verification import access_log
from services.verification.models import PersonalDataAccess
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_kabupaten_inbox import DISKOMINFO, _step
from tests.verification.test_penduduk_pages import csrf_of, signed_in
from tests.verification.test_population_servicer import HEAD, WIFE, _channel, family
from tests.verification.test_tasks_api import JPEG, _assigned

ROOT = Path(__file__).resolve().parents[2]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD_NIK = nik(date(1981, 4, 2), True, 3)
__all__ = ["family"]  # the register's fixture, reused

# Every function in services/verification that reads an application or an attachment from
# intake, and whether it writes the access log. The only one that does not: the signer's
# passphrase signing, which sends the application on to signing to issue the letter (the
# signer read it on the task page, logged there) and shows nothing.
INTAKE_READERS = {
    "services/verification/staff_tasks.py:task_detail": True,
    "services/verification/staff_tasks.py:letter_preview": True,
    "services/verification/request_view.py:applicant_names": True,
    "services/verification/api/routes/tasks.py:get_attachment": True,
    "services/verification/web/routes/walk_in.py:walk_in_filed": True,
    "services/verification/signer_passphrase.py:sign_with_passphrase": False,
}


def _functions_calling(names: set[str]) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}
    for path in sorted((ROOT / "services/verification").rglob("*.py")):
        tree = ast.parse(path.read_text())
        # Outermost functions (a nested helper counts as its enclosing function's read).
        bodies: list[list[ast.stmt]] = [tree.body]
        bodies += [c.body for c in tree.body if isinstance(c, ast.ClassDef)]
        outer = [
            n
            for body in bodies
            for n in body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        for node in outer:
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id in names
                    and node.name not in names
                ):
                    found[f"{path.relative_to(ROOT)}:{node.name}"] = node
    return found


def _calls_access_log(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == "access_log"
        and n.attr.startswith("record")
        for n in ast.walk(node)
    )


def test_every_intake_read_in_verification_is_logged() -> None:
    readers = _functions_calling({"read_application", "read_attachment"})
    assert set(readers) == set(INTAKE_READERS)
    for name, node in readers.items():
        assert _calls_access_log(node) == INTAKE_READERS[name], name


# Every function that reads a complaint (its text or attachment) from intake's
# PublicDutiesService, all logged (by complaint id; a signed-in complainant sees the rows).
COMPLAINT_READERS = {
    "services/verification/web/routes/duties.py:complaint_page",
    "services/verification/web/routes/duties.py:answer_page",
    "services/verification/web/routes/duties.py:complaint_attachment",
}


def test_every_complaint_read_in_verification_is_logged() -> None:
    found: dict[str, ast.AST] = {}
    for path in sorted((ROOT / "services/verification").rglob("*.py")):
        if path.name == "public_duties.py":  # the gRPC wrappers themselves
            continue
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr in {"read_complaint", "complaint_attachment"}
                ):
                    found[f"{path.relative_to(ROOT)}:{node.name}"] = node
    assert set(found) == COMPLAINT_READERS
    for name, reader in found.items():
        assert _calls_access_log(reader), name


# Every function that reads residents' WhatsApp messages for the office from notification
# (*Pesan warga*), all logged per resident shown (tests/verification/test_office_messages.py
# walks it through the page).
OFFICE_MESSAGE_READERS = {
    "services/verification/office_messages.py:list_office_messages",
}


def test_every_office_message_read_in_verification_is_logged() -> None:
    found: dict[str, ast.AST] = {}
    for path in sorted((ROOT / "services/verification").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "ListOfficeMessages"
                ):
                    found[f"{path.relative_to(ROOT)}:{node.name}"] = node
    assert set(found) == OFFICE_MESSAGE_READERS
    for name, reader in found.items():
        assert _calls_access_log(reader), name


def test_every_register_read_goes_through_log_reads() -> None:
    """The register's reads (population.register) all end in log_reads, which writes the
    resident's access log for the acting staff member: no register read bypasses it."""
    source = (ROOT / "services/verification/population/register.py").read_text()
    tree = ast.parse(source)
    readers = {
        n.name: n
        for n in tree.body
        if isinstance(n, ast.AsyncFunctionDef)
        and n.name in {"read_resident", "history_of", "search", "family"}
    }
    assert len(readers) == 4
    for name, node in readers.items():
        calls = {
            c.func.id
            for c in ast.walk(node)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
        }
        assert "log_reads" in calls, name


async def _log(service: Service) -> list[PersonalDataAccess]:
    async with service.runtime.sessions() as session:
        found = await session.exec(select(PersonalDataAccess).order_by(col(PersonalDataAccess.id)))
        return list(found.all())


def _seen(entries: list[PersonalDataAccess]) -> set[tuple[str, str, str, str]]:
    return {(e.kind, e.reader_role, e.reader_desa_code, e.reader_kabupaten_code) for e in entries}


async def test_application_read_paths_write_the_log(
    service: Service, js: JetStreamContext, family: None
) -> None:
    """Desa staff's reads; then the kabupaten operator's; then what the resident is given.
    One test, one running service (its start is most of the time)."""
    app_id = await _assigned(service, js, number="SKD-2026-000777")
    service.intake.applications[app_id].application.fields["nama"] = "Siti Aminah"
    kasi = await service.login("pemerintahan.pamanukan")
    desk = ("kasi_pemerintahan", PAMANUKAN, "32.13")

    assert (await service.http.get(f"/api/v1/tasks/{app_id}", headers=kasi)).status_code == 200
    by_number = await service.http.get("/api/v1/tasks/by-number/skd-2026-000777", headers=kasi)
    assert by_number.status_code == 200
    attachment = await service.http.get(f"/api/v1/tasks/{app_id}/attachments/att-ktp", headers=kasi)
    assert attachment.content == JPEG
    # The preview reads the application and sends it to signing (not running here): read.
    await service.http.get(f"/api/v1/applications/{app_id}/preview", headers=kasi)
    web = await signed_in(service, "pemerintahan.pamanukan")
    try:
        page = await web.get(f"/permohonan/{app_id}")
        assert page.status_code == 200
        # Staff see which channel the request came by (the peer's application: the portal).
        assert "<dt>Saluran</dt><dd>Portal warga</dd>" in page.text
        inbox = await web.get("/kotak-masuk")
        assert "Siti Aminah" in inbox.text
    finally:
        await web.aclose()

    logged = [e for e in await _log(service) if e.application_id == app_id]
    kinds = [e.kind for e in logged]
    assert kinds == [
        "application",  # GET /api/v1/tasks/{id}
        "application",  # by number
        "attachment",
        "letter_preview",
        "application",  # the page /permohonan/{id}
        "inbox",  # the applicant's name in the inbox
    ]
    assert _seen(logged) == {(k, *desk) for k in set(kinds)}
    assert {e.reader_username for e in logged} == {"pemerintahan.pamanukan"}
    assert {e.purpose for e in logged} == {"SKD-2026-000777"}
    # A refused read (another desa's staff) leaves no row.
    before = len(await _log(service))
    other = await service.login("pemerintahan.rancasari")
    assert (await service.http.get(f"/api/v1/tasks/{app_id}", headers=other)).status_code == 404
    assert len(await _log(service)) == before

    await _kabupaten_operator_is_logged_as_the_kabupaten(service, js)
    await _a_resident_gets_their_own_log_over_grpc_without_usernames(service, js)


async def _kabupaten_operator_is_logged_as_the_kabupaten(
    service: Service, js: JetStreamContext
) -> None:
    app_id = await _step(service, js, PAMANUKAN, "kades", 2, "kabupaten_operator", 1)
    diskominfo = await service.login(DISKOMINFO)

    detail = await service.http.get(f"/api/v1/tasks/{app_id}", headers=diskominfo)
    attachment = await service.http.get(
        f"/api/v1/tasks/{app_id}/attachments/att-ktp", headers=diskominfo
    )

    assert detail.status_code == 200 and attachment.status_code == 200
    logged = [e for e in await _log(service) if e.application_id == app_id]
    assert _seen(logged) == {
        ("application", "kabupaten_operator", "", "32.13"),
        ("attachment", "kabupaten_operator", "", "32.13"),
    }


async def test_register_read_paths_write_the_log(service: Service) -> None:
    """The register's API and pages, and the walk-in lookup: one row per resident shown."""
    table = list(rows(6, seed=9))
    table[0]["nik"] = HEAD_NIK
    operator = await service.login("operator.pamanukan")
    imported = await service.http.post(
        "/api/v1/residents/import",
        files={"file": ("p.xlsx", to_xlsx(table), XLSX)},
        headers=operator,
    )
    assert imported.status_code == 200, imported.text
    kasi = await service.login("pemerintahan.pamanukan")
    found = await service.http.post(
        "/api/v1/residents/search", json={"query": HEAD_NIK, "purpose": "cek"}, headers=kasi
    )
    head = found.json()[0]
    rid = head["id"]
    await service.http.get(f"/api/v1/residents/{rid}", params={"purpose": "x"}, headers=kasi)
    await service.http.get(
        f"/api/v1/residents/{rid}/history", params={"purpose": "x"}, headers=kasi
    )
    await service.http.post(
        "/api/v1/residents/family",
        json={"kk_number": head["kk_number"], "purpose": "x"},
        headers=kasi,
    )
    web = await signed_in(service, "operator.pamanukan")
    try:
        page = await web.get(f"/penduduk/{rid}", params={"keperluan": "cek data"})
        assert page.status_code == 200
        start = await web.get("/pengajuan-langsung")
        lookup = await web.post(
            "/pengajuan-langsung/cari",
            data={"csrf_token": csrf_of(start), "cari": HEAD_NIK, "jenis": "SKD"},
        )
        assert lookup.status_code in (200, 303), lookup.text
    finally:
        await web.aclose()

    mine = [e for e in await _log(service) if e.register_resident_id == rid]
    assert all(e.kind == "register" and e.purpose == "daftar penduduk" for e in mine)
    roles = [e.reader_role for e in mine]
    # search, view, history, family (API, Kasi); view and history (page), walk-in (operator)
    assert roles[:4] == ["kasi_pemerintahan"] * 4
    assert roles.count("operator") >= 3
    assert {e.reader_desa_code for e in mine} == {PAMANUKAN}


async def _a_resident_gets_their_own_log_over_grpc_without_usernames(
    service: Service, js: JetStreamContext
) -> None:
    mine = await _assigned(service, js, number="SKD-2026-000778")
    theirs = await _assigned(service, js, number="SKD-2026-000779")
    kasi = await service.login("pemerintahan.pamanukan")
    for app_id in (mine, theirs):
        await service.http.get(f"/api/v1/tasks/{app_id}", headers=kasi)
    # A register read of the resident (HEAD) and of someone else (WIFE), by the Kasi.
    for who in (HEAD, WIFE):
        await service.http.post(
            "/api/v1/residents/search", json={"query": who, "purpose": "cek"}, headers=kasi
        )
    # The Kasi opened a complaint the resident filed signed in, and someone else's.
    staff = access_log.Reader("pemerintahan.pamanukan", "kasi_pemerintahan", PAMANUKAN, "32.13")
    async with service.runtime.sessions() as session:
        for complaint_id, number in (("adu-mine", "ADU-AAAA-BBBB"), ("adu-theirs", "ADU-CC")):
            await access_log.record_complaint_read(
                session, staff, access_log.KIND_COMPLAINT, complaint_id, number
            )
    async with _channel(service) as channel:
        stub = population_pb2_grpc.PopulationServiceStub(channel)
        answer = await stub.ListDataAccess(
            population_pb2.ListDataAccessRequest(
                nik=HEAD, application_ids=[mine], complaint_ids=["adu-mine"]
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListDataAccess(population_pb2.ListDataAccessRequest(nik="123"))

    assert [(e.kind, e.application_id, e.complaint_id, e.purpose) for e in answer.entries] == [
        ("complaint", "", "adu-mine", "ADU-AAAA-BBBB"),  # newest first
        ("register", "", "", "daftar penduduk"),
        ("application", mine, "", "SKD-2026-000778"),
    ]
    assert {
        (e.reader_role, e.reader_desa_code, e.reader_kabupaten_code) for e in answer.entries
    } == {("kasi_pemerintahan", PAMANUKAN, "32.13")}
    assert "pemerintahan.pamanukan" not in str(answer)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
