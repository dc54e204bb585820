"""Ways to change a signed PDF, as a forger would."""

from io import BytesIO

from pyhanko.pdf_utils.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    TextStringObject,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader


def flip_byte_in_signed_range(pdf: bytes) -> bytes:
    """Flip one bit inside the first page content stream, which the signature covers."""
    sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    start, length = int(sig.sig_object["/ByteRange"][0]), int(sig.sig_object["/ByteRange"][1])
    offset = pdf.index(b"stream\n") + len(b"stream\n") + 10
    assert start <= offset < start + length
    altered = bytearray(pdf)
    altered[offset] ^= 0x01
    return bytes(altered)


def add_annotation(pdf: bytes, text: str = "PALSU") -> bytes:
    """An incremental update that writes text onto the first page (a FreeText annotation)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    annotation = writer.add_object(
        DictionaryObject(  # type: ignore[no-untyped-call]
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/FreeText"),
                NameObject("/Rect"): ArrayObject(
                    [FloatObject(v) for v in (100, 100, 300, 150)]  # type: ignore[no-untyped-call]
                ),
                NameObject("/Contents"): TextStringObject(text),
                NameObject("/DA"): TextStringObject("/Helv 12 Tf 0 g"),
            }
        )
    )
    page[NameObject("/Annots")] = ArrayObject([annotation])
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
