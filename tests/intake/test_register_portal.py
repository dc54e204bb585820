"""The register on the resident's side (issue 13, items 4 and 5), against verification's real
PopulationService over gRPC (tests/intake/conftest.py `register`):

- a resident asks to correct their record; the operator's accept corrects the register
  (history) and the next letter prints it, a decline's reason reaches the resident;
- a letter about a family member is filled from the member chosen from the resident's own KK;
- resubmitting after a revision reads the register again, as submitting does;
- a KTP or KK uploaded once is kept and attached again to the next application.
"""

from datetime import date

from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel import select
from temporalio.client import Client

from common.domain.events import APPLICATION_REVISION_REQUESTED
from services.intake.kept_documents import kept_path
from services.intake.models import Attachment, KeptDocument, LetterApplication
from services.verification.population import corrections
from services.verification.population.models import ResidentChange
from services.verification.population.register import (
    ResidentData,
    add_resident,
    correct_resident,
)
from tests.intake import samples
from tests.intake.approval_double import ApprovalDouble
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PAMANUKAN,
    PHONE_ANI,
    PHONE_BUDI,
    Intake,
    Register,
    problem,
)
from tests.intake.test_cancel import worker
from workflows.approval import workflow_id

__all__ = ["worker"]  # the approval double's worker fixture, shared with test_cancel

KK_ANI = "3213110101200001"
NIK_CHILD = "3213115501200003"  # a girl born 15-01-2020
NIK_STRANGER = "3213110202800004"
OPERATOR = "operator.pamanukan"


async def _register(register: Register) -> dict[str, str]:
    """Ani (head of her KK), her daughter, and someone of another KK; their register ids."""
    people = {
        "ani": ResidentData(
            nik=NIK_ANI,
            name="ANI SURYANI",
            sex=2,
            kk_number=KK_ANI,
            kk_level=1,
            birth_place="SUBANG",
            birth_date=date(1990, 8, 17),
            religion=1,
            occupation=88,
            phones=PHONE_ANI,  # the register's phone: her codes go to it (sign-in, item 6)
            address="KP. KRAJAN",
            dusun="KRAJAN",
            rw="002",
            rt="005",
        ),
        "child": ResidentData(
            nik=NIK_CHILD,
            name="SITI AMINAH",
            sex=2,
            kk_number=KK_ANI,
            kk_level=4,
            birth_place="SUBANG",
            birth_date=date(2020, 1, 15),
            address="KP. KRAJAN",
            dusun="KRAJAN",
            rw="002",
            rt="005",
            father_name="DEDI",
            mother_name="ANI SURYANI",
        ),
        "stranger": ResidentData(
            nik=NIK_STRANGER,
            name="ORANG LAIN",
            sex=1,
            kk_number="3213110101200009",
            kk_level=1,
            dusun="KRAJAN",
            rw="001",
            rt="001",
        ),
    }
    ids = {}
    async with register.sessions() as session:
        for key, data in people.items():
            ids[key] = (await add_resident(session, PAMANUKAN, data, actor=OPERATOR)).id
    return ids


SKD = {"desa_code": PAMANUKAN, "letter_type": "SKD", "purpose": "Melamar kerja", "fields": {}}


async def test_a_correction_accepted_reaches_the_register_and_the_next_letter(
    intake: Intake, register: Register
) -> None:
    await _register(register)
    headers = await intake.sign_in()
    mine = (await intake.http.get("/api/v1/me/register", headers=headers)).json()
    assert {f["field"]: f["value"] for f in mine["fields"]}["tanggal_lahir"] == "1990-08-17"

    r = await intake.http.post(
        "/api/v1/register-corrections",
        data={"field": "tanggal_lahir", "proposed_value": "1990-08-18", "note": "Sesuai akta"},
        files={"file": ("akta.jpg", samples.photo(), "image/jpeg")},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    asked = r.json()
    assert (asked["status"], asked["current_value"], asked["has_document"]) == (
        "menunggu",
        "1990-08-17",
        True,
    )
    # The same field again while it waits: refused, in words.
    again = await intake.http.post(
        "/api/v1/register-corrections",
        data={"field": "tanggal_lahir", "proposed_value": "1990-08-19"},
        headers=headers,
    )
    assert again.status_code == 409
    assert "masih menunggu" in problem(again)["detail"]

    async with register.sessions() as session:
        view = await corrections.accept(
            session, PAMANUKAN, ["operator"], asked["id"], actor=OPERATOR
        )
        assert view.resident.birth_date == date(1990, 8, 18)
        history = (
            await session.exec(select(ResidentChange).where(ResidentChange.field == "birth_date"))
        ).all()
    assert [(h.old_value, h.new_value, h.changed_by) for h in history] == [
        ("1990-08-17", "1990-08-18", OPERATOR)
    ]
    assert asked["id"] in history[0].note

    listed = (await intake.http.get("/api/v1/register-corrections", headers=headers)).json()
    assert [(c["status"], c["accepted_value"]) for c in listed] == [("diterima", "1990-08-18")]
    application_id = await intake.create_application(headers, **SKD)
    got = (await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)).json()
    assert got["fields"]["tanggal_lahir"] == "1990-08-18"
    assert "tanggal_lahir" in got["register_fields"]


async def test_a_declined_correction_tells_the_resident_why(
    intake: Intake, register: Register
) -> None:
    await _register(register)
    headers = await intake.sign_in()
    r = await intake.http.post(
        "/api/v1/register-corrections",
        data={"field": "agama", "proposed_value": "Kristen"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    async with register.sessions() as session:
        # Only the register's editors decide; a Kasi may not.
        refused = None
        try:
            await corrections.decline(
                session, PAMANUKAN, ["kasi_pemerintahan"], r.json()["id"], actor="kasi", reason="x"
            )
        except Exception as exc:  # noqa: BLE001 - the refusal's kind is asserted below
            refused = exc
        assert refused is not None and getattr(refused, "code", "") == "register-editors-only"
        await corrections.decline(
            session,
            PAMANUKAN,
            ["operator"],
            r.json()["id"],
            actor=OPERATOR,
            reason="Bawa KTP asli ke kantor desa",
        )
    listed = (await intake.http.get("/api/v1/register-corrections", headers=headers)).json()
    assert [(c["status"], c["decline_reason"]) for c in listed] == [
        ("ditolak", "Bawa KTP asli ke kantor desa")
    ]


async def test_corrections_are_refused_clearly(intake: Intake, register: Register) -> None:
    await _register(register)
    headers = await intake.sign_in()
    for data, field in (
        ({"field": "nik", "proposed_value": "1"}, "field"),
        ({"field": "nama", "proposed_value": "   "}, "proposed_value"),
    ):
        r = await intake.http.post("/api/v1/register-corrections", data=data, headers=headers)
        assert r.status_code == 422, data
        assert problem(r)["field"] == field
    r = await intake.http.post(
        "/api/v1/register-corrections",
        data={"field": "nama", "proposed_value": "Ani"},
        files={"file": ("x.txt", b"not a photo", "text/plain")},
        headers=headers,
    )
    # Checked as a syarat is: not JPEG, PNG or PDF by its content.
    assert (r.status_code, problem(r)["field"]) == (415, "file")
    # Budi is in no register: nothing to correct.
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    r = await intake.http.post(
        "/api/v1/register-corrections",
        data={"field": "nama", "proposed_value": "Budi"},
        headers=budi,
    )
    assert r.status_code == 404
    assert (await intake.http.get("/api/v1/me/register", headers=budi)).status_code == 404
    assert (await intake.http.get("/api/v1/register-corrections")).status_code == 401


async def test_a_letter_about_a_family_member_is_filled_from_their_record(
    intake: Intake, register: Register
) -> None:
    ids = await _register(register)
    headers = await intake.sign_in()
    family = (await intake.http.get("/api/v1/family", headers=headers)).json()
    assert family["desa_code"] == PAMANUKAN
    assert [(m["name"], m["relation"]) for m in family["members"]] == [
        ("ANI SURYANI", "KEPALA KELUARGA"),
        ("SITI AMINAH", "ANAK"),
    ]
    child = family["members"][1]["id"]
    assert child == ids["child"]

    body = {
        "desa_code": PAMANUKAN,
        "letter_type": "SKL",
        "purpose": "Akta kelahiran",
        "fields": {"nama_anak": "Dikarang", "hubungan_pelapor": "Ibu kandung"},
        "subject_id": child,
    }
    r = await intake.http.post("/api/v1/applications", json=body, headers=headers)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["subject_id"] == child
    assert {k: got["fields"][k] for k in ("nama_anak", "jenis_kelamin_anak", "nama_ibu")} == {
        "nama_anak": "SITI AMINAH",
        "jenis_kelamin_anak": "P",
        "nama_ibu": "ANI SURYANI",
    }
    assert got["fields"]["tanggal_lahir_anak"] == "2020-01-15"
    assert got["fields"]["nama"] == "ANI SURYANI"  # the reporter is the resident
    assert {"nama_anak", "tanggal_lahir_anak", "nama"} <= set(got["register_fields"])

    # Someone outside her KK, or a letter about herself, is refused by name of the input.
    for subject, letter_type in ((ids["stranger"], "SKL"), ("f" * 32, "SKL"), (child, "SKD")):
        r = await intake.http.post(
            "/api/v1/applications",
            json={**body, "letter_type": letter_type, "subject_id": subject},
            headers=headers,
        )
        assert r.status_code == 422, (subject, letter_type)
        assert problem(r)["field"] == "subject_id"
    # Budi, in no register, has no family to choose from.
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    assert (await intake.http.get("/api/v1/family", headers=budi)).json()["members"] == []


async def test_resubmitting_reads_the_register_again(
    intake: Intake,
    register: Register,
    worker: None,
    temporal_client: Client,
    stub: intake_pb2_grpc.IntakeServiceStub,
) -> None:
    ids = await _register(register)
    headers = await intake.sign_in()
    application_id = await intake.create_application(headers, **SKD)
    for kind in ("KTP", "KK"):
        assert (
            await intake.upload(headers, application_id, kind, samples.pdf())
        ).status_code == 201
    r = await intake.http.post(f"/api/v1/applications/{application_id}/submit", headers=headers)
    assert r.status_code == 202, r.text
    handle = temporal_client.get_workflow_handle(workflow_id(application_id))
    await handle.signal(ApprovalDouble.request_revision)
    await stub.RecordProgress(
        intake_pb2.RecordProgressRequest(
            application_id=application_id,
            sequence=100,
            event=APPLICATION_REVISION_REQUESTED,
            status="revision_requested",
            actor_role="kasi_pemerintahan",
            decision="revise",
            reason="Alamat tidak sesuai KK",
        )
    )
    async with register.sessions() as session:  # the operator fixes the address meanwhile
        await correct_resident(
            session, PAMANUKAN, ids["ani"], {"address": "KP. SUKAMAJU"}, actor=OPERATOR
        )

    r = await intake.http.post(f"/api/v1/applications/{application_id}/resubmit", headers=headers)

    assert r.status_code == 202, r.text
    handed = await stub.GetApplication(
        intake_pb2.GetApplicationRequest(application_id=application_id)
    )
    assert handed.fields["alamat"] == "KP. SUKAMAJU"
    assert handed.register_version == 2


async def test_a_ktp_uploaded_once_is_offered_again(intake: Intake, register: Register) -> None:
    headers = await intake.sign_in()
    first = await intake.create_application(headers)
    assert (await intake.http.get("/api/v1/documents", headers=headers)).json() == []
    r = await intake.upload(headers, first, "KTP", samples.photo())
    assert r.status_code == 201, r.text
    uploaded = r.json()
    kept = (await intake.http.get("/api/v1/documents", headers=headers)).json()
    assert [(k["kind"], k["size_bytes"]) for k in kept] == [("KTP", uploaded["size_bytes"])]

    second = await intake.create_application(headers, purpose="Lain kali")
    r = await intake.http.post(
        f"/api/v1/applications/{second}/attachments/kept", json={"kind": "KTP"}, headers=headers
    )
    assert r.status_code == 201, r.text
    reused = r.json()
    assert (reused["sha256"], reused["content_type"]) == (
        uploaded["sha256"],
        uploaded["content_type"],
    )
    # Staff (and signing) read it from the new application as any uploaded one: same bytes.
    root = intake.runtime.settings.attachments_dir
    assert (root / second / reused["id"]).read_bytes() == (
        root / first / uploaded["id"]
    ).read_bytes()
    got = (await intake.http.get(f"/api/v1/applications/{second}", headers=headers)).json()
    assert [a["kind"] for a in got["attachments"]] == ["KTP"]

    # Nothing kept of that kind, a kind the letter does not ask for, another's application.
    r = await intake.http.post(
        f"/api/v1/applications/{second}/attachments/kept", json={"kind": "KK"}, headers=headers
    )
    assert r.status_code == 404
    r = await intake.http.post(
        f"/api/v1/applications/{second}/attachments/kept",
        json={"kind": "FOTO_USAHA"},
        headers=headers,
    )
    assert r.status_code == 422
    budi = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    r = await intake.http.post(
        f"/api/v1/applications/{second}/attachments/kept", json={"kind": "KTP"}, headers=budi
    )
    assert r.status_code == 404

    # A newer KTP replaces the kept one (its file too).
    async with intake.runtime.sessions() as session:
        old = (await session.exec(select(KeptDocument))).one()
    r = await intake.upload(headers, second, "KTP", samples.photo(width=60))
    assert r.status_code == 201, r.text
    async with intake.runtime.sessions() as session:
        now = (await session.exec(select(KeptDocument))).one()
        attachments = (await session.exec(select(Attachment))).all()
        assert (await session.get(LetterApplication, first)) is not None
    assert now.id != old.id and now.sha256 == r.json()["sha256"]
    assert not kept_path(root, old).exists() and kept_path(root, now).exists()
    assert len(attachments) == 2  # the first application's KTP is its own, untouched


async def test_an_expired_document_is_not_offered(intake: Intake, register: Register) -> None:
    headers = await intake.sign_in()
    first = await intake.create_application(headers)
    assert (await intake.upload(headers, first, "KK", samples.photo())).status_code == 201
    async with intake.runtime.sessions() as session:
        document = (await session.exec(select(KeptDocument))).one()
        document.created_at = document.created_at.replace(year=document.created_at.year - 2)
        session.add(document)
        await session.commit()
    assert (await intake.http.get("/api/v1/documents", headers=headers)).json() == []
    r = await intake.http.post(
        f"/api/v1/applications/{first}/attachments/kept", json={"kind": "KK"}, headers=headers
    )
    assert r.status_code == 404
    assert "unggah" in problem(r)["detail"]
