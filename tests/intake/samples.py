"""Small real files for upload tests, made here so no binary fixtures live in the repo."""

import base64
import io
import struct
import zipfile
import zlib

from PIL import ExifTags, Image

from scripts.journey import sample_pdf, sample_png
from tests.signing import hostile

# A 16x16 JFIF JPEG: CPython's Lib/test/imghdrdata/python.jpg (PSF licence).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsO"
    "CwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAA"
    "BwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/E"
    "ACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPk"
    "JWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kq"
    "cWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9"
    "XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KO"
    "p1KM6iCNvngZHwetf//Z"
)

# Real PNG and PDF bytes, the same the smoke test and the end-to-end journey upload.
png = sample_png
pdf = sample_pdf


def padded_pdf(size: int, fill: bytes = b"0") -> bytes:
    """A real one-page PDF of exactly `size` bytes: the padding is its one stream (`fill`
    repeated), which the catalogue refers to, so a clean copy keeps it."""
    pad = size

    def build(n: int) -> bytes:
        # `fill` repeated to n bytes (not `fill * n`: a 4 KiB fill would make gigabytes first)
        body = (fill * (n // len(fill) + 1))[:n]
        padding = b"<< /Length %d >>\nstream\n" % n + body + b"\nendstream"
        return pdf_with(b"/Padding 4 0 R", padding)

    for _ in range(5):  # the /Length and xref digits settle within a few rounds
        built = build(pad)
        if len(built) == size:
            return built
        pad += size - len(built)
    raise AssertionError(f"no PDF of exactly {size} bytes")


def padding_of(pdf: bytes) -> bytes:
    """The bytes of the one stream of a `padded_pdf`."""
    return pdf[pdf.index(b"stream\n") + 7 : pdf.rindex(b"\nendstream")]


def pdf_with(catalog_extra: bytes = b"", *objects: bytes) -> bytes:
    """A one-page PDF whose catalogue has `catalog_extra`; `objects` are numbered from 4."""
    return hostile.pdf_of([*hostile.catalog(catalog_extra), *objects])


def photo(
    width: int = 40, height: int = 20, *, exif: Image.Exif | None = None, fmt: str = "JPEG"
) -> bytes:
    """A phone photo: left half dark, right half light (so turning it shows), with `exif`."""
    image = Image.new("RGB", (width, height), (30, 30, 30))
    image.paste((230, 230, 230), (width // 2, 0, width, height))
    out = io.BytesIO()
    image.save(out, fmt, exif=exif if exif is not None else Image.Exif())
    return out.getvalue()


def gps_exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: make and model, orientation, and where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Samsung"
    exif[ExifTags.Base.Model] = "Galaxy A15"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "S",
            ExifTags.GPS.GPSLatitude: (6.0, 19.0, 30.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (107.0, 49.0, 12.0),
        }
    )
    return exif


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header declares `width` × `height` (RGB), with whatever IDAT is given."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Author\x00Ani Suryani")
        + chunk(b"IDAT", idat or zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def png_bomb(side: int = 20_000) -> bytes:
    """A PNG of `side` × `side` black pixels: well under a MB that decodes to gigabytes. All
    its rows are zeros (filter byte included), so one compressed MB of zeros, repeated (full
    flushes make the blocks independent), is its image data."""
    raw_size = side * (side * 3 + 1)
    compressor = zlib.compressobj(9)
    megabyte = 1024 * 1024
    start = compressor.compress(b"\0") + compressor.flush(zlib.Z_FULL_FLUSH)  # + zlib header
    block = compressor.compress(b"\0" * megabyte) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(raw_size - 1, megabyte)
    end = compressor.compress(b"\0" * rest) + compressor.flush()
    # The checksum at the end is the compressor's, for one block only: a decoder that
    # inflated everything learns the file is broken, one that refuses first never does.
    return png_declaring(side, side, start + block * blocks + end)


def zip_of(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, content)
    return out.getvalue()
