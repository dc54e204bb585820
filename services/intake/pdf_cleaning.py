"""The PDF half of the attachment checks (services/intake/file_safety.py): refuse scripts,
launch actions, embedded files, encryption and decompression bombs; keep a clean copy without
metadata. A module of its own so that pyHanko is imported on the first PDF, not at start."""

import io
import logging

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer

from services.intake.file_safety import (
    BROKEN_PDF,
    ENCRYPTED_PDF,
    MAX_PDF_OBJECTS,
    PDF_DECODE_BUDGET,
    PDF_EMBEDDED,
    PDF_LAUNCH,
    PDF_SCRIPT,
    TOO_COMPLEX,
    InvalidAttachment,
    _unsafe,
)

log = logging.getLogger(__name__)

# Actions that run code or reach outside the document (a plain link, /URI, or a jump within
# the document, /GoTo, is fine).
_SCRIPT_ACTIONS = frozenset({"/JavaScript", "/Rendition", "/RichMediaExecute", "/SubmitForm"})
_LAUNCH_ACTIONS = frozenset({"/Launch", "/ImportData", "/GoToE"})
# Keys that only a script or an automatic action brings along.
_SCRIPT_KEYS = frozenset({"/JS", "/JavaScript", "/AA", "/XFA"})
# Keys and types that carry a file inside the PDF.
_EMBEDDED_KEYS = frozenset({"/EmbeddedFiles", "/EF"})
_EMBEDDED_TYPES = frozenset({"/EmbeddedFile"})
_EMBEDDED_SUBTYPES = frozenset({"/FileAttachment", "/RichMedia"})

_PDF_LIMITS = DecodeLimits(
    document_budget=DocumentDecodeBudget(base_allowance=PDF_DECODE_BUDGET, max_ratio=1)
)


def _refusal_for(entry: generic.DictionaryObject) -> InvalidAttachment | None:
    keys = set(entry.keys())
    if keys & _SCRIPT_KEYS:
        return _unsafe(PDF_SCRIPT, "pdf-script")
    if keys & _EMBEDDED_KEYS:
        return _unsafe(PDF_EMBEDDED, "pdf-embedded-file")
    action = entry.raw_get("/S") if "/S" in entry else None
    if action in _SCRIPT_ACTIONS:
        return _unsafe(PDF_SCRIPT, "pdf-script")
    if action in _LAUNCH_ACTIONS:
        return _unsafe(PDF_LAUNCH, "pdf-launch")
    kind = entry.raw_get("/Type") if "/Type" in entry else None
    subtype = entry.raw_get("/Subtype") if "/Subtype" in entry else None
    if kind in _EMBEDDED_TYPES or subtype in _EMBEDDED_SUBTYPES:
        return _unsafe(PDF_EMBEDDED, "pdf-embedded-file")
    return None


def _check_pdf_graph(root: generic.PdfObject) -> None:
    """Walks every object the catalogue reaches (what a viewer could act on, and what the
    clean copy keeps); refuses on the first dangerous one."""
    pending: list[generic.PdfObject] = [root]
    seen: set[tuple[int, int]] = set()
    visited = 0
    while pending:
        node = pending.pop()
        if isinstance(node, generic.IndirectObject):
            key = (node.idnum, node.generation)
            if key in seen:
                continue
            seen.add(key)
            node = node.get_object()  # type: ignore[no-untyped-call]
        visited += 1
        if visited > MAX_PDF_OBJECTS:
            raise _unsafe(TOO_COMPLEX, "too-complex")
        if isinstance(node, generic.DictionaryObject):  # streams too: their dictionary
            refusal = _refusal_for(node)
            if refusal is not None:
                raise refusal
            pending.extend(node.raw_get(k) for k in node.keys())
        elif isinstance(node, generic.ArrayObject):
            pending.extend(node.raw_get(i) for i in range(len(node)))


def clean_pdf(content: bytes) -> bytes:
    try:
        reader = PdfFileReader(io.BytesIO(content), strict=False, decode_limits=_PDF_LIMITS)
        if reader.encrypted:
            raise _unsafe(ENCRYPTED_PDF, "pdf-encrypted")
        root = reader.root
        _check_pdf_graph(root)
        # XMP metadata (author, software, sometimes a location) stays behind, as the
        # document information does (the writer starts its own).
        if "/Metadata" in root:
            del root["/Metadata"]
        writer = copy_into_new_writer(reader, writer_kwargs={"info": None})
        out = io.BytesIO()
        writer.write(out)  # type: ignore[no-untyped-call]
        return out.getvalue()
    except PdfDecodeLimitError as exc:
        raise _unsafe(TOO_COMPLEX, "too-complex") from exc
    except InvalidAttachment:
        raise
    except Exception as exc:
        # A malformed file surfaces as nearly anything from deep in the parser (PdfError,
        # KeyError, RecursionError …); each is the file's fault, never a reason for a 500.
        log.info("PDF refused as broken: %s", type(exc).__name__)
        raise _unsafe(BROKEN_PDF, "broken-pdf") from exc
