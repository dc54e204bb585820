"""The camat's "mengetahui": a second PAdES signature (an approval signature) on the letter the
Kades certified, with the kecamatan's register number in its stamp on the page."""

import asyncio
import re
from dataclasses import replace
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.signing.issuing import IssueRefused, IssueRequest, KecamatanApproval
from services.signing.pades import APPROVAL_FIELD, SIGNATURE_FIELD
from services.signing.pdf_verification import check_pdf
from tests.signing.conftest import RunningSigning, skd_request
from tests.signing.tampering import add_annotation

KECAMATAN_PAMANUKAN = "32.13.11"


def _appearance_text(sig: object) -> bytes:
    field = sig.sig_field  # type: ignore[attr-defined]
    data = bytes(field["/AP"]["/N"].get_object().data)
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), data)


def _sktm(application_id: str) -> IssueRequest:
    return skd_request(
        application_id,
        letter_type="SKTM",
        purpose="Persyaratan beasiswa",
        kecamatan_code=KECAMATAN_PAMANUKAN,
    )


async def _approved(signing: RunningSigning, application_id: str) -> bytes:
    issuer = signing.runtime.issuer
    await issuer.issue(_sktm(application_id))
    letter = await issuer.approve_at_kecamatan(
        KecamatanApproval(application_id, KECAMATAN_PAMANUKAN, "Pamanukan", "Drs. H. Asep")
    )
    assert letter.kecamatan_register and letter.kecamatan_approved_at is not None
    return await issuer.read_pdf(letter)


async def test_sktm_carries_the_kades_certification_and_the_camat_approval(
    signing: RunningSigning,
) -> None:
    issuer = signing.runtime.issuer
    pdf = await _approved(signing, "app-kec-1")
    letter = await issuer.find_issued("app-kec-1")
    assert letter is not None
    root = signing.runtime.signers.root_cert_asn1

    reader = PdfFileReader(BytesIO(pdf))
    signatures = [s for s in reader.embedded_signatures if s.sig_object_type != "/DocTimeStamp"]
    kades, camat = signatures
    assert kades.field_name == SIGNATURE_FIELD and camat.field_name == APPROVAL_FIELD
    # The certification allows form filling and signing (P=2), nothing more.
    assert kades.docmdp_level == MDPPerm.FILL_FORMS
    assert camat.docmdp_level is None  # an approval signature, not a second certification
    assert camat.signer_cert.subject.native["common_name"] == "Camat Pamanukan"
    assert camat.signer_cert.subject.native["organization_name"] == "Pemerintah Kecamatan Pamanukan"

    context = ValidationContext(trust_roots=[root])
    # One after the other: both read the same reader's stream.
    kades_status = await asyncio.to_thread(validate_pdf_signature, kades, context)
    camat_status = await asyncio.to_thread(validate_pdf_signature, camat, context)
    for status in (kades_status, camat_status):
        assert status.bottom_line
    # pyHanko's difference analysis: what came after the certification is form filling (the new
    # signature field) and LTA material, which DocMDP level 2 permits.
    assert kades_status.modification_level in (
        ModificationLevel.FORM_FILLING,
        ModificationLevel.LTA_UPDATES,
    )
    assert kades_status.docmdp_ok
    assert camat_status.timestamp_validity is not None  # B-LTA like the Kades' signature

    check = await asyncio.to_thread(check_pdf, pdf, root)
    assert check.signature_valid and check.trusted and check.intact and check.docmdp_ok
    assert check.long_term and not check.modified_after_signing
    assert check.conclusion == "valid"

    # The register number: the kecamatan's own sequence, printed in the camat's stamp.
    assert re.fullmatch(r"470/001/32\.13\.11/[IVX]+/\d{4}", letter.kecamatan_register)
    stamp = _appearance_text(camat)
    assert letter.kecamatan_register.encode() in stamp
    assert b"Mengetahui" in stamp and b"Camat Pamanukan" in stamp
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    annots = [a.get_object() for a in page.get("/Annots", [])]
    assert any(a.get("/T") == APPROVAL_FIELD for a in annots)  # the stamp is on the page


async def test_register_numbers_run_per_kecamatan_and_retries_keep_theirs(
    signing: RunningSigning,
) -> None:
    issuer = signing.runtime.issuer
    await _approved(signing, "app-kec-a")
    await _approved(signing, "app-kec-b")
    again = await issuer.approve_at_kecamatan(
        KecamatanApproval("app-kec-a", KECAMATAN_PAMANUKAN, "Pamanukan")
    )
    first = await issuer.find_issued("app-kec-a")
    second = await issuer.find_issued("app-kec-b")
    assert first is not None and second is not None
    assert again.kecamatan_register == first.kecamatan_register
    assert first.kecamatan_register.split("/")[1] == "001"
    assert second.kecamatan_register.split("/")[1] == "002"


async def test_a_change_after_the_approval_is_still_detected(signing: RunningSigning) -> None:
    pdf = add_annotation(await _approved(signing, "app-kec-tamper"))
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.modified_after_signing and check.conclusion == "invalid"


async def test_the_camat_of_another_kecamatan_cannot_approve(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    await issuer.issue(_sktm("app-kec-other"))
    with pytest.raises(IssueRefused, match="tidak termasuk kecamatan"):
        await issuer.approve_at_kecamatan(
            KecamatanApproval("app-kec-other", "32.13.01", "Sagalaherang")
        )
    await issuer.issue(skd_request("app-no-kec"))
    with pytest.raises(IssueRefused, match="tanpa langkah kecamatan"):
        await issuer.approve_at_kecamatan(
            KecamatanApproval("app-no-kec", KECAMATAN_PAMANUKAN, "Pamanukan")
        )


async def test_issuing_with_a_kecamatan_adds_the_camat_signature(signing: RunningSigning) -> None:
    """What the approval workflow asks for after desa and kecamatan steps: one IssueLetter with
    the kecamatan's code gives the letter with both signatures."""
    issuer = signing.runtime.issuer
    letter = await issuer.issue(_sktm("app-kec-issue"))
    assert letter.kecamatan_approved_at is not None and letter.kecamatan_register
    pdf = await issuer.read_pdf(letter)
    names = [s.field_name for s in PdfFileReader(BytesIO(pdf)).embedded_signatures]
    assert SIGNATURE_FIELD in names and APPROVAL_FIELD in names
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.conclusion == "valid"
    assert (
        await issuer.issue(_sktm("app-kec-issue"))
    ).kecamatan_register == letter.kecamatan_register


async def test_a_camat_without_an_installed_name_is_stamped_with_the_account_name(
    signing: RunningSigning,
) -> None:
    """The dev PKI's camat certificate (as a token's or BSrE's key) has no installed record, so
    no name kept with it: the stamp prints the camat account's name the caller sends."""
    issuer = signing.runtime.issuer
    request = _sktm("app-kec-account-name")
    letter = await issuer.issue(replace(request, camat_name="Drs. Ujang Suherman, M.Si."))
    pdf = await issuer.read_pdf(letter)
    reader = PdfFileReader(BytesIO(pdf))
    approval = next(s for s in reader.embedded_signatures if s.field_name == APPROVAL_FIELD)
    assert b"Drs. Ujang Suherman, M.Si." in _appearance_text(approval)
