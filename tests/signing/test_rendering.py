import io
import json
import re
from datetime import UTC, datetime

import qrcode
import typst
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from common.wib import indonesian_date
from services.signing.catalogue.definition import load_seed
from services.signing.rendering import (
    LetterContent,
    build_document,
    qr_svg,
    typst_str,
)
from tests.signing.conftest import INJECTION, RunningSigning, skd_request
from tests.signing.pdf_text import page_texts, squeeze

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()


def _content(**changes: object) -> LetterContent:
    values: dict[str, object] = {
        "letter_type": LETTER_TYPES["SKD"],
        "number": "470/007/32.13.11.2004/XI/2026",
        "letter_date": datetime(2026, 11, 27, 20, 0, tzinfo=UTC),  # 28 Nov in WIB
        "desa": "Pamanukan",
        "kecamatan": "Pamanukan",
        "kabupaten": "Subang",
        "desa_address": "Jl. Raya Pamanukan No. 12",
        "kode_pos": "41254",
        "signer_title": "Kepala Desa",
        "signer_name": "Dadang Suhendar",
        "fields": {
            "nama": INJECTION,
            "tempat_lahir": "Subang",
            "tanggal_lahir": "1990-05-17",
            "alamat": "Dusun Krajan",
            "rt": "1",
            "rw": "02",
        },
        "nik": "3213115705900001",
        "purpose": INJECTION,
        "verification_url": "https://verifikasi.example.test/verifikasi/abc",
        **changes,
    }
    return LetterContent(**values)  # type: ignore[arg-type]


def test_indonesian_date() -> None:
    assert indonesian_date(datetime(2026, 11, 28).date()) == "28 November 2026"
    assert indonesian_date(datetime(2026, 8, 1).date()) == "1 Agustus 2026"


def test_typst_str_round_trips_through_typst() -> None:
    source = f"#metadata({typst_str(INJECTION + chr(10) + 'x')}) <v>".encode()
    value = typst.query(source, "<v>", field="value", one=True, format="json")
    assert json.loads(value) == INJECTION + "\nx"


def test_markup_in_values_is_printed_not_executed() -> None:
    doc = build_document(_content())
    assert INJECTION.encode() not in doc.source  # values never enter the Typst source
    pdf = typst.compile(doc.source, format="pdf", sys_inputs=doc.inputs)
    text = page_texts(pdf)
    assert len(text) == 1
    assert squeeze(f"Nama : {INJECTION}") in squeeze(text[0])
    assert squeeze(f"keperluan: {INJECTION}.") in squeeze(text[0])
    # The page background stays white: `#set page(fill: red)` did not run.
    svg = typst.compile(doc.source, format="svg", sys_inputs=doc.inputs)
    assert b'fill="#ff4136"' not in svg


def test_letter_content() -> None:
    doc = build_document(_content())
    text = page_texts(typst.compile(doc.source, format="pdf", sys_inputs=doc.inputs))[0]
    for expected in (
        "PEMERINTAH KABUPATEN SUBANG",
        "KECAMATAN PAMANUKAN",
        "DESA PAMANUKAN",
        "SURAT KETERANGAN DOMISILI",
        "Nomor: 470/007/32.13.11.2004/XI/2026",
        "Yang bertanda tangan di bawah ini, Kepala Desa Pamanukan, Kecamatan Pamanukan, "
        "Kabupaten Subang, menerangkan bahwa:",
        "Tempat/Tgl. Lahir : Subang, 17 Mei 1990",
        "NIK : 3213115705900001",
        "Alamat : Dusun Krajan, RT 001/RW 002",
        "adalah benar warga yang berdomisili di Desa Pamanukan",
        "Pamanukan, 28 November 2026",
        "Surat ini ditandatangani secara elektronik",
        "https://verifikasi.example.test/verifikasi/abc",
        "Dadang Suhendar",
    ):
        assert squeeze(expected) in squeeze(text), expected
    # The QR code is the signature stamp's; the letter only reserves its place.
    assert "qr_svg" not in doc.inputs and b"qr_svg" not in doc.source


async def test_issued_pdf_shows_number_and_injection_literally(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    letter = await issuer.issue(skd_request("app-inj", purpose=INJECTION))
    text = page_texts(await issuer.read_pdf(letter))
    assert len(text) == 1
    assert squeeze(f"Nomor: {letter.number}") in squeeze(text[0])
    assert squeeze(f"keperluan: {INJECTION}.") in squeeze(text[0])
    assert squeeze(issuer.verification_url(letter.verification_code)) in squeeze(text[0])


def test_qr_svg_draws_exactly_the_modules_of_the_code() -> None:
    url = "https://verifikasi.example.test/verifikasi/" + "A" * 27
    svg = qr_svg(url)
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=0)
    code.add_data(url)
    code.make(fit=True)
    expected = code.get_matrix()
    size = len(expected)
    assert f'viewBox="0 0 {size} {size}"' in svg
    drawn = [[False] * size for _ in range(size)]
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        for dx in range(int(width)):
            drawn[int(y)][int(x) + dx] = True
    assert drawn == expected
    # Version and error correction fit a verification URL with room to spare.
    assert code.version <= 5 and code.error_correction == ERROR_CORRECT_M


def _footer_lines(png: bytes, ppi: int, bottom_margin_cm: float) -> list[tuple[float, float]]:
    """Each text line in the page's bottom margin: (where its ink starts, its widest gap), in
    points."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    pixels = list(image.getdata())  # grey levels, row by row

    def dark(x: int, y: int) -> bool:
        return int(pixels[y * width + x]) < 128

    top = int(height - bottom_margin_cm / 2.54 * ppi)
    rows = [y for y in range(top, height) if any(dark(x, y) for x in range(width))]
    lines: list[list[int]] = []
    for y in rows:
        if lines and y == lines[-1][-1] + 1:
            lines[-1].append(y)
        else:
            lines.append([y])
    found = []
    for line in lines:
        cols = [x for x in range(width) if any(dark(x, y) for y in line)]
        gaps = [b - a for a, b in zip(cols, cols[1:], strict=False)]
        found.append((cols[0] * 72 / ppi, max(gaps) * 72 / ppi))
    return found


def test_the_footer_line_is_left_aligned_without_stretched_spaces() -> None:
    """The verification address cannot break, so a justified footer stretched the line before
    it into gaps, and a centred one wandered. Every footer line starts at the left margin
    (2.5 cm) and no space is wider than a space of its 7.5 pt type."""
    ppi = 144
    left_margin_pt = 2.5 / 2.54 * 72
    for code_length in (10, 40, 80):
        url = "https://verifikasi.subang.go.id/verifikasi/" + "A" * code_length
        doc = build_document(_content(verification_url=url))
        png = typst.compile(doc.source, format="png", ppi=ppi, sys_inputs=doc.inputs)
        lines = _footer_lines(png, ppi, bottom_margin_cm=2)
        assert lines, "no footer"
        for start, widest_gap in lines:
            assert abs(start - left_margin_pt) < 1.5, (code_length, lines)
            assert widest_gap < 4.5, (code_length, lines)
