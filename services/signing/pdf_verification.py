"""Checking an uploaded PDF: is it signed, is the signature intact and made under our root, and
was the document changed after signing. Pure and synchronous (pyHanko runs its own event loop
inside `validate_pdf_signature`): call it in a worker thread with a timeout."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Literal

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

Conclusion = Literal["valid", "invalid", "unsigned"]

# pyHanko logs certificate subjects (people's names, for real certificates) with tracebacks when
# an uploaded file fails validation. The outcome is in our answer; keep the names out of logs.
for _noisy in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)

# A PDF header may sit after some leading bytes (ISO 32000-1, 7.5.2, implementations tolerate
# up to 1024).
_PDF_MAGIC = b"%PDF-"
_HEADER_WINDOW = 1024

_ALLOWED_LATER_CHANGES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


class MalformedPdf(Exception):
    """The file claims to be a PDF but cannot be read as one."""


def looks_like_pdf(head: bytes) -> bool:
    return _PDF_MAGIC in head[:_HEADER_WINDOW]


@dataclass(frozen=True)
class SignatureCheck:
    sha256: str
    signed: bool
    signature_valid: bool
    trusted: bool
    intact: bool
    modified_after_signing: bool
    modification_level: str | None
    docmdp_ok: bool | None
    signer: str | None
    signed_at: datetime | None

    @property
    def conclusion(self) -> Conclusion:
        if not self.signed:
            return "unsigned"
        ok = self.signature_valid and self.intact and self.trusted
        return "valid" if ok and not self.modified_after_signing else "invalid"

    def message(self) -> str:
        """One sentence a resident can read."""
        if not self.signed:
            return "Dokumen ini tidak memiliki tanda tangan elektronik."
        if not self.intact or not self.signature_valid:
            return (
                "Tanda tangan elektronik tidak cocok dengan isi dokumen: dokumen ini rusak atau "
                "telah diubah, sehingga tidak dapat dianggap asli."
            )
        if self.modified_after_signing:
            return (
                "Tanda tangan elektronik utuh, tetapi dokumen ini telah diubah setelah "
                "ditandatangani, sehingga isinya tidak dapat dianggap asli."
            )
        if not self.trusted:
            return (
                "Tanda tangan elektronik utuh, tetapi sertifikat penandatangan tidak diterbitkan "
                "oleh otoritas yang dipercaya layanan ini."
            )
        return (
            "Tanda tangan elektronik sah, dibuat dengan sertifikat yang dipercaya, dan dokumen "
            "tidak diubah setelah ditandatangani."
        )


def _signer_name(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    name: str = cert.subject.human_friendly
    return name


def check_pdf(data: bytes, root: asn1_x509.Certificate) -> SignatureCheck:
    """Raises MalformedPdf if the file cannot be parsed."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise MalformedPdf(str(exc)) from exc
    if not embedded:
        return SignatureCheck(digest, False, False, False, False, False, None, None, None, None)
    # The first signature is the certification signature that covers the letter as issued;
    # every later signature must hold too.
    first, *later = embedded
    try:
        statuses = [
            validate_pdf_signature(sig, ValidationContext(trust_roots=[root]))
            for sig in (first, *later)
        ]
    except (PdfError, ValueError, KeyError, TypeError):
        # Broken signature structures (pyHanko's errors derive from these): not a valid
        # signature. Anything else is our bug and must surface, not read as "invalid".
        return SignatureCheck(digest, True, False, False, False, True, None, None, None, None)
    status = statuses[0]
    level = status.modification_level
    return SignatureCheck(
        sha256=digest,
        signed=True,
        signature_valid=all(s.valid and s.intact for s in statuses),
        trusted=all(s.trusted for s in statuses),
        intact=all(s.intact for s in statuses),
        modified_after_signing=level not in _ALLOWED_LATER_CHANGES
        or any(s.docmdp_ok is False for s in statuses),
        modification_level=level.name if level is not None else None,
        docmdp_ok=status.docmdp_ok,
        signer=_signer_name(status.signing_cert),
        signed_at=status.signer_reported_dt,
    )
