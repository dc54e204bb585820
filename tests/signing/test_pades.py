import asyncio
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm

from services.signing.pdf_verification import check_pdf
from services.signing.pki import SignerRegistry, ensure_dev_pki
from services.signing.seed import dev_signers
from tests.signing.conftest import RunningSigning, skd_request
from tests.signing.tampering import add_annotation, flip_byte_in_signed_range


async def _issued_pdf(signing: RunningSigning, application_id: str = "app-sig") -> bytes:
    issuer = signing.runtime.issuer
    return await issuer.read_pdf(await issuer.issue(skd_request(application_id)))


async def test_issued_letter_is_a_valid_certified_pades_signature(signing: RunningSigning) -> None:
    pdf = await _issued_pdf(signing)
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert (check.signed, check.signature_valid, check.trusted, check.intact) == (
        True,
        True,
        True,
        True,
    )
    assert not check.modified_after_signing and check.docmdp_ok
    assert check.conclusion == "valid"
    assert check.signer is not None and "Kepala Desa Pamanukan" in check.signer

    reader = PdfFileReader(BytesIO(pdf))
    (sig,) = reader.embedded_signatures
    assert sig.field_name == "TTE"
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.docmdp_level == MDPPerm.NO_CHANGES  # a certification signature
    assert "/DocMDP" in reader.root["/Perms"]
    assert sig.signer_cert.subject.native["common_name"] == "Kepala Desa Pamanukan"


async def test_byte_flip_breaks_the_signature(signing: RunningSigning) -> None:
    pdf = flip_byte_in_signed_range(await _issued_pdf(signing))
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.signed and not check.intact and not check.signature_valid
    assert check.conclusion == "invalid"


async def test_incremental_update_is_detected(signing: RunningSigning) -> None:
    pdf = add_annotation(await _issued_pdf(signing))
    check = await asyncio.to_thread(check_pdf, pdf, signing.runtime.signers.root_cert_asn1)
    assert check.intact and check.signature_valid  # the signed revision itself is untouched
    assert check.modified_after_signing and check.docmdp_ok is False
    assert check.modification_level == "OTHER"
    assert check.conclusion == "invalid"


async def test_a_signature_under_another_root_is_not_trusted(
    signing: RunningSigning, tmp_path: Path
) -> None:
    other = tmp_path / "other-pki"
    ensure_dev_pki(other, dev_signers())
    foreign_root = SignerRegistry.load(other).root_cert_asn1
    check = await asyncio.to_thread(check_pdf, await _issued_pdf(signing), foreign_root)
    assert check.intact and not check.trusted
    assert check.conclusion == "invalid"
