"""A kecamatan whose camat signs through BSrE (issue 18): the kabupaten operator marks the camat
as a BSrE signer (API or kecamatan page, by the NIK BSrE knows them by); the desa certifies with
its own key, and the camat's "mengetahui" is signed through BSrE with the camat's passphrase,
given with the camat's approval (API or task page) or later on the letter that waits for the
camat's signature. A wrong passphrase is refused in Indonesian and may be tried again: the letter keeps
its number and its kecamatan register number, and is not issued until both signatures are on it.

Real verification and signing services (signing connected to a local server speaking BSrE's
shape, no signer setting for the kecamatan: the operator's mark alone makes it BSrE), the real workflow and activities on the
Temporal dev server, and the intake peer. The passphrase reaches BSrE and nothing else."""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from typing import Any

import grpc
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from smartdesa.v1 import signing_pb2, signing_pb2_grpc
from sqlmodel import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import SIGNING, VERIFICATION, client_channel
from services.signing.config import Settings as SigningSettings
from services.signing.models import Letter
from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from tests.signing.bsre_fake import NIK, PASSWORD, USERNAME, FakeBsre, fake_bsre
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_bsre_passphrase import _assert_passphrase_nowhere
from tests.verification.test_kecamatan import KEC_PAMANUKAN, _camat
from tests.verification.test_kecamatan_pages import CSRF, _browser
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput
from workflows.approval.worker import build_worker

PASSPHRASE = "kunci-bsre-camat-7305"
DESA_APPROVERS = ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")
CAMAT_PASSWORD = "sandi-camat-baru-1"
REGISTER = "/api/v1/kabupaten/kecamatan-letter-types/SKD"
BSRE_MARK = f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/signers/camat/bsre"


@pytest.fixture
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(PASSPHRASE) as fake:
        yield fake


@pytest.fixture
async def signing(base_settings: Settings, bsre: FakeBsre) -> AsyncIterator[SigningRuntime]:
    """Signing connected to BSrE; every desa and kecamatan signs with the dev PKI's local keys
    until the operator marks a camat for BSrE."""
    data_dir = base_settings.data_dir
    password_file = data_dir / "bsre.password"
    password_file.write_text(PASSWORD)
    bsre_root = data_dir / "bsre-root.pem"
    bsre_root.write_bytes(bsre.registry.root_pem)
    settings = SigningSettings(
        profile="dev",
        data_dir=data_dir,
        nats_url=base_settings.nats_url,
        signing_grpc_port=0,
        signing_workers=0,
        signing_bsre_url=bsre.url,
        signing_bsre_username=USERNAME,
        signing_bsre_password_file=password_file,
        signing_trust_roots=[bsre_root],
    )
    async with open_signing(settings) as runtime:
        yield runtime


@pytest.fixture
def settings(
    base_settings: Settings, intake_peer: tuple[object, int], signing: SigningRuntime
) -> Settings:
    return base_settings.model_copy(
        update={
            "intake_grpc_target": f"127.0.0.1:{intake_peer[1]}",
            "signing_grpc_target": f"127.0.0.1:{signing.grpc_server.port}",
        }
    )


@pytest.fixture
async def queue(
    service: Service, settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[str]:
    """A worker (real activities, calling the real signing) on a queue of its own."""
    from common.rpc import INTAKE, WORKER

    name = f"verification-camat-bsre-{uuid.uuid4()}"
    auth = InternalAuth.from_settings(settings, WORKER)
    channels = [
        client_channel(settings.intake_grpc_target, auth, INTAKE),
        client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION),
        client_channel(settings.signing_grpc_target, auth, SIGNING),
    ]
    worker_settings = settings.model_copy(update={"temporal_task_queue": name})
    try:
        async with build_worker(
            temporal_env.client, worker_settings, ApprovalActivities(*channels)
        ):
            yield name
    finally:
        for channel in channels:
            await channel.close()


@pytest.fixture
async def camat(service: Service) -> AsyncIterator[dict[str, str]]:
    """The camat's account, marked by the operator as signing through BSrE, and SKD sent
    through the camat of the kecamatan (for every purpose)."""
    headers = await _camat(service)
    operator = await service.login("diskominfo.subang")
    marked = await service.http.put(BSRE_MARK, json={"nik": NIK}, headers=operator)
    assert marked.status_code == 200, marked.text
    assert marked.json()["kind"] == "bsre" and NIK not in marked.text
    rule = await service.http.put(REGISTER, json={"steps": [{"role": "camat"}]}, headers=operator)
    assert rule.status_code == 200, rule.text
    yield headers


async def _post(
    service: Service, headers: dict[str, str], path: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = await service.http.post(path, json=body, headers=headers)
    return response.status_code, response.json()


async def _camat_task(
    service: Service, headers: dict[str, str], app_id: str, kind: str | None = None
) -> dict[str, Any]:
    """The application's task in the camat's inbox (of `kind` when given: the projection
    turns the decision task into the signature task after the decision's answer)."""

    async def found() -> dict[str, Any] | None:
        response = await service.http.get("/api/v1/kecamatan/tasks", headers=headers)
        assert response.status_code == 200, response.text
        tasks: list[dict[str, Any]] = response.json()
        return next(
            (
                t
                for t in tasks
                if t["application_id"] == app_id and (kind is None or t["kind"] == kind)
            ),
            None,
        )

    task: dict[str, Any] | None = await eventually(found)
    assert task is not None
    return task


async def _approved_by_the_desa(
    service: Service, temporal_env: WorkflowEnvironment, queue: str
) -> tuple[str, WorkflowHandle[Any, Any]]:
    """An SKD of Pamanukan approved by the desa's three steps: it waits at the camat's step."""
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await temporal_env.client.start_workflow(
        WORKFLOW_NAME,
        ApprovalInput(application_id=app_id, desa_code=PAMANUKAN, letter_type="SKD"),
        id=workflow_id(app_id),
        task_queue=queue,
    )
    for index, username in enumerate(DESA_APPROVERS):
        headers = await service.login(username)

        async def waiting(headers: dict[str, str] = headers, index: int = index) -> bool:
            response = await service.http.get("/api/v1/tasks", headers=headers)
            task = next((t for t in response.json() if t["application_id"] == app_id), None)
            return task is not None and task["step"]["index"] == index

        await eventually(waiting)
        status, state = await _post(
            service, headers, f"/api/v1/tasks/{app_id}/decision", decision="approve"
        )
        assert status == 200, state
    return app_id, handle


async def _letter(signing: SigningRuntime, app_id: str) -> Letter | None:
    async with signing.sessions() as session:
        query = select(Letter).where(Letter.application_id == app_id)
        return (await session.exec(query)).first()


async def _download(signing: SigningRuntime, app_id: str) -> bytes | grpc.StatusCode:
    """The letter as the resident's download gets it (signing's GetLetterPdf)."""
    auth = InternalAuth.from_settings(signing.settings, VERIFICATION)
    target = f"127.0.0.1:{signing.grpc_server.port}"
    async with client_channel(target, auth, SIGNING) as channel:
        try:
            pdf = await signing_pb2_grpc.SigningServiceStub(channel).GetLetterPdf(
                signing_pb2.GetLetterPdfRequest(application_id=app_id), timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return bytes(pdf.content)


async def _both_signatures(pdf: bytes, signing: SigningRuntime, bsre: FakeBsre) -> None:
    """The Kades' certification (DocMDP P=2, the kabupaten's root) and the camat's approval
    signature (BSrE's root), both valid in pyHanko."""
    roots = [signing.signers.root_cert_asn1, bsre.registry.root_cert_asn1]
    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    assert (kades.field_name, camat.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    assert camat.docmdp_level is None  # an approval signature, not a second certification
    assert camat.signer_cert.issuer.native["common_name"] == "Fake BSrE Root CA"
    for signature in (kades, camat):
        status = await async_validate_pdf_signature(signature, ValidationContext(trust_roots=roots))
        assert status.bottom_line, status.summary()
        assert status.docmdp_ok is not False


async def test_the_camat_signs_mengetahui_through_bsre_when_approving(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    camat: dict[str, str],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app_id, handle = await _approved_by_the_desa(service, temporal_env, queue)
    task = await _camat_task(service, camat, app_id)
    assert task["step"]["role"] == "camat" and task["kind"] == "decision"
    # The desa's local key signed nothing yet: the camat's approval certifies and approves.
    assert await _letter(signing, app_id) is None

    status, state = await _post(
        service,
        camat,
        f"/api/v1/tasks/{app_id}/decision",
        decision="approve",
        step=task["step"]["index"],
        passphrase=PASSPHRASE,
    )
    assert status == 200, state
    assert state["status"] == "issued", state
    letter = await _letter(signing, app_id)
    assert letter is not None and letter.issued and letter.kecamatan_register
    assert state["letter"]["number"] == letter.number
    # BSrE was asked once, for the camat's NIK, to sign into the reserved field.
    assert len(bsre.requests) == 1 and bsre.requests[0]["nik"] == NIK
    pdf = await _download(signing, app_id)
    assert isinstance(pdf, bytes)
    await _both_signatures(pdf, signing, bsre)
    # The kecamatan's register number is on the letter (BSrE draws the stamp as an image: the
    # request carried the text drawn, and the letter row the number).
    assert (await handle.result())["status"] == "issued"
    await _assert_passphrase_nowhere(handle, caplog, settings.data_dir)


async def test_a_wrong_camat_passphrase_is_refused_and_tried_again(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    camat: dict[str, str],
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app_id, handle = await _approved_by_the_desa(service, temporal_env, queue)
    task = await _camat_task(service, camat, app_id)
    wrong = "bukan-passphrase-camat"

    status, body = await _post(
        service,
        camat,
        f"/api/v1/tasks/{app_id}/decision",
        decision="approve",
        step=task["step"]["index"],
        passphrase=wrong,
    )
    assert status == 422, body
    assert body["type"].endswith("/signing-refused")
    assert "Persetujuan Anda sudah tercatat" in body["detail"]
    assert "Passphrase anda salah" in body["detail"], body
    assert wrong not in str(body)
    # Certified and numbered once, but not issued: no download, and the letter waits for the
    # camat's signature at the camat's own task.
    first = await _letter(signing, app_id)
    assert first is not None and first.kecamatan_register and not first.issued
    assert await _download(signing, app_id) == grpc.StatusCode.NOT_FOUND
    waiting = await _camat_task(service, camat, app_id, kind="signature")
    assert waiting["kind"] == "signature" and waiting["step"]["role"] == "camat"
    detail = await service.http.get(f"/api/v1/tasks/{app_id}", headers=camat)
    assert detail.json()["task"]["kind"] == "signature", detail.text
    assert detail.json()["task"]["step"] == {"index": 4, "role": "camat"}
    workflow_state = await handle.query("state")
    assert workflow_state["status"] == "awaiting_signature", workflow_state

    # Wrong again, through the signature task: the same numbers, still not issued.
    retry = f"/api/v1/tasks/{app_id}/retry-issue"
    status, body = await _post(service, camat, retry, passphrase=wrong)
    assert status == 422 and "Passphrase anda salah" in body["detail"], body
    # Nobody in the desa signs the camat's "mengetahui"; nor does another camat or the
    # kabupaten operator.
    status, body = await _post(
        service, await service.login("kades.pamanukan"), retry, passphrase=PASSPHRASE
    )
    assert status == 403 and "Camat" in body["detail"], body
    operator = await service.login("diskominfo.subang")
    status, body = await _post(service, operator, retry, passphrase=PASSPHRASE)
    assert status == 403, body
    # Without a passphrase it is asked for.
    status, body = await _post(service, camat, retry)
    assert status == 422 and body["type"].endswith("/passphrase-required"), body

    status, state = await _post(service, camat, retry, passphrase=PASSPHRASE)
    assert status == 200, state
    assert state["status"] == "issued", state
    letter = await _letter(signing, app_id)
    assert letter is not None and letter.issued
    # No number taken twice: the desa's and the kecamatan's are those of the first attempt.
    assert (letter.id, letter.number, letter.sequence, letter.kecamatan_register) == (
        first.id,
        first.number,
        first.sequence,
        first.kecamatan_register,
    )
    async with signing.sessions() as session:
        rows = (await session.exec(select(Letter).where(Letter.application_id == app_id))).all()
    assert len(rows) == 1
    pdf = await _download(signing, app_id)
    assert isinstance(pdf, bytes)
    await _both_signatures(pdf, signing, bsre)
    assert state["letter"]["number"] == letter.number
    assert len(bsre.requests) == 3  # two refused, one signed; never retried on its own
    assert (await handle.result())["status"] == "issued"
    await _assert_passphrase_nowhere(handle, caplog, settings.data_dir)
    assert wrong not in caplog.text


async def test_the_camat_page_asks_the_passphrase_and_the_letter_waits_without_it(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    camat: dict[str, str],
    temporal_env: WorkflowEnvironment,
) -> None:
    app_id, _handle = await _approved_by_the_desa(service, temporal_env, queue)
    await _camat_task(service, camat, app_id)
    async with _browser(service, "camat.pamanukan", CAMAT_PASSWORD) as browser:
        page = await browser.get(f"/permohonan/{app_id}")
        assert page.status_code == 200, page.text
        assert 'name="passphrase"' in page.text
        assert "sertifikat BSrE Anda" in page.text
        csrf = CSRF.search(page.text)
        assert csrf is not None
        # Approved without the passphrase: recorded, and the letter waits for the camat's
        # signature; signing was not asked and took no number.
        done = await browser.post(
            f"/permohonan/{app_id}/keputusan",
            data={"csrf_token": csrf.group(1), "keputusan": "setujui", "langkah": "3"},
        )
        assert done.status_code == 303, done.text
        assert await _letter(signing, app_id) is None and bsre.requests == []
        waiting = await _camat_task(service, camat, app_id, kind="signature")
        assert waiting["kind"] == "signature"

        page = await browser.get(f"/permohonan/{app_id}")
        assert 'action="/permohonan/' in page.text and "/terbitkan" in page.text
        csrf = CSRF.search(page.text)
        assert csrf is not None
        wrong = await browser.post(
            f"/permohonan/{app_id}/terbitkan",
            data={"csrf_token": csrf.group(1), "passphrase": "salah-lagi"},
        )
        assert wrong.status_code == 422, wrong.text
        assert "Passphrase anda salah" in wrong.text and "salah-lagi" not in wrong.text
        csrf = CSRF.search(wrong.text)
        assert csrf is not None
        signed = await browser.post(
            f"/permohonan/{app_id}/terbitkan",
            data={"csrf_token": csrf.group(1), "passphrase": PASSPHRASE},
        )
        assert signed.status_code == 303, signed.text
    letter = await _letter(signing, app_id)
    assert letter is not None and letter.issued
    pdf = await _download(signing, app_id)
    assert isinstance(pdf, bytes)
    await _both_signatures(pdf, signing, bsre)


async def test_the_operator_marks_a_camat_for_bsre_and_is_refused_in_indonesian(
    service: Service, signing: SigningRuntime
) -> None:
    operator = await service.login("diskominfo.subang")
    # No camat account yet: the stamp would have no name.
    early = await service.http.put(BSRE_MARK, json={"nik": NIK}, headers=operator)
    assert early.status_code == 409 and "akun Camat" in early.json()["detail"], early.text
    await _camat(service)
    # Only the kabupaten operator; a NIK is 16 digits; the kecamatan must be the kabupaten's.
    kades = await service.login("kades.pamanukan")
    assert (await service.http.put(BSRE_MARK, json={"nik": NIK}, headers=kades)).status_code == 403
    bad = await service.http.put(BSRE_MARK, json={"nik": "12345"}, headers=operator)
    assert bad.status_code == 422 and "16 angka" in bad.json()["detail"], bad.text
    elsewhere = "/api/v1/kabupaten/kecamatan/32.14.01/signers/camat/bsre"
    assert (
        await service.http.put(elsewhere, json={"nik": NIK}, headers=operator)
    ).status_code == 404
    assert signing.letter_signers.kind_for(KEC_PAMANUKAN) == "local"

    # The page: the form marks it, and the kecamatan's page says so from then on.
    async with _browser(service, "diskominfo.subang") as browser:
        page = await browser.get(f"/kabupaten/kecamatan/{KEC_PAMANUKAN}")
        assert page.status_code == 200 and 'name="nik"' in page.text
        assert "Camat menandatangani melalui BSrE</span>" not in page.text
        csrf = CSRF.search(page.text)
        assert csrf is not None
        empty = await browser.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/bsre", data={"csrf_token": csrf.group(1)}
        )
        assert empty.status_code == 422 and "Isi NIK Camat" in empty.text
        done = await browser.post(
            f"/kabupaten/kecamatan/{KEC_PAMANUKAN}/bsre",
            data={"csrf_token": csrf.group(1), "nik": NIK},
        )
        assert done.status_code == 303, done.text
        page = await browser.get(done.headers["location"])
        assert "Camat menandatangani melalui BSrE</span>" in page.text
        assert NIK not in page.text
    # Signing took it up: the camat's approvals go through BSrE, certificates are refused.
    assert signing.letter_signers.kind_for(KEC_PAMANUKAN) == "bsre"
    cert = await service.http.put(
        f"/api/v1/kabupaten/kecamatan/{KEC_PAMANUKAN}/signers/camat",
        json={"certificate_pem": "x", "key_pem": "y"},
        headers=operator,
    )
    assert cert.status_code == 409 and "BSrE" in cert.json()["detail"], cert.text
