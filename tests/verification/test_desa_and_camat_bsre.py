"""A BSrE desa in a BSrE kecamatan (issue 18): two people's passphrases for one letter. After the
camat's approval the Kades signs first, on their signature task in the desa's inbox (signing
certifies and numbers the letter with the camat's field reserved; it is not issued yet); then
the camat signs "mengetahui" on their own signature task in the kecamatan's inbox (the
kecamatan's register number and the approval signature), and only then is the letter issued
and the resident's to download.

Real verification and signing services (signing on a local server speaking BSrE's shape that
knows the Kades and the camat, each with a key and a passphrase of their own), the real
workflow and activities on the Temporal dev server, and the intake peer."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from typing import Any

import grpc
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from temporalio.testing import WorkflowEnvironment

from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD, approval_reason
from services.signing.runtime import Runtime as SigningRuntime
from services.verification.config import Settings
from tests.signing.bsre_fake import CAMAT_NIK, NIK, FakeBsre, fake_bsre
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.test_bsre_passphrase import (
    _files_holding,
    signing,  # noqa: F401 (a fixture: signing on this module's BSrE, Pamanukan's Kades on it)
)
from tests.verification.test_camat_bsre import (
    BSRE_MARK,
    CAMAT_PASSWORD,
    REGISTER,
    _approved_by_the_desa,
    _camat_task,
    _download,
    _letter,
    _post,
    queue,  # noqa: F401 (a fixture: the worker on a queue of its own)
    settings,  # noqa: F401 (a fixture: verification pointed at this signing)
)
from tests.verification.test_kecamatan import KEC_PAMANUKAN, _camat
from tests.verification.test_kecamatan_pages import _browser

KADES_PASSPHRASE = "kunci-bsre-kades-2210"
CAMAT_PASSPHRASE = "kunci-bsre-camat-8841"


@pytest.fixture
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(KADES_PASSPHRASE, CAMAT_PASSPHRASE) as fake:
        yield fake


@pytest.fixture
async def camat(service: Service) -> AsyncIterator[dict[str, str]]:
    """The camat's account, marked by the operator as signing through BSrE under their own
    NIK, and SKD sent through the camat of the kecamatan."""
    headers = await _camat(service)
    operator = await service.login("diskominfo.subang")
    marked = await service.http.put(BSRE_MARK, json={"nik": CAMAT_NIK}, headers=operator)
    assert marked.status_code == 200, marked.text
    rule = await service.http.put(REGISTER, json={"steps": [{"role": "camat"}]}, headers=operator)
    assert rule.status_code == 200, rule.text
    yield headers


async def _desa_task(
    service: Service, headers: dict[str, str], app_id: str, kind: str
) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        response = await service.http.get("/api/v1/tasks", headers=headers)
        assert response.status_code == 200, response.text
        tasks: list[dict[str, Any]] = response.json()
        return next((t for t in tasks if t["application_id"] == app_id and t["kind"] == kind), None)

    task: dict[str, Any] | None = await eventually(found)
    assert task is not None
    return task


async def _not_in_inbox(service: Service, headers: dict[str, str], path: str, app_id: str) -> None:
    async def gone() -> bool:
        response = await service.http.get(path, headers=headers)
        return all(t["application_id"] != app_id for t in response.json())

    await eventually(gone)


async def test_the_kades_then_the_camat_sign_through_bsre_and_only_then_is_it_issued(
    service: Service,
    signing: SigningRuntime,  # noqa: F811
    bsre: FakeBsre,
    queue: str,  # noqa: F811
    camat: dict[str, str],
    temporal_env: WorkflowEnvironment,
    settings: Settings,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app_id, handle = await _approved_by_the_desa(service, temporal_env, queue)
    task = await _camat_task(service, camat, app_id, kind="decision")
    assert task["step"] == {"index": 3, "role": "camat"}

    # The camat's approval page asks no passphrase: the desa signs first.
    async with _browser(service, "camat.pamanukan", CAMAT_PASSWORD) as browser:
        page = await browser.get(f"/permohonan/{app_id}")
        assert page.status_code == 200, page.text
        assert 'name="passphrase"' not in page.text
        assert "setelah penandatangan desa" in page.text
    # Given one anyway, it is not used: the approval is recorded, the Kades' signature awaited.
    status, state = await _post(
        service,
        camat,
        f"/api/v1/tasks/{app_id}/decision",
        decision="approve",
        step=3,
        passphrase=CAMAT_PASSPHRASE,
    )
    assert status == 200, state
    assert (state["status"], state["step_index"], state["step_role"]) == (
        "awaiting_signature",
        4,
        "kades",
    )
    assert bsre.requests == [] and await _letter(signing, app_id) is None

    # The Kades' signature task, in the desa's inbox; the camat has nothing to sign yet.
    kades = await service.login("kades.pamanukan")
    signature = await _desa_task(service, kades, app_id, "signature")
    assert signature["step"] == {"index": 4, "role": "kades"}
    await _not_in_inbox(service, camat, "/api/v1/kecamatan/tasks", app_id)
    retry = f"/api/v1/tasks/{app_id}/retry-issue"
    status, body = await _post(service, camat, retry, passphrase=CAMAT_PASSPHRASE)
    assert status == 404, body
    # The Kades' page asks their passphrase and says the camat signs after them.
    async with _browser(service, "kades.pamanukan") as browser:
        page = await browser.get(f"/permohonan/{app_id}")
        assert page.status_code == 200, page.text
        assert 'name="passphrase"' in page.text and "info-camat-berikutnya" in page.text

    status, state = await _post(service, kades, retry, passphrase=KADES_PASSPHRASE)
    assert status == 200, state
    assert (state["status"], state["step_index"], state["step_role"]) == (
        "awaiting_signature",
        5,
        "camat",
    )
    # Certified and numbered by the Kades' BSrE signature; no register number, not issued.
    certified = await _letter(signing, app_id)
    assert certified is not None and certified.number and not certified.issued
    assert certified.kecamatan_register == ""
    assert await _download(signing, app_id) == grpc.StatusCode.NOT_FOUND
    assert [r["nik"] for r in bsre.requests] == [NIK]

    # Now the camat's signature task, in the kecamatan's inbox; the Kades' is done.
    waiting = await _camat_task(service, camat, app_id, kind="signature")
    assert waiting["step"] == {"index": 5, "role": "camat"}
    await _not_in_inbox(service, kades, "/api/v1/tasks", app_id)
    # Nobody in the desa signs the camat's "mengetahui"; the Kades' passphrase is not theirs.
    status, body = await _post(service, kades, retry, passphrase=KADES_PASSPHRASE)
    assert status in (403, 409), body
    status, body = await _post(service, camat, retry, passphrase=KADES_PASSPHRASE)
    assert status == 422 and "Passphrase anda salah" in body["detail"], body

    status, state = await _post(service, camat, retry, passphrase=CAMAT_PASSPHRASE)
    assert status == 200, state
    assert state["status"] == "issued", state
    letter = await _letter(signing, app_id)
    assert letter is not None and letter.issued and letter.kecamatan_register
    assert (letter.id, letter.number) == (certified.id, certified.number)
    assert state["letter"]["number"] == letter.number
    assert [r["nik"] for r in bsre.requests] == [NIK, CAMAT_NIK, CAMAT_NIK]
    assert (await handle.result())["status"] == "issued"

    # The resident's download: the Kades' certification (DocMDP level 2) and the camat's
    # approval signature with the kecamatan's register number, both valid in pyHanko.
    pdf = await _download(signing, app_id)
    assert isinstance(pdf, bytes)
    reader = PdfFileReader(BytesIO(pdf))
    kades_sig, camat_sig = (
        s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp"
    )
    assert (kades_sig.field_name, camat_sig.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades_sig.docmdp_level == MDPPerm.FILL_FORMS and camat_sig.docmdp_level is None
    assert kades_sig.signer_cert.subject.native["common_name"].startswith("Kepala Desa")
    assert camat_sig.signer_cert.subject.native["common_name"].startswith("Camat")
    assert camat_sig.sig_object["/Reason"] == approval_reason(letter.kecamatan_register)
    context = ValidationContext(trust_roots=[bsre.registry.root_cert_asn1])
    for signed in (kades_sig, camat_sig):
        result = await async_validate_pdf_signature(signed, context)
        assert result.bottom_line, result.summary()
        assert result.docmdp_ok is not False
    # Neither passphrase in the workflow's history, a log or any file of either service.
    history = (await handle.fetch_history()).to_json()
    for passphrase in (KADES_PASSPHRASE, CAMAT_PASSPHRASE):
        assert passphrase not in history and passphrase not in caplog.text
        found = await asyncio.to_thread(_files_holding, settings.data_dir, passphrase.encode())
        assert {"signing.db", "verification.db"} <= {p.name for p in found}
        assert [p for p, held in found.items() if held] == []
    assert KEC_PAMANUKAN in letter.kecamatan_register
