"""Issue 18's kecamatan tier with a desa and a camat who both sign through BSrE (two people's
passphrases for one letter), across the real processes `make run` starts, driven only through
the public REST APIs. After the camat's approval the Kades signs on their signature task (the
letter certified and numbered, not yet the resident's), then the camat on theirs in the
kecamatan inbox; only then does the resident get the letter: the Kades' certification and the
camat's approval signature, both BSrE's, valid in pyHanko and on the verification page, and
the kecamatan register number in the approval signature."""

from collections.abc import Iterator

import pytest

from scripts.journey import Journey
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
from tests.e2e.test_camat_bsre import both_signatures, bsre_runner, letter_row
from tests.e2e.test_journey import NIK_B, PHONE_B, Stack, StackRunner
from tests.signing.bsre_fake import CAMAT_NIK, NIK, FakeBsre, fake_bsre
from tests.verification.events import PAMANUKAN

pytestmark = pytest.mark.e2e

KADES_PASSPHRASE = "kunci-bsre-kades-e2e-1207"
CAMAT_PASSPHRASE = "kunci-bsre-camat-e2e-5521"


@pytest.fixture(scope="module")
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(KADES_PASSPHRASE, CAMAT_PASSPHRASE) as fake:
        yield fake


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, bsre: FakeBsre) -> StackRunner:
    """The dev stack with Pamanukan's Kades and its kecamatan's camat on BSrE (signing's
    settings, as an operator sets them), each under their own NIK."""
    folder = tmp_path_factory.mktemp("e2e-desa-camat-bsre")
    return bsre_runner(
        folder,
        bsre,
        {PAMANUKAN: "bsre", KEC_PAMANUKAN: "bsre"},
        {f"{PAMANUKAN}:kades": NIK, f"{KEC_PAMANUKAN}:camat": CAMAT_NIK},
    )


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


def test_the_kades_then_the_camat_sign_and_the_resident_gets_both_signatures(
    journey: Journey, staff: Staff, bsre: FakeBsre, runner: StackRunner
) -> None:
    camat = kecamatan_account(journey, staff, "camat.kec.pamanukan", "camat")
    rule = staff_call(
        journey,
        "PUT",
        staff("diskominfo.subang"),
        "/kabupaten/kecamatan-letter-types/SKD",
        {"steps": [{"role": "camat"}]},
    )
    assert rule.status_code == 200, rule.text
    resident = journey.resident_sign_in(NIK_B, PHONE_B)
    app_id = submitted(journey, resident, "Persyaratan melamar pekerjaan")
    for step, who in enumerate(("pemerintahan", "sekdes", "kades")):
        approve(journey, staff(f"{who}.pamanukan"), app_id, step)
    kecamatan_task(journey, camat, app_id, 3)
    decided = journey.decide(camat, app_id, "approve", step=3)
    assert decided.status_code == 200, decided.text
    state = decided.json()
    assert (state["status"], state["step_role"]) == ("awaiting_signature", "kades"), state

    # The Kades' signature task, in the desa's inbox: certified and numbered, not issued.
    kades = staff("kades.pamanukan")
    task = journey.wait_for_task(kades, app_id, 4)
    assert task["kind"] == "signature"
    signed = staff_call(
        journey, "POST", kades, f"/tasks/{app_id}/retry-issue", {"passphrase": KADES_PASSPHRASE}
    )
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["step_role"]) == ("awaiting_signature", "camat")
    certified = letter_row(runner.data_dir, app_id)
    assert certified["number"] and not certified["kecamatan_register"]
    # The resident waits: no letter to download yet.
    application = journey.wait_for_status(resident, app_id, "awaiting_signature")
    assert not application.get("letter_number"), application
    assert journey.letter_pdf(resident, app_id).status_code == 409

    # The camat's signature task, in the kecamatan's inbox.
    waiting = kecamatan_task(journey, camat, app_id, 5)
    assert (waiting["kind"], waiting["step"]["role"]) == ("signature", "camat")
    done = staff_call(
        journey, "POST", camat, f"/tasks/{app_id}/retry-issue", {"passphrase": CAMAT_PASSPHRASE}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "issued"
    journey.wait_for_status(resident, app_id, "issued")
    pdf = journey.letter_pdf(resident, app_id)
    assert pdf.status_code == 200, pdf.text

    row = letter_row(runner.data_dir, app_id)
    assert KECAMATAN_REGISTER.fullmatch(row["kecamatan_register"]), row
    assert (row["number"], row["sequence"]) == (certified["number"], certified["sequence"])
    assert [r["nik"] for r in bsre.requests] == [NIK, CAMAT_NIK]

    kades_sig, camat_sig = both_signatures(pdf.content, [bsre.registry.root_pem])
    assert kades_sig.signer_cert.subject != camat_sig.signer_cert.subject
    assert row["kecamatan_register"] in str(camat_sig.sig_object["/Reason"])
    verdict = journey.verify_pdf(pdf.content)
    assert verdict["conclusion"] == "valid", verdict
