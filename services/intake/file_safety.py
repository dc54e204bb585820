"""What an attachment really is, and the clean copy of it that is stored and shown to staff.

Every path that accepts a file (the resident API's one-shot and resumable uploads, the portal's
plain form, a walk-in filed at the desa office) goes through `make_safe`, so all of them keep
the same rules:

- the type comes from the content's first bytes (JPEG, PNG or PDF), never from a name or a
  claimed type, within `MAX_ATTACHMENT_BYTES`;
- a file that is also another format (a "polyglot": a JPEG that is also a ZIP or a PDF) is
  refused, whatever the format a viewer would pick;
- an image is decoded (refused when its header declares more than `MAX_IMAGE_PIXELS`, before
  any pixel is allocated), turned upright by its EXIF orientation and encoded anew: EXIF with
  GPS, XMP, ICC, comments, text chunks and anything after the image's end are not copied;
- a PDF is parsed with pyHanko's reader (already a dependency of signing, and since 0.38 it
  bounds how far any stream may inflate, so a deflate bomb in an object stream is refused,
  not inflated), refused when encrypted or when it carries JavaScript, automatic or launch
  actions, XFA forms or embedded files, and written anew from its catalogue: earlier
  revisions, unreferenced objects, the document information and XMP metadata are dropped.

The clean copy is what is stored; the original is never kept. The decoding runs on a small
pool of worker threads (Pillow and zlib release the GIL, so the event loop keeps answering),
with a bound on how long a request waits for it.
"""

import asyncio
import io
import logging
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# A 48-megapixel phone photo passes; what is above it is a mistake or an attack (a 30,000 ×
# 30,000 PNG would need 2.7 GB once decoded).
MAX_IMAGE_PIXELS = 50_000_000
# The most objects a PDF may hold in its catalogue's graph (a scanned document has tens).
MAX_PDF_OBJECTS = 100_000
# The most decoded bytes a PDF may produce while it is read (object and xref streams).
PDF_DECODE_BUDGET = 64 * 1024 * 1024
# How long a request waits for its file to be checked before it is refused.
CHECK_TIMEOUT_SECONDS = 30.0
JPEG_QUALITY = 90

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
ACCEPTED_TYPES = tuple(ct for _, ct in _SIGNATURES)
HEAD_BYTES = 16  # enough for every signature above

WRONG_TYPE = "Berkas harus berupa gambar JPEG, PNG, atau dokumen PDF."
POLYGLOT = (
    "Berkas ini sekaligus berisi format lain (mis. ZIP atau PDF di dalam gambar) dan tidak "
    "dapat diterima. Simpan ulang foto atau dokumennya, lalu unggah lagi."
)
BROKEN_IMAGE = "Gambar rusak atau tidak dapat dibaca. Foto ulang dokumennya, lalu unggah lagi."
BROKEN_PDF = "PDF rusak atau tidak dapat dibaca. Simpan ulang atau pindai lagi, lalu unggah."
ENCRYPTED_PDF = "PDF yang dikunci dengan kata sandi tidak dapat diterima. Buka kuncinya dulu."
PDF_SCRIPT = (
    "PDF berisi skrip (JavaScript) atau tindakan otomatis dan tidak dapat diterima. Cetak ke "
    "PDF atau pindai ulang dokumennya, lalu unggah lagi."
)
PDF_LAUNCH = (
    "PDF berisi perintah untuk membuka program atau berkas lain dan tidak dapat diterima. "
    "Cetak ke PDF atau pindai ulang dokumennya, lalu unggah lagi."
)
PDF_EMBEDDED = (
    "PDF berisi berkas lain di dalamnya (lampiran tersemat) dan tidak dapat diterima. Unggah "
    "setiap dokumen sebagai berkas tersendiri."
)
TOO_COMPLEX = (
    "Berkas terlalu rumit untuk diperiksa (isinya membengkak terlalu besar saat dibuka). "
    "Simpan ulang atau pindai lagi dengan ukuran lebih kecil, lalu unggah."
)
CHECK_TIMEOUT = (
    "Berkas tidak selesai diperiksa dalam batas waktu. Coba unggah lagi; bila tetap gagal, "
    "kirim foto atau PDF yang lebih kecil."
)


class InvalidAttachment(ValueError):
    """`str(exc)` is the Indonesian message; `status`, `code` and `field` say how to answer."""

    def __init__(self, message: str, *, status: int, code: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field


def _unsafe(message: str, code: str) -> InvalidAttachment:
    return InvalidAttachment(message, status=422, code=code, field="file")


def too_large_message(max_bytes: int = MAX_ATTACHMENT_BYTES) -> str:
    return f"Berkas terlalu besar: paling besar {max_bytes // (1024 * 1024)} MB."


def too_many_pixels_message(width: int, height: int) -> str:
    return (
        f"Gambar terlalu besar: {width} × {height} piksel, paling banyak "
        f"{MAX_IMAGE_PIXELS // 1_000_000} megapiksel. Perkecil fotonya, lalu unggah lagi."
    )


def sniff_content_type(head: bytes) -> str | None:
    """JPEG, PNG or PDF by signature; None for anything else."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def check_content(size: int, head: bytes) -> str:
    """The content type of a file of `size` bytes starting with `head`, or InvalidAttachment:
    the check that needs no decoding, made before a file is read (or while it arrives)."""
    if size > MAX_ATTACHMENT_BYTES:
        raise InvalidAttachment(too_large_message(), status=413, code="too-large", field="file")
    content_type = sniff_content_type(head)
    if content_type is None:
        raise InvalidAttachment(WRONG_TYPE, status=415, code="file-type", field="file")
    return content_type


@dataclass(frozen=True)
class SafeFile:
    content_type: str
    content: bytes  # the clean copy: what is stored and what staff are shown


# --- polyglots ------------------------------------------------------------------------------

# A ZIP reader looks for its end record in the last 64 KiB (+ the record itself).
_ZIP_TAIL = 65_535 + 22
_ZIP_END = b"PK\x05\x06"
# PDF readers accept their header within the first KiB and look for the end marker at the end.
_PDF_HEAD = 1024


def _check_polyglot(content: bytes, content_type: str) -> None:
    if _ZIP_END in content[-_ZIP_TAIL:]:
        raise _unsafe(POLYGLOT, "polyglot")
    if content_type != "application/pdf" and (
        b"%PDF-" in content[:_PDF_HEAD] or b"%%EOF" in content[-_PDF_HEAD:]
    ):
        raise _unsafe(POLYGLOT, "polyglot")


# --- images ---------------------------------------------------------------------------------

_PIL_FORMATS = {"image/jpeg": ("JPEG", "MPO"), "image/png": ("PNG",)}
# Modes each encoder writes as they are; anything else is converted first.
_JPEG_MODES = frozenset({"L", "RGB"})
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


def _clean_image(content: bytes, content_type: str) -> bytes:
    formats = _PIL_FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours is lower and checked just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=[formats[0]])
    except Image.DecompressionBombError as exc:
        raise _unsafe(too_many_pixels_message(*_declared_size(content)), "too-many-pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise _unsafe(BROKEN_IMAGE, "broken-image") from exc
    with image:
        if image.format not in formats:
            raise _unsafe(WRONG_TYPE, "file-type")
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:  # from the header: nothing decoded yet
            raise _unsafe(too_many_pixels_message(width, height), "too-many-pixels")
        try:
            image.load()
            return _encode(ImageOps.exif_transpose(image), content_type)
        except Exception as exc:
            # A decoder meeting a hostile file may raise nearly anything (struct.error,
            # IndexError …); each is the file's fault, never a reason for a 500.
            log.info("image refused as broken: %s", type(exc).__name__)
            raise _unsafe(BROKEN_IMAGE, "broken-image") from exc


def _declared_size(content: bytes) -> tuple[int, int]:
    """Width and height from a PNG header (what Pillow refused to open), else (0, 0)."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR":
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    return 0, 0


def _encode(image: Image.Image, content_type: str) -> bytes:
    """The pixels alone: of what the decoder read into `info` (EXIF, XMP, ICC, comments, PNG
    text) only a palette's transparency is kept."""
    transparency = image.info.get("transparency")
    image.info = {}
    out = io.BytesIO()
    if content_type == "image/jpeg":
        if image.mode not in _JPEG_MODES:
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        if image.mode not in _PNG_MODES:
            image = image.convert("RGBA")
        if transparency is not None and image.mode in ("P", "L", "RGB"):
            image.save(out, "PNG", transparency=transparency)
        else:
            image.save(out, "PNG")
    return out.getvalue()


# --- PDFs -----------------------------------------------------------------------------------


def _clean_pdf(content: bytes) -> bytes:
    # pyHanko's PDF reader and writer are loaded on the first PDF: about 6 MB the idle
    # service does not hold.
    from services.intake.pdf_cleaning import clean_pdf

    return clean_pdf(content)


# --- the one entry point --------------------------------------------------------------------


def clean(content: bytes) -> SafeFile:
    """The clean copy of `content`, or InvalidAttachment. CPU-bound: see `make_safe`."""
    content_type = check_content(len(content), content[:HEAD_BYTES])
    _check_polyglot(content, content_type)
    if content_type == "application/pdf":
        return SafeFile(content_type, _clean_pdf(content))
    return SafeFile(content_type, _clean_image(content, content_type))


# Two files checked at a time: decoding is bounded per file, and this bounds it per process.
_CHECKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="attachment-check")


async def make_safe(content: bytes) -> SafeFile:
    """`clean` off the event loop; InvalidAttachment when it refuses or takes too long."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await loop.run_in_executor(_CHECKERS, clean, content)
    except TimeoutError as exc:
        raise _unsafe(CHECK_TIMEOUT, "check-timeout") from exc
