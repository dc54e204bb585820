"""PAdES signatures with pyHanko: a certification signature (DocMDP "no changes") so that any
later change to the letter is detected."""

from io import BytesIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

SIGNATURE_FIELD = "TTE"
SIGNATURE_REASON = "Tanda tangan elektronik surat keterangan"


def signature_metadata(location: str) -> signers.PdfSignatureMetadata:
    # PAdES B-B today. B-T/B-LTA come with a TSA: pass a shared TimeStamper to PdfSigner and
    # set embed_validation_info/use_pades_lta here; nothing else changes.
    return signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,  # /ETSI.CAdES.detached, not the adbe default
        md_algorithm="sha256",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason=SIGNATURE_REASON,
        location=location,
    )


def sign_pdf(pdf: bytes, signer: signers.Signer, location: str) -> bytes:
    """CPU-bound (tens of ms): call it off the event loop."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    out = BytesIO()
    signers.PdfSigner(signature_metadata(location), signer=signer).sign_pdf(writer, output=out)
    return out.getvalue()
