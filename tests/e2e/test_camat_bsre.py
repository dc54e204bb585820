"""Issue 18's kecamatan tier with a camat who signs through BSrE, across the real processes
`make run` starts, driven only through the public REST APIs: the desa's steps approve (the desa
signs with its own key), the camat approves with a wrong BSrE passphrase and is refused in
Indonesian, then signs with the right one on the letter that waits for them. The resident's PDF
carries the Kades' certification and the camat's approval signature (BSrE's, from a local
server speaking its API's shape), both valid in pyHanko; the kecamatan register number was
taken once, and the desa's number once."""

import json
import sqlite3
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import EmbeddedPdfSignature, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from scripts.journey import Journey
from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD
from tests.e2e.test_approval_paths import (
    KEC_PAMANUKAN,
    KECAMATAN_REGISTER,
    Staff,
    approve,
    kecamatan_account,
    kecamatan_task,
    staff_call,
    submitted,
)
from tests.e2e.test_journey import NIK_B, PHONE_B, Stack, StackRunner
from tests.signing.bsre_fake import NIK, USERNAME, FakeBsre, fake_bsre
from tests.signing.bsre_fake import PASSWORD as BSRE_PASSWORD

pytestmark = pytest.mark.e2e

CAMAT_PASSPHRASE = "kunci-bsre-camat-e2e-4410"


@pytest.fixture(scope="module")
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(CAMAT_PASSPHRASE) as fake:
        yield fake


def bsre_runner(
    folder: Path, bsre: FakeBsre, signers: dict[str, str], niks: dict[str, str]
) -> StackRunner:
    """The dev stack with signing's BSrE settings, as an operator sets them: who signs through
    BSrE (`signers`, by desa or kecamatan code) and each signer's NIK (`niks`, by
    "code:role"), trusting the fake server's root."""
    password_file = folder / "bsre.password"
    password_file.write_text(BSRE_PASSWORD)
    bsre_root = folder / "bsre-root.pem"
    bsre_root.write_bytes(bsre.registry.root_pem)
    return StackRunner(
        folder / "data",
        {
            "SMARTDESA_SIGNING_SIGNERS": json.dumps(signers),
            "SMARTDESA_SIGNING_BSRE_URL": bsre.url,
            "SMARTDESA_SIGNING_BSRE_USERNAME": USERNAME,
            "SMARTDESA_SIGNING_BSRE_PASSWORD_FILE": str(password_file),
            "SMARTDESA_SIGNING_BSRE_NIKS": json.dumps(niks),
            "SMARTDESA_SIGNING_TRUST_ROOTS": json.dumps([str(bsre_root)]),
        },
    )


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, bsre: FakeBsre) -> StackRunner:
    """The dev stack, with the kecamatan of Pamanukan's camat on BSrE (the desa keeps the dev
    PKI's local keys): signing's settings for the kecamatan's code, as an operator sets them."""
    folder = tmp_path_factory.mktemp("e2e-camat-bsre")
    return bsre_runner(folder, bsre, {KEC_PAMANUKAN: "bsre"}, {f"{KEC_PAMANUKAN}:camat": NIK})


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
def staff(journey: Journey) -> Staff:
    return Staff(journey)


def letter_row(data_dir: Path, app_id: str) -> dict[str, Any]:
    """Signing's record of the letter (its own database in the stack's data folder)."""
    found = sorted(data_dir.rglob("signing.db"))
    assert found, list(data_dir.iterdir())
    with sqlite3.connect(found[0]) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT number, sequence, kecamatan_register, kecamatan_approved_at, status "
            "FROM letter WHERE application_id = ?",
            (app_id,),
        ).fetchall()
    assert len(rows) == 1, rows
    return dict(rows[0])


def both_signatures(
    pdf: bytes, roots_pem: list[bytes]
) -> tuple[EmbeddedPdfSignature, EmbeddedPdfSignature]:
    """The Kades' certification (P=2) and the camat's approval signature (BSrE's), both valid
    against `roots_pem`; the two signatures, the Kades' first."""
    roots = [x509.Certificate.load(pem.unarmor(r)[2]) for r in roots_pem]
    context = ValidationContext(trust_roots=roots)
    reader = PdfFileReader(BytesIO(pdf))
    kades, camat = (s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp")
    assert (kades.field_name, camat.field_name) == (SIGNATURE_FIELD, APPROVAL_FIELD)
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    assert camat.docmdp_level is None  # an approval signature, not a second certification
    assert camat.signer_cert.issuer.native["common_name"] == "Fake BSrE Root CA"
    for signature in (kades, camat):
        status = validate_pdf_signature(signature, context)
        assert status.bottom_line, status.summary()
        assert status.docmdp_ok is not False
    return kades, camat


def test_an_skd_with_a_bsre_camat_carriesboth_signatures(
    journey: Journey, staff: Staff, bsre: FakeBsre, runner: StackRunner
) -> None:
    camat = kecamatan_account(journey, staff, "camat.kec.pamanukan", "camat")
    operator = staff("diskominfo.subang")
    rule = staff_call(
        journey,
        "PUT",
        operator,
        "/kabupaten/kecamatan-letter-types/SKD",
        {"steps": [{"role": "camat"}]},
    )
    assert rule.status_code == 200, rule.text
    resident = journey.resident_sign_in(NIK_B, PHONE_B)
    app_id = submitted(journey, resident, "Persyaratan melamar pekerjaan")
    for step, who in enumerate(("pemerintahan", "sekdes", "kades")):
        approve(journey, staff(f"{who}.pamanukan"), app_id, step)
    task = kecamatan_task(journey, camat, app_id, 3)
    assert task["kind"] == "decision"

    # A wrong passphrase: refused in Indonesian, the approval kept, the letter not issued.
    wrong = staff_call(
        journey,
        "POST",
        camat,
        f"/tasks/{app_id}/decision",
        {"decision": "approve", "step": 3, "passphrase": "bukan-passphrase"},
    )
    assert wrong.status_code == 422, wrong.text
    assert "Passphrase anda salah" in wrong.json()["detail"]
    assert "bukan-passphrase" not in wrong.text
    waiting = kecamatan_task(journey, camat, app_id, 4)
    assert waiting["kind"] == "signature"
    # Not issued: intake has no letter to hand out yet (409, as for any letter in progress).
    assert journey.letter_pdf(resident, app_id).status_code == 409
    first = letter_row(runner.data_dir, app_id)
    assert first["kecamatan_register"] and first["kecamatan_approved_at"] is None

    signed = staff_call(
        journey, "POST", camat, f"/tasks/{app_id}/retry-issue", {"passphrase": CAMAT_PASSPHRASE}
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "issued"
    journey.wait_for_status(resident, app_id, "issued")
    pdf = journey.letter_pdf(resident, app_id)
    assert pdf.status_code == 200, pdf.text
    root = journey.http.get(f"{journey.ep.signing}/pki/root.pem")
    assert root.status_code == 200
    both_signatures(pdf.content, [root.content, bsre.registry.root_pem])
    verdict = journey.verify_pdf(pdf.content)
    assert verdict["conclusion"] == "valid", verdict

    # One number each, taken by the first attempt; the register number is the kecamatan's.
    done = letter_row(runner.data_dir, app_id)
    assert KECAMATAN_REGISTER.fullmatch(done["kecamatan_register"]), done
    assert (done["number"], done["sequence"], done["kecamatan_register"]) == (
        first["number"],
        first["sequence"],
        first["kecamatan_register"],
    )
    assert done["kecamatan_approved_at"] is not None
    # BSrE was asked twice for the camat's NIK (refused, then signed), never for the desa.
    assert [r["nik"] for r in bsre.requests] == [NIK, NIK]
    # The register number is drawn in the stamp image sent to BSrE (the camat's line).
    image = bsre.requests[-1]["signatureProperties"][0]["imageBase64"]
    assert image and bsre.requests[-1]["signatureProperties"][0]["page"] >= 1
