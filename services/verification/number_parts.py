"""The letter number format as a village secretary builds it: labelled parts in order (kode
surat, nomor urut with its digits, kode desa, bulan romawi, tahun, a separator, free text)
instead of `{kode}/{seq:03d}/{desa_code}/{bulan_romawi}/{tahun}`. The profile still stores the
format string (signing numbers letters with it and checks it); these functions turn one into
the other, so every stored format comes back exactly as it was.

Pure: no I/O. The rules of a format (which fields it must hold) stay signing's."""

import string
from dataclasses import dataclass

# Kinds of part, in the order the form offers them, with the words staff read.
PLACEHOLDERS: dict[str, str] = {
    "kode": "Kode klasifikasi surat (mis. 400.12.2)",
    "seq": "Nomor urut surat",
    "desa_code": "Kode desa",
    "bulan_romawi": "Bulan dalam angka Romawi (mis. XII)",
    "bulan": "Bulan dalam angka (mis. 12)",
    "tahun": "Tahun (mis. 2026)",
    "jenis": "Jenis surat (mis. SKD)",
}
SEPARATORS: dict[str, str] = {
    "/": "Pemisah garis miring /",
    "-": "Pemisah strip -",
    ".": "Pemisah titik .",
}
TEXT = "teks"
UNUSED = ""
KIND_LABELS: dict[str, str] = {
    UNUSED: "(tidak dipakai)",
    **PLACEHOLDERS,
    **SEPARATORS,
    TEXT: "Teks bebas",
}
# Digits of the nomor urut: 0 is "as it comes" (7, 12, 123); 3 is 007.
DIGIT_LABELS: dict[int, str] = {
    0: "Tanpa nol di depan (7)",
    **{n: f"{n} angka ({7:0{n}d})" for n in range(2, 10)},
}
MAX_PARTS = 16


@dataclass(frozen=True)
class Part:
    kind: str  # a PLACEHOLDERS key, a SEPARATORS key, TEXT, or UNUSED
    text: str = ""  # the free text of a TEXT part
    digits: int = 3  # the nomor urut's width (seq only)


def _literal_parts(literal: str) -> list[Part]:
    """Text between fields: each separator character its own part, the rest free text."""
    parts: list[Part] = []
    run = ""
    for ch in literal:
        if ch in SEPARATORS:
            if run:
                parts.append(Part(TEXT, run))
                run = ""
            parts.append(Part(ch))
        else:
            run += ch
    if run:
        parts.append(Part(TEXT, run))
    return parts


def _digits_of(spec: str) -> int:
    width = spec.removesuffix("d").lstrip("0")
    return int(width) if width.isdigit() else 0


def parts_of(number_format: str) -> list[Part]:
    """The parts of a stored format. A format this cannot read (signing refuses such formats,
    so only by hand) comes back as one free-text part holding it as it is."""
    try:
        parsed = list(string.Formatter().parse(number_format))
    except ValueError:
        return [Part(TEXT, number_format)]
    parts: list[Part] = []
    for literal, name, spec, conversion in parsed:
        parts += _literal_parts(literal)
        if name is None:
            continue
        if name not in PLACEHOLDERS or conversion or (spec and name != "seq"):
            return [Part(TEXT, number_format)]
        parts.append(Part(name, digits=_digits_of(spec or "")) if name == "seq" else Part(name))
    return _merged(parts)


def _merged(parts: list[Part]) -> list[Part]:
    """Neighbouring free texts as one (the parser splits text at an escaped brace)."""
    out: list[Part] = []
    for p in parts:
        if p.kind == TEXT and out and out[-1].kind == TEXT:
            out[-1] = Part(TEXT, out[-1].text + p.text)
        else:
            out.append(p)
    return out


def format_of(parts: list[Part]) -> str:
    """The format string the parts make (UNUSED parts left out), e.g.
    [kode, /, seq(3), /, tahun] -> "{kode}/{seq:03d}/{tahun}"."""
    out: list[str] = []
    for p in parts:
        if p.kind == "seq":
            out.append(f"{{seq:0{p.digits}d}}" if p.digits > 1 else "{seq}")
        elif p.kind in PLACEHOLDERS:
            out.append(f"{{{p.kind}}}")
        elif p.kind in SEPARATORS:
            out.append(p.kind)
        elif p.kind == TEXT:
            out.append(p.text.replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def described(number_format: str) -> str:
    """The format in words, e.g. "Kode klasifikasi surat / Nomor urut (3 angka) / Tahun"."""
    words: list[str] = []
    for p in parts_of(number_format):
        if p.kind == "seq":
            words.append(f"Nomor urut ({p.digits} angka)" if p.digits > 1 else "Nomor urut")
        elif p.kind in PLACEHOLDERS:
            words.append(SHORT_NAMES[p.kind])
        elif p.kind in SEPARATORS:
            words.append(p.kind)
        elif p.kind == TEXT:
            words.append(f"“{p.text}”")
    return " ".join(words)


SHORT_NAMES = {
    "kode": "Kode klasifikasi surat",
    "desa_code": "Kode desa",
    "bulan_romawi": "Bulan Romawi",
    "bulan": "Bulan (angka)",
    "tahun": "Tahun",
    "jenis": "Jenis surat",
}


def in_words(message: str) -> str:
    """Signing's refusal of a format with the parts named as the builder names them: "wajib
    memuat {tahun}" becomes "wajib memuat bagian Tahun"."""
    for name, label in {**SHORT_NAMES, "seq": "Nomor urut surat"}.items():
        message = message.replace(f"{{{name}}}", f"bagian {label}")
    return message
