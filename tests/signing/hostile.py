"""PDFs an attacker would upload to the public verification endpoint, written by hand."""

import zlib


def pdf_of(objects: list[bytes], root: int = 1, xref_stream: bytes | None = None) -> bytes:
    """A PDF with the given objects (numbered from 1) and a classic xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        start,
    )
    return bytes(out)


def catalog(extra: bytes = b"") -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]


def deeply_nested(depth: int = 200_000) -> bytes:
    """An array nested `depth` levels deep in the catalog: recursive parsers overflow."""
    return pdf_of(catalog(b"/Deep " + b"[" * depth + b"]" * depth))


def _inflating_to(expanded_bytes: int, head: bytes = b"", fill: bytes = b"\0") -> bytes:
    """zlib data inflating to `head` then `fill` repeated, about `expanded_bytes` in all. Built
    from one compressed block repeated (full flushes make blocks independent), so making a
    gigabyte bomb costs milliseconds; the checksum at the end does not match, which a decoder
    only learns after inflating everything."""
    compressor = zlib.compressobj(9)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    chunk = fill * (1024 * 1024 // len(fill))
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start + block * (expanded_bytes // len(chunk)) + compressor.flush()


def _pdf_with_xref_stream(objects: list[bytes], compressed: dict[int, tuple[int, int]]) -> bytes:
    """Objects 1..n written in the file, plus objects that live in object streams
    (`compressed`: number -> (stream object number, index)), found through an xref stream."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number, body in enumerate(objects, start=1):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_number = max([len(objects), *compressed]) + 1
    size = xref_number + 1
    offsets[xref_number] = len(out)
    rows = bytearray(b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big"))
    for number in range(1, size):
        if number in offsets:
            rows += b"\x01" + offsets[number].to_bytes(4, "big") + (0).to_bytes(2, "big")
        elif number in compressed:
            stream, index = compressed[number]
            rows += b"\x02" + stream.to_bytes(4, "big") + index.to_bytes(2, "big")
        else:
            rows += b"\x00" + (0).to_bytes(4, "big") + (0).to_bytes(2, "big")
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % (xref_number, size, len(rows))
        + bytes(rows)
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[xref_number]
    return bytes(out)


def object_stream_bomb(expanded_bytes: int = 4 * 1024**3) -> bytes:
    """The AcroForm (where signatures are looked up) lives in an object stream that inflates
    to gigabytes: the reader must inflate it to read the form."""
    first = b"5 0 "
    data = _inflating_to(expanded_bytes, first + b"<< /Fields [] >>")
    objects = catalog(b"/AcroForm 5 0 R")
    objects.append(
        b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(first), len(data))
        + data
        + b"\nendstream"
    )
    return _pdf_with_xref_stream(objects, {5: (4, 0)})


def huge_object_stream(count: int = 20_000_000) -> bytes:
    """An object stream whose header lists millions of objects (small on the wire, inflated)."""
    header_bytes = count * len(b"5 0 ")
    data = _inflating_to(header_bytes, fill=b"5 0 ")
    objects = catalog(b"/AcroForm 5 0 R")
    objects.append(
        b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (count, header_bytes, len(data))
        + data
        + b"\nendstream"
    )
    return _pdf_with_xref_stream(objects, {5: (4, 0)})


def garbage_after_header(size: int = 200_000) -> bytes:
    return b"%PDF-1.7\n" + bytes(range(256)) * (size // 256)
