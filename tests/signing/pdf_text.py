"""Text of a PDF page as a reader would copy it: the text operators of the page's content
stream, decoded through each font's ToUnicode CMap. Enough for the PDFs typst writes (2-byte
glyph codes, one content stream per page), with no PDF-text library in the environment."""

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader

_HEX = r"<([0-9A-Fa-f]+)>"
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}


def _parse_cmap(data: bytes) -> dict[int, str]:
    text = data.decode("latin-1")
    cmap: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(rf"{_HEX}\s*{_HEX}", block):
            cmap[int(src, 16)] = bytes.fromhex(dst).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(rf"{_HEX}\s*{_HEX}\s*{_HEX}", block):
            base = int(dst, 16)
            for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                cmap[code] = chr(base + offset)
    return cmap


def _literal(data: bytes, i: int) -> tuple[bytes, int]:
    """A `( ... )` string starting at data[i] == '('; returns its bytes and the index after it."""
    out = bytearray()
    depth = 0
    i += 1
    while True:
        c = data[i]
        if c == ord("\\"):
            n = data[i + 1]
            if n in b"01234567":
                digits = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
                assert digits is not None
                out.append(int(digits.group(), 8) & 0xFF)
                i += 1 + len(digits.group())
                continue
            out.append(_ESCAPES.get(n, n))
            i += 2
            continue
        if c == ord("("):
            depth += 1
        elif c == ord(")"):
            if depth == 0:
                return bytes(out), i + 1
            depth -= 1
        out.append(c)
        i += 1


def _tokens(data: bytes) -> Iterator[tuple[str, Any]]:
    """("str", bytes) for strings, ("name", str), ("op", str); numbers and brackets skipped."""
    i = 0
    while i < len(data):
        c = data[i : i + 1]
        if c == b"(":
            s, i = _literal(data, i)
            yield "str", s
        elif data[i : i + 2] in (b"<<", b">>"):
            i += 2
        elif c == b"<":
            end = data.index(b">", i)
            yield "str", bytes.fromhex(data[i + 1 : end].decode())
            i = end + 1
        elif c == b"/":
            m = re.match(rb"/[^\s/\[\]()<>{}%]*", data[i:])
            assert m is not None
            yield "name", m.group().decode()
            i += len(m.group())
        elif c.isalpha() or c in (b"'", b'"'):
            m = re.match(rb"[A-Za-z'\"*]+", data[i:])
            assert m is not None
            yield "op", m.group().decode()
            i += len(m.group())
        else:
            i += 1


def page_texts(pdf: bytes) -> list[str]:
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    texts: list[str] = []
    for page_ref in reader.root["/Pages"]["/Kids"]:
        page = page_ref.get_object()
        fonts = page["/Resources"].get("/Font", {})
        cmaps = {str(name): _parse_cmap(fonts[name]["/ToUnicode"].data) for name in fonts}
        contents = page["/Contents"]
        data = b"\n".join(s.data for s in contents) if isinstance(contents, list) else contents.data
        out: list[str] = []
        cmap: dict[int, str] = {}
        last_name = ""
        pending: list[bytes] = []
        for kind, value in _tokens(data):
            if kind == "name":
                last_name = value
            elif kind == "str":
                pending.append(value)
            elif kind == "op":
                if value == "Tf":
                    cmap = cmaps.get(last_name, {})
                elif value in ("Tj", "TJ", "'", '"'):
                    for raw in pending:
                        out.extend(
                            cmap.get(int.from_bytes(raw[i : i + 2], "big"), "\ufffd")
                            for i in range(0, len(raw) - 1, 2)
                        )
                    out.append(" ")
                pending = []
        texts.append("".join(out))
    return texts


def squeeze(text: str) -> str:
    """Without whitespace: line breaks and word spacing are layout, not content."""
    return re.sub(r"\s+", "", text)
