"""Checking an uploaded PDF: is it signed, is the signature intact and made under our root, is
it timestamped, and was the document changed after signing.

`check_pdf` is pure and synchronous. Uploads are hostile until proven otherwise, so the service
runs it through `PdfChecker`: each upload in a fresh process forked from a preloaded server,
with an address-space and CPU limit and a wall-clock timeout after which it is killed. A PDF
bomb, a deeply nested object graph or a parser bug costs that process, never the service."""

import asyncio
import hashlib
import logging
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from multiprocessing.connection import Connection
from typing import Any, Literal

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from services.signing.pades import APPROVAL_FIELD
from services.signing.processes import forkserver_context

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


def _allowed_later(status: Any) -> bool:
    """After the certification: nothing, LTA material, or the camat's approval signature in the
    field the certification reserved for it (pades.APPROVAL_FIELD), nothing else."""
    level = status.modification_level
    if level in _ALLOWED_LATER_CHANGES:
        return True
    changed = getattr(status.diff_result, "changed_form_fields", None)
    return (
        level == ModificationLevel.FORM_FILLING
        and changed is not None
        and (set(changed) <= {APPROVAL_FIELD})
    )


class MalformedPdf(Exception):
    """The file claims to be a PDF but cannot be read as one."""


class TooComplex(Exception):
    """Checking the file needed more memory or time than an upload is allowed."""


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
    # The signature timestamp (PAdES B-T and up): when a TSA saw the signature, and whether
    # the timestamp token is valid and from a trusted TSA.
    timestamped_at: datetime | None = None
    timestamp_valid: bool | None = None
    # A document timestamp after the signature with validation data in the DSS (B-LTA).
    long_term: bool = False

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


def _context(roots: list[asn1_x509.Certificate], crls: Sequence[bytes]) -> ValidationContext:
    return ValidationContext(
        trust_roots=roots,
        crls=[asn1_crl.CertificateList.load(c) for c in crls],
        allow_fetching=False,  # an upload must not make us fetch URLs it names
    )


def check_pdf(
    data: bytes,
    root: asn1_x509.Certificate | list[asn1_x509.Certificate],
    crls: Sequence[bytes] = (),
) -> SignatureCheck:
    """Raises MalformedPdf if the file cannot be parsed."""
    roots = root if isinstance(root, list) else [root]
    digest = hashlib.sha256(data).hexdigest()
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        raise MalformedPdf(str(exc)) from exc
    signatures = [s for s in embedded if s.sig_object_type != "/DocTimeStamp"]
    doc_timestamps = [s for s in embedded if s.sig_object_type == "/DocTimeStamp"]
    if not signatures:
        return SignatureCheck(digest, False, False, False, False, False, None, None, None, None)
    # The first signature is the certification signature that covers the letter as issued;
    # every later signature and document timestamp must hold too.
    try:
        statuses = [validate_pdf_signature(sig, _context(roots, crls)) for sig in signatures]
        ts_statuses = [
            validate_pdf_timestamp(ts, validation_context=_context(roots, crls))
            for ts in doc_timestamps
        ]
    except (PdfError, ValueError, KeyError, TypeError):
        # Broken signature structures (pyHanko's errors derive from these): not a valid
        # signature. Anything else is our bug and must surface, not read as "invalid".
        return SignatureCheck(digest, True, False, False, False, True, None, None, None, None)
    status = statuses[0]
    level = status.modification_level
    ts_validity = status.timestamp_validity
    docs_ok = all(t.valid and t.intact and t.trusted for t in ts_statuses)
    return SignatureCheck(
        sha256=digest,
        signed=True,
        signature_valid=all(s.valid and s.intact for s in statuses)
        and all(t.valid and t.intact for t in ts_statuses),
        trusted=all(s.trusted for s in statuses) and docs_ok,
        intact=all(s.intact for s in statuses) and all(t.intact for t in ts_statuses),
        modified_after_signing=not _allowed_later(status)
        or any(s.docmdp_ok is False for s in statuses),
        modification_level=level.name if level is not None else None,
        docmdp_ok=status.docmdp_ok,
        signer=_signer_name(status.signing_cert),
        signed_at=status.signer_reported_dt,
        timestamped_at=ts_validity.timestamp if ts_validity is not None else None,
        timestamp_valid=(ts_validity.valid and ts_validity.intact and ts_validity.trusted)
        if ts_validity is not None
        else None,
        long_term=bool(doc_timestamps) and docs_ok and "/DSS" in reader.root,
    )


# The child's answer: ("ok", SignatureCheck) | ("malformed", text) | ("too-complex", text).
_Answer = tuple[str, object]


def _child(
    conn: Connection,
    data: bytes,
    roots: list[bytes],
    crls: list[bytes],
    memory_limit: int,
    cpu_seconds: int,
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    answer: _Answer
    try:
        certs = [asn1_x509.Certificate.load(r) for r in roots]
        answer = ("ok", check_pdf(data, certs, crls))
    except MalformedPdf:
        answer = ("malformed", "")
    except (MemoryError, RecursionError):
        answer = ("too-complex", "")
    except Exception as exc:  # a parser bug on hostile input: refuse, keep the type only
        answer = ("malformed", type(exc).__name__)
    try:
        conn.send(answer)
    finally:
        conn.close()


class PdfChecker:
    """Runs `check_pdf` in a fresh, limited process per upload, a few at a time."""

    def __init__(
        self,
        roots: list[asn1_x509.Certificate],
        *,
        timeout_seconds: float,
        memory_limit_bytes: int,
        concurrency: int,
    ) -> None:
        self._roots = [r.dump() for r in roots]
        self._timeout = timeout_seconds
        self._memory = memory_limit_bytes
        self._slots = asyncio.Semaphore(concurrency)
        self._ctx = forkserver_context()

    async def check(self, data: bytes, crls: list[bytes]) -> SignatureCheck:
        """Raises MalformedPdf, TooComplex (also on timeout)."""
        async with self._slots:
            return await asyncio.to_thread(self._run, data, crls)

    def _run(self, data: bytes, crls: list[bytes]) -> SignatureCheck:
        receiver, sender = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_child,
            args=(sender, data, self._roots, crls, self._memory, int(self._timeout) + 1),
            daemon=True,
        )
        process.start()
        sender.close()
        try:
            if not receiver.poll(self._timeout):
                raise TooComplex("timeout")
            try:
                kind, value = receiver.recv()
            except EOFError:  # the child died: killed by a limit
                raise TooComplex("worker died") from None
        finally:
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join()
        if kind == "ok":
            assert isinstance(value, SignatureCheck)
            return value
        if kind == "too-complex":
            raise TooComplex("limit")
        raise MalformedPdf(str(value))
