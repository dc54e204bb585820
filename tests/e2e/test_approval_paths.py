"""The approval workflow's paths (issue 3) across the real processes `make run` starts, driven
only through the public REST APIs: the resident's (intake) and the staff's (verification).

- a desa's Sekdes changes a route: letters submitted afterwards follow it, a running letter
  keeps the route it started with;
- the resident cancels a letter while it waits;
- a Plt decides a Kasi's step, and the decision is recorded as the Plt's;
- the desa's revision limit refuses one more "revise";
- Diskominfo's view in Temporal: search attributes and the one-line summary of a running
  letter, with no personal data in them;
- an SKTM for a purpose the kabupaten sends through the kecamatan: desa steps, then the
  kecamatan's kasi pelayanan and camat, and the resident's PDF carries both signatures (issue 18).

The happy path, revise -> resubmit to the same step and a rejection are in test_journey.py.
Timer paths (reminders, escalation, expiry) need a clock this stack cannot skip: they are
covered by the time-skipping tests in tests/workflows.
"""

import asyncio
import base64
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import httpx
import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from temporalio.client import Client

from scripts.journey import PAMANUKAN, Journey, sample_pdf, sample_png, wait_until
from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD
from tests.e2e.test_journey import NIK_A, NIK_B, PASSWORD, PHONE_A, PHONE_B, Stack, StackRunner
from workflows.approval import search_attributes as sa
from workflows.approval import workflow_id

pytestmark = pytest.mark.e2e

# What a Diskominfo operator types in the Temporal UI: Pamanukan's letters waiting on the Sekdes.
DESA_AT_SEKDES = f'DesaCode = "{PAMANUKAN}" AND Step = "sekdes"'

NAME_A = "Budi Santoso"
FIELDS = {"nama": NAME_A, "alamat": "Dusun Krajan RT 002 RW 001"}
SKU_FIELDS = {
    **FIELDS,
    "nama_usaha": "Warung Sembako Berkah",
    "jenis_usaha": "warung sembako",
    "alamat_usaha": "Dusun Krajan RT 002 RW 001",
}
SKTM_FIELDS = {**FIELDS, "jumlah_tanggungan": "3"}
DOCUMENTS = {
    "KTP": ("ktp.png", sample_png()),
    "KK": ("kk.pdf", sample_pdf()),
    "PENGANTAR_RT": ("pengantar.pdf", sample_pdf()),
    "FOTO_USAHA": ("usaha.png", sample_png()),
}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> StackRunner:
    return StackRunner(tmp_path_factory.mktemp("e2e-paths") / "data")


@pytest.fixture(scope="module")
def stack(runner: StackRunner) -> Iterator[Stack]:
    started = runner.start(1)
    try:
        yield started
    finally:
        StackRunner.ensure_stopped(started)


@pytest.fixture(scope="module")
def journey(stack: Stack) -> Iterator[Journey]:
    j = Journey(stack.endpoints)
    yield j
    j.close()


@pytest.fixture(scope="module")
def resident(journey: Journey) -> str:
    # An SKU attests what the desa's register says: the resident is in it, with the phone
    # their sign-in codes go to (a NIK in no register may ask only for an SKD).
    operator = journey.staff_token("operator.pamanukan", PASSWORD)
    r = journey.http.post(
        f"{journey.ep.verification}/api/v1/residents",
        headers={"Authorization": f"Bearer {operator}"},
        json={
            "nik": NIK_A,
            "name": NAME_A,
            "sex": 1,
            "dusun": "Krajan",
            "rw": "001",
            "rt": "002",
            "address": "Dusun Krajan RT 002 RW 001",
            "phones": [PHONE_A],
        },
    )
    assert r.status_code == 201, r.text
    return journey.resident_sign_in(NIK_A, PHONE_A)


class Staff:
    """Staff tokens by username, signed in once per module."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self._tokens: dict[str, str] = {}

    def __call__(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = self.journey.staff_token(username, PASSWORD)
        return self._tokens[username]


@pytest.fixture(scope="module")
def staff(journey: Journey) -> Staff:
    return Staff(journey)


KINDS = {"SKU": ("KTP", "KK", "PENGANTAR_RT", "FOTO_USAHA"), "SKTM": ("KTP", "KK", "PENGANTAR_RT")}


def submitted(journey: Journey, resident: str, purpose: str, letter_type: str = "SKD") -> str:
    fields = {"SKU": SKU_FIELDS, "SKTM": SKTM_FIELDS}.get(letter_type, FIELDS)
    kinds = KINDS.get(letter_type, ("KTP", "KK"))
    app_id = journey.create_application(resident, purpose, fields, letter_type)
    for kind in kinds:
        name, content = DOCUMENTS[kind]
        r = journey.upload(resident, app_id, kind, name, content)
        assert r.status_code == 201, r.text
    r = journey.submit(resident, app_id)
    assert r.status_code == 202, r.text
    return app_id


def staff_call(
    journey: Journey, method: str, token: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """A call to the staff API (routes, settings, Plt)."""
    return journey.http.request(
        method,
        f"{journey.ep.verification}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )


def approve(journey: Journey, token: str, app_id: str, step: int) -> dict[str, Any]:
    journey.wait_for_task(token, app_id, step)
    r = journey.decide(token, app_id, "approve", step=step)
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()
    return state


def assigned_roles(application: dict[str, Any]) -> list[str]:
    return [
        e["step"]["role"]
        for e in application["timeline"]
        if e["event"] == "application.step_assigned"
    ]


def timeline_entry(journey: Journey, resident: str, app_id: str, event: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        timeline = journey.application(resident, app_id).json()["timeline"]
        return next((e for e in timeline if e["event"] == event), None)

    return wait_until(f"{event} in the timeline", probe)


def test_a_changed_route_applies_to_letters_submitted_afterwards(
    journey: Journey, resident: str, staff: Staff
) -> None:
    sekdes, kasi, kades, operator = (
        staff(f"{who}.pamanukan") for who in ("sekdes", "pemerintahan", "kades", "operator")
    )
    # Started on the default SKU route (Kasi Pemerintahan -> Sekdes -> Kades, the Kades signs).
    before = submitted(journey, resident, "Pengajuan KUR", "SKU")
    journey.wait_for_task(kasi, before, 0)

    # The desa's new SKU route: the operator checks first, and the Sekdes signs a.n. the Kades.
    new_route = {
        "steps": [
            {"role": "operator", "deadline_working_hours": 4},
            {"role": "kasi_pemerintahan", "deadline_working_hours": 8},
            {"role": "sekdes", "deadline_working_hours": 8},
        ],
        "signer_role": "sekdes",
        "on_behalf_of_role": "kades",
    }
    refused = staff_call(journey, "PUT", operator, "/routes/SKU", new_route)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    changed = staff_call(journey, "PUT", sekdes, "/routes/SKU", new_route)
    assert changed.status_code == 200, changed.text
    assert changed.json()["customized"] is True
    assert changed.json()["updated_by"] == "sekdes.pamanukan"
    try:
        after = submitted(journey, resident, "Pengajuan bantuan UMKM", "SKU")

        # The new letter starts with the operator; the running one still waits on the Kasi.
        journey.wait_for_task(operator, after, 0)
        assert all(t["application_id"] != after for t in journey.tasks(kasi))
        assert approve(journey, kasi, before, 0)["step_role"] == "sekdes"
        assert approve(journey, operator, after, 0)["step_role"] == "kasi_pemerintahan"
        assert approve(journey, kasi, after, 1)["step_role"] == "sekdes"
        assert approve(journey, sekdes, before, 1)["step_role"] == "kades"
        # The Sekdes is the new route's last step: their approval issues the letter.
        assert approve(journey, sekdes, after, 2)["step_role"] is None
        assert approve(journey, kades, before, 2)["step_role"] is None
    finally:
        reset = staff_call(journey, "DELETE", sekdes, "/routes/SKU")
        assert reset.status_code == 200 and reset.json()["customized"] is False, reset.text

    old = journey.wait_for_status(resident, before, "issued")
    new = journey.wait_for_status(resident, after, "issued")
    assert assigned_roles(old) == ["kasi_pemerintahan", "sekdes", "kades"]
    assert assigned_roles(new) == ["operator", "kasi_pemerintahan", "sekdes"]
    # Who signed: the signature's certificate, and the public page of the letter.
    # The Sekdes signs the new letter with their own certificate, a.n. the Kepala Desa.
    for application, signer, printed in (
        (old, "Kepala Desa", "Kepala Desa Pamanukan"),
        (new, "Sekretaris Desa", "a.n. Kepala Desa Pamanukan, Sekretaris Desa"),
    ):
        pdf = journey.letter_pdf(resident, application["id"])
        assert pdf.status_code == 200
        verdict = journey.verify_pdf(pdf.content)
        assert verdict["conclusion"] == "valid", verdict
        assert signer in verdict["signer"], verdict["signer"]
        page = journey.http.get(application["letter"]["verification_url"])
        assert page.status_code == 200 and printed in page.text, printed


def test_the_resident_cancels_while_it_waits(journey: Journey, resident: str, staff: Staff) -> None:
    kasi = staff("pemerintahan.pamanukan")
    app_id = submitted(journey, resident, "Persyaratan pindah sekolah")
    journey.wait_for_task(kasi, app_id, 0)

    other_resident = journey.resident_sign_in(NIK_B, PHONE_B)
    assert journey.cancel(other_resident, app_id).status_code == 404
    cancelled = journey.cancel(resident, app_id)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"id": app_id, "status": "cancelled"}
    again = journey.cancel(resident, app_id)  # a double tap answers the same
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")

    application = journey.wait_for_status(resident, app_id, "cancelled")
    assert application["current_step"] is None
    assert application["timeline"][-1]["event"] == "application.cancelled"
    assert application["timeline"][-1]["status"] == "cancelled"

    # The task leaves the Kasi's inbox; a decision taken on the step they saw is refused.
    wait_until(
        "the task to leave the inbox",
        lambda: all(t["application_id"] != app_id for t in journey.tasks(kasi)) or None,
    )
    # The Kasi can still look it up, marked cancelled.
    detail = journey.task_detail(kasi, app_id)
    assert detail.status_code == 200, detail.text
    assert detail.json()["task"]["status"] == "cancelled"
    assert detail.json()["application"]["status"] == "cancelled"
    late = journey.decide(kasi, app_id, "approve", step=0)
    assert late.status_code == 409, late.text
    assert late.headers["content-type"].startswith("application/problem+json")
    assert "selesai" in late.json()["detail"]
    unnamed = journey.decide(kasi, app_id, "approve")  # without the step seen
    assert unnamed.status_code == 409, unnamed.text
    assert "dibatalkan oleh pemohon" in unnamed.json()["detail"]
    assert journey.resubmit(resident, app_id).status_code == 409

    # The resident and the Kasi the step waited on are told, in the app.
    def inbox(token: str) -> list[dict[str, Any]]:
        r = journey.http.get(
            f"{journey.ep.notification}/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()
        return items

    wait_until(
        "the resident's notice of the cancellation",
        lambda: (
            [n for n in inbox(resident) if "dibatalkan oleh pemohon" in n["body"].lower()] or None
        ),
    )
    wait_until(
        "the Kasi's notice of the cancellation",
        lambda: [n for n in inbox(kasi) if "dibatalkan oleh pemohon" in n["body"]] or None,
    )


def test_a_plt_decides_the_kasi_step(journey: Journey, resident: str, staff: Staff) -> None:
    kasi, kades = staff("pemerintahan.pamanukan"), staff("kades.pamanukan")
    plt_holder = staff("kesra.pamanukan")  # Kasi Kesra, acting for Kasi Pemerintahan
    app_id = submitted(journey, resident, "Persyaratan nikah")
    journey.wait_for_task(kasi, app_id, 0)
    assert all(t["application_id"] != app_id for t in journey.tasks(plt_holder))
    assert journey.decide(plt_holder, app_id, "approve", step=0).status_code == 403

    period = {
        "username": "kesra.pamanukan",
        "role": "kasi_pemerintahan",
        "ends_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "reason": "Kasi Pemerintahan cuti",
    }
    assert staff_call(journey, "POST", kasi, "/plt", period).status_code == 403
    granted = staff_call(journey, "POST", kades, "/plt", period)
    assert granted.status_code == 201, granted.text
    assert granted.json()["current"] is True
    try:
        task = journey.wait_for_task(plt_holder, app_id, 0)
        assert task["acting_as"] == "kasi_pemerintahan"
        assert journey.task_detail(plt_holder, app_id).status_code == 200
        approved = journey.decide(plt_holder, app_id, "approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["step_role"] == "sekdes"
    finally:
        ended = staff_call(journey, "POST", kades, f"/plt/{granted.json()['id']}/end")
        assert ended.status_code == 200 and ended.json()["current"] is False, ended.text

    decided = timeline_entry(journey, resident, app_id, "application.decided")
    assert (decided["actor_role"], decided["decision"], decided["decided_as"]) == (
        "kasi_pemerintahan",
        "approve",
        "plt",
    )
    assert decided["step"] == {"index": 0, "role": "kasi_pemerintahan"}
    journey.wait_for_task(staff("sekdes.pamanukan"), app_id, 1)


def test_the_desa_revision_limit_refuses_one_more_round(
    journey: Journey, resident: str, staff: Staff
) -> None:
    kasi, sekdes = staff("pemerintahan.pamanukan"), staff("sekdes.pamanukan")
    settings = staff_call(journey, "GET", sekdes, "/settings").json()
    limited = {
        k: settings[k]
        for k in (
            "start_hour",
            "end_hour",
            "workdays",
            "local_days_off",
            "resubmit_days",
            "operator_may_edit_routes",
        )
    }
    changed = staff_call(journey, "PUT", sekdes, "/settings", {**limited, "max_revision_rounds": 1})
    assert changed.status_code == 200, changed.text
    try:
        app_id = submitted(journey, resident, "Persyaratan kredit")
        # The workflow reads the desa's rules when it starts, before it assigns the first step.
        journey.wait_for_task(kasi, app_id, 0)
    finally:
        restored = staff_call(
            journey,
            "PUT",
            sekdes,
            "/settings",
            {**limited, "max_revision_rounds": settings["max_revision_rounds"]},
        )
        assert restored.status_code == 200, restored.text

    first = journey.decide(kasi, app_id, "revise", reason="Foto KTP buram", step=0)
    assert first.status_code == 200, first.text
    journey.wait_for_status(resident, app_id, "revision_requested")
    assert journey.upload(resident, app_id, "KTP", "ktp.png", sample_png()).status_code == 201
    assert journey.resubmit(resident, app_id).status_code == 202
    journey.wait_for_task(kasi, app_id, 0)  # back to the same step

    # The letter keeps the limit it started with (one round), though the desa's is back to
    # the default: a second "revise" is refused and changes nothing.
    second = journey.decide(kasi, app_id, "revise", reason="Masih buram", step=0)
    assert second.status_code == 422, second.text
    assert "batas 1 kali" in second.json()["detail"]
    application = journey.application(resident, app_id).json()
    assert application["status"] == "in_review"
    assert application["current_step"]["index"] == 0
    rejected = journey.decide(kasi, app_id, "reject", reason="Dokumen tidak jelas", step=0)
    assert rejected.status_code == 200, rejected.text
    application = journey.wait_for_status(resident, app_id, "rejected")
    assert application["status_reason"] == "Dokumen tidak jelas"


def test_diskominfo_finds_a_running_letter_in_temporal(
    runner: StackRunner, journey: Journey, resident: str, staff: Staff
) -> None:
    kasi = staff("pemerintahan.pamanukan")
    app_id = submitted(journey, resident, "Persyaratan administrasi bank")
    assert approve(journey, kasi, app_id, 0)["step_role"] == "sekdes"
    journey.wait_for_task(staff("sekdes.pamanukan"), app_id, 1)
    application = journey.wait_for_status(resident, app_id, "in_review")
    deadline = datetime.fromisoformat(application["current_step"]["deadline"])

    port = runner.ports["SMARTDESA_DEV_TEMPORAL_PORT"]
    found = asyncio.run(_temporal_view(f"127.0.0.1:{port}", workflow_id(app_id)))
    attributes, details = found["attributes"], found["details"]
    assert attributes == {
        "DesaCode": PAMANUKAN,
        "KecamatanCode": "32.13.11",
        "LetterType": "SKD",
        "Step": "sekdes",
        "AssigneeRole": "sekdes",
        "Deadline": deadline,
        "Overdue": False,
        "Status": "in_review",
    }
    assert details.startswith("SKD Desa Pamanukan, Kec. Pamanukan: Menunggu Sekretaris Desa sejak ")
    assert ", tenggat " in details and details.endswith("WIB")
    # The Temporal UI lists it from the same query (through the UI server's own API).
    ui = f"http://127.0.0.1:{runner.ports['SMARTDESA_DEV_TEMPORAL_UI_PORT']}"
    listed = journey.http.get(
        f"{ui}/api/v1/namespaces/default/workflows",
        params={"query": f'{DESA_AT_SEKDES} AND WorkflowId = "{workflow_id(app_id)}"'},
    )
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["executions"]
    shown = {
        name: json.loads(base64.b64decode(payload["data"]))
        for name, payload in row["searchAttributes"]["indexedFields"].items()
    }
    assert {k: shown[k] for k in ("Step", "AssigneeRole", "Overdue", "Status")} == {
        "Step": "sekdes",
        "AssigneeRole": "sekdes",
        "Overdue": False,
        "Status": "in_review",
    }
    assert datetime.fromisoformat(shown["Deadline"]) == deadline
    # Search attributes are stored unencrypted: no personal data there, in the id or summary.
    seen = " ".join(
        [workflow_id(app_id), details, repr(attributes), found["raw"], listed.text, repr(shown)]
    )
    for secret in (NIK_A, NAME_A, "Budi", PHONE_A, "6281234567890"):
        assert secret not in seen


async def _temporal_view(target: str, wid: str) -> dict[str, Any]:
    """What a Diskominfo operator sees: the letter found by the UI's kind of query, its
    search attributes and the summary line."""
    client = await Client.connect(target)
    query = DESA_AT_SEKDES
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # visibility is eventually consistent
        listed = [w async for w in client.list_workflows(query) if w.id == wid]
        if listed:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{wid} not listed by {query}")
        await asyncio.sleep(0.2)
    execution = listed[0]
    typed = execution.typed_search_attributes
    attributes = {key.name: typed.get(key) for key in sa.ALL}
    metadata = await client.get_workflow_handle(wid).query("__temporal_workflow_metadata")
    description = await client.get_workflow_handle(wid).describe()
    return {
        "attributes": attributes,
        "details": str(metadata.current_details),
        "raw": str(description.raw_description.workflow_execution_info),
    }


KEC_PAMANUKAN = "32.13.11"
KECAMATAN_REGISTER = re.compile(r"\d+(?:\.\d+)*/\d{3}/32\.13\.11/[IVX]+/\d{4}")


def kecamatan_account(journey: Journey, staff: Staff, username: str, role: str) -> str:
    """The kabupaten operator creates the account; its holder sets a password with the one-time
    link and signs in."""
    made = staff_call(
        journey,
        "POST",
        staff("diskominfo.subang"),
        f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/accounts",
        # The camat's name is printed on the "mengetahui" stamp: required for a camat.
        {"username": username, "role": role, "full_name": f"Pejabat {username}"},
    )
    assert made.status_code == 201, made.text
    token = made.json()["set_password_path"].split("?t=", 1)[1]
    done = journey.http.post(
        f"{journey.ep.verification}/api/v1/auth/set-password",
        json={"token": token, "new_password": PASSWORD},
    )
    assert done.status_code == 200, done.text
    return staff(username)


def kecamatan_task(journey: Journey, token: str, app_id: str, step: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        r = staff_call(journey, "GET", token, "/kecamatan/tasks")
        assert r.status_code == 200, r.text
        found = [t for t in r.json() if t["application_id"] == app_id]
        return found[0] if found and found[0]["step"]["index"] == step else None

    return wait_until(f"kecamatan task for step {step}", probe)


def notices(journey: Journey, token: str) -> list[dict[str, Any]]:
    r = journey.http.get(
        f"{journey.ep.notification}/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


def test_an_sktm_with_a_kecamatan_step_carries_both_signatures(
    journey: Journey, resident: str, staff: Staff
) -> None:
    """Issue 18's acceptance: the resident's public API, the desa's three steps and the
    kecamatan's two through the staff API, on the real worker; the downloaded PDF has the
    Kades' certification (DocMDP P=2) and the camat's approval signature, both valid, and the
    kecamatan's register number on the page; each next assignee was told."""
    kasi_kec = kecamatan_account(
        journey, staff, "pelayanan.kec.pamanukan", "kasi_pelayanan_kecamatan"
    )
    camat = kecamatan_account(journey, staff, "camat.kec.pamanukan", "camat")
    desa = [staff(f"{who}.pamanukan") for who in ("kesra", "sekdes", "kades")]
    # The kabupaten sends an SKTM through the kecamatan for a scholarship only: the worker
    # reads the application's purpose when the letter starts (the other way round is tested
    # on the real activity in tests/workflows/test_activities.py).
    operator = staff("diskominfo.subang")
    rule = staff_call(
        journey,
        "PUT",
        operator,
        "/kabupaten/kecamatan-letter-types/SKTM",
        {"purposes": ["beasiswa"]},
    )
    assert rule.status_code == 200 and rule.json()["purposes"] == ["beasiswa"], rule.text
    try:
        app_id = submitted(journey, resident, "Pengajuan Beasiswa sekolah anak", "SKTM")
        approve(journey, desa[0], app_id, 0)  # the route was resolved before step 0
    finally:
        always = staff_call(journey, "PUT", operator, "/kabupaten/kecamatan-letter-types/SKTM", {})
        assert always.status_code == 200, always.text

    for step, token in enumerate(desa[1:], start=1):
        approve(journey, token, app_id, step)
    # A kecamatan task is not in a desa inbox, nor in the camat's before its step.
    kecamatan_task(journey, kasi_kec, app_id, 3)
    assert all(t["application_id"] != app_id for t in journey.tasks(desa[2]))
    assert staff_call(journey, "GET", camat, "/kecamatan/tasks").json() == []
    assert journey.decide(camat, app_id, "approve", step=3).status_code in (403, 404)
    r = journey.decide(kasi_kec, app_id, "approve", step=3)
    assert r.status_code == 200, r.text
    assert r.json()["step_role"] == "camat"
    kecamatan_task(journey, camat, app_id, 4)
    r = journey.decide(camat, app_id, "approve", step=4)
    assert r.status_code == 200, r.text

    application = journey.wait_for_status(resident, app_id, "issued")
    assert assigned_roles(application) == [
        "kasi_kesra",
        "sekdes",
        "kades",
        "kasi_pelayanan_kecamatan",
        "camat",
    ]
    pdf = journey.letter_pdf(resident, app_id)
    assert pdf.status_code == 200, pdf.text
    root = journey.http.get(f"{journey.ep.signing}/pki/root.pem")
    assert root.status_code == 200
    checked = both_signatures(pdf.content, root.content)
    assert KECAMATAN_REGISTER.search(checked["stamp"]), checked["stamp"][:400]
    verdict = journey.verify_pdf(pdf.content)
    assert verdict["conclusion"] == "valid", verdict

    # Each next assignee was told in the app, with a link to this letter's task: the desa's
    # three, then the kecamatan's two.
    for token in (*desa, kasi_kec, camat):
        told = task_notices(journey, token, app_id)
        wait_until("the next assignee's notice", told)


def task_notices(journey: Journey, token: str, app_id: str) -> Callable[[], list[Any] | None]:
    def probe() -> list[Any] | None:
        found = [n for n in notices(journey, token) if app_id in (n["link"] or "")]
        return found or None

    return probe


def both_signatures(pdf: bytes, root_pem: bytes) -> dict[str, str]:
    """The Kades' certification (P=2) and the camat's approval signature, both valid against
    the kabupaten root; returns the camat's stamp text."""
    _, _, der = pem.unarmor(root_pem)
    context = ValidationContext(trust_roots=[x509.Certificate.load(der)])
    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    assert (kades.field_name, camat.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    assert camat.docmdp_level is None  # an approval signature, not a second certification
    assert camat.signer_cert.subject.native["common_name"] == "Camat Pamanukan"
    for signature in (kades, camat):
        status = validate_pdf_signature(signature, context)
        assert status.bottom_line, status.summary()
        assert status.docmdp_ok is not False
    appearance = bytes(camat.sig_field["/AP"]["/N"].get_object().data)
    stamp = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), appearance)
    return {"stamp": stamp.decode("latin-1")}
