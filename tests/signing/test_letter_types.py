"""Every letter type renders from its template on both papers, prints what the resident filled
in, and agrees with the form intake asks for; desa data (kode, number format, paper, officials)
shapes the issued letter."""

from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing.catalogue.blocks import placeholders
from services.signing.catalogue.definition import load_seed
from services.signing.composition import signature_of_letter
from services.signing.issuing import IssueRefused
from services.signing.models import DesaOfficial, DesaProfile
from services.signing.rendering import LetterContent, render_letter
from tests.intake.test_letter_types import ALL_TYPES, VALID_FORMS
from tests.signing.conftest import PAMANUKAN, RANCASARI, RunningSigning, skd_request
from tests.signing.pdf_text import page_texts, squeeze

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()

LOGO = Path(__file__).parents[2] / "services/signing/templates/assets/logo-dev.svg"
# Fields printed through {surat.tujuan} and the penduduk.* values (made of several fields).
USED_OUTSIDE_ROWS = {
    "instansi_tujuan",
    "alamat",
    "rt",
    "rw",
    "tempat_lahir",
    "tanggal_lahir",
}
MM = 72 / 25.4  # PDF points per millimetre


def _content(code: str, paper: str, **changes: object) -> LetterContent:
    values: dict[str, object] = {
        "letter_type": LETTER_TYPES[code],
        "number": f"{LETTER_TYPES[code].kode_klasifikasi}/012/32.13.11.2004/XI/2026",
        "letter_date": datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        "desa": "Pamanukan",
        "kecamatan": "Pamanukan",
        "kabupaten": "Subang",
        "desa_address": "Jl. Raya Pamanukan No. 12",
        "kode_pos": "41254",
        "signer_title": "Kepala Desa",
        "signer_name": "Dadang Suhendar",
        "fields": {**VALID_FORMS[code], "rt": "3", "pekerjaan": "Petani"},
        "nik": "3213115705900001",
        "purpose": "Persyaratan administrasi",
        "verification_url": "https://verifikasi.example.test/verifikasi/abc",
        "paper": paper,
        "logo": LOGO,
        "addressee": "Yang berkepentingan",
        **changes,
    }
    return LetterContent(**values)  # type: ignore[arg-type]


def test_the_ten_types_exist_in_intake_and_signing() -> None:
    assert set(LETTER_TYPES) >= set(ALL_TYPES)
    versions = [lt.template_version for lt in LETTER_TYPES.values()]
    assert len(set(versions)) == len(versions)
    assert all(lt.template_version.startswith(lt.code + "-") for lt in LETTER_TYPES.values())


def _printed(code: str) -> set[str]:
    lt = LETTER_TYPES[code]
    texts = [t for b in lt.body for t in (b.text, *b.items, *(r.value for r in b.rows)) if t]
    return {name for text in texts for name in placeholders(text) if "." not in name}


def _labels(code: str) -> list[str]:
    return [row.label for block in LETTER_TYPES[code].body for row in block.rows]


@pytest.mark.parametrize("code", ALL_TYPES)
def test_templates_print_what_intake_asks_for(code: str) -> None:
    # Intake asks for the catalogue's fields (services/intake/catalogue.py).
    asked = {f.name for f in LETTER_TYPES[code].fields}
    printed = _printed(code)
    assert printed <= asked, printed - asked
    assert asked - printed <= USED_OUTSIDE_ROWS, asked - printed - USED_OUTSIDE_ROWS


@pytest.mark.parametrize("paper", ["F4", "A4"])
@pytest.mark.parametrize("code", ALL_TYPES)
def test_every_type_renders_on_one_page_of_either_paper(code: str, paper: str) -> None:
    lt = LETTER_TYPES[code]
    content = _content(code, paper)
    pdf = render_letter(content)
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    box = [float(v) for v in reader.root["/Pages"]["/Kids"][0].get_object()["/MediaBox"]]
    width, height = (box[2] - box[0]) / MM, (box[3] - box[1]) / MM
    assert (round(width), round(height)) == ((215, 330) if paper == "F4" else (210, 297))
    texts = page_texts(pdf)
    # One page of letter, then one per Dukcapil form the type attaches.
    assert len(texts) == 1 + len(lt.forms), f"{code} on {paper} takes {len(texts)} pages"
    text = squeeze(texts[0])
    for expected in (
        "PEMERINTAH KABUPATEN SUBANG",
        "DESA PAMANUKAN",
        lt.title,
        f"Nomor: {content.number}",
        "Persyaratan administrasi",
        "Pamanukan, 28 November 2026",
        "Dadang Suhendar",
        *_labels(code),
        *(v for k, v in VALID_FORMS[code].items() if k in {"nama", "nama_usaha", "nama_anak"}),
    ):
        assert squeeze(expected) in text, (code, expected)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SKP", "Penghasilan per Bulan : Rp 1.500.000,-"),
        ("SKL", "Hari, Tanggal Lahir : Minggu, 1 November 2026"),
        ("SKL", "Pukul : 08:30 WIB"),
        ("SKK", "Hari, Tanggal : Minggu, 1 November 2026"),
        ("SKK", "Jenis Kelamin : Laki-laki"),
        ("SPCK", "Status Perkawinan : Belum Kawin"),
        ("SPCK", "kepada Yang berkepentingan"),
        ("SP", "Keterangan: Mengurus pindah sekolah"),
        ("SKU", "Alamat : Dusun Krajan, RT 003"),
    ],
)
def test_values_are_written_the_indonesian_way(code: str, expected: str) -> None:
    text = page_texts(render_letter(_content(code, "F4")))[0]
    assert squeeze(expected) in squeeze(text)


def test_signature_block_a_n_and_plt() -> None:
    on_behalf = _content(
        "SKD", "F4", signer_title="Sekretaris Desa", signer_name="Asep", authority="Kepala Desa"
    )
    text = squeeze(page_texts(render_letter(on_behalf))[0])
    assert squeeze("a.n. Kepala Desa Pamanukan Sekretaris Desa") in text
    assert squeeze("Yang bertanda tangan di bawah ini, Kepala Desa Pamanukan") in text
    plt = _content("SKD", "F4", signer_title="Plt. Kepala Desa", signer_name="Asep")
    text = squeeze(page_texts(render_letter(plt))[0])
    assert squeeze("Plt. Kepala Desa Pamanukan") in text and "a.n." not in text


async def _set_profile(signing: RunningSigning, code: str, **values: object) -> None:
    async with signing.runtime.sessions() as session:
        profile = await session.get(DesaProfile, code)
        assert profile is not None
        for key, value in values.items():
            setattr(profile, key, value)
        session.add(profile)
        await session.commit()


async def test_desa_kode_and_number_format_shape_the_number(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    await _set_profile(
        signing,
        PAMANUKAN,
        kode_klasifikasi={"SKD": "470"},
        number_format="{kode}/{seq:04d}/{jenis}/Ds.Pmk/{bulan}/{tahun}",
    )
    first = await issuer.issue(skd_request("fmt-1"))
    second = await issuer.issue(skd_request("fmt-2"))
    year = first.year
    assert first.kode_klasifikasi == "470"
    assert first.number.startswith("470/0001/SKD/Ds.Pmk/")
    assert first.number.endswith(f"/{year}") and second.number.startswith("470/0002/SKD/")
    # The other desa keeps the defaults: its own counter, the skeleton's format.
    other = await issuer.issue(skd_request("fmt-3", RANCASARI))
    assert other.number.startswith(f"400.12.2/001/{RANCASARI}/")
    text = page_texts(await issuer.read_pdf(first))[0]
    assert squeeze(f"Nomor: {first.number}") in squeeze(text)


async def test_a_desa_with_a_broken_number_format_is_refused_before_a_number_is_taken(
    signing: RunningSigning,
) -> None:
    await _set_profile(signing, PAMANUKAN, number_format="{kode}/{tahun}")
    with pytest.raises(IssueRefused) as refused:
        await signing.runtime.issuer.issue(skd_request("bad-fmt"))
    assert refused.value.precondition and "{seq}" in refused.value.reason
    await _set_profile(signing, PAMANUKAN, number_format=None, kode_klasifikasi={"SKD": "470/../x"})
    with pytest.raises(IssueRefused) as bad_kode:
        await signing.runtime.issuer.issue(skd_request("bad-kode"))
    assert bad_kode.value.precondition and "470/../x" in bad_kode.value.reason
    await _set_profile(signing, PAMANUKAN, kode_klasifikasi={"SKD": "474.1"})
    good = await signing.runtime.issuer.issue(skd_request("good-fmt"))
    assert good.sequence == 1 and good.number.startswith("474.1/001/")


async def test_kop_and_paper_come_from_the_desa_profile(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    await _set_profile(
        signing, RANCASARI, address="Jl. Contoh No. 9", kades_name="Nama Dari Data", paper="A4"
    )
    letter = await issuer.issue(skd_request("kop-1", RANCASARI))
    pdf = await issuer.read_pdf(letter)
    text = squeeze(page_texts(pdf)[0])
    assert squeeze("DESA RANCASARI") in text and squeeze("Jl. Contoh No. 9") in text
    assert "NamaDariData" in text
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    box = [float(v) for v in reader.root["/Pages"]["/Kids"][0].get_object()["/MediaBox"]]
    assert round((box[3] - box[1]) / MM) == 297
    # The dev logo was installed into the assets folder the kop reads it from.
    assert (signing.settings.assets_dir / "logo-dev.svg").is_file()
    assert signature_of_letter(letter).label == "Nama Dari Data (Kepala Desa)"


async def test_a_plt_signs_in_their_own_name_from_the_desa_officials(
    signing: RunningSigning,
) -> None:
    async with signing.runtime.sessions() as session:
        session.add(DesaOfficial(desa_code=PAMANUKAN, username="plt.kades", name="Hj. Nining"))
        await session.commit()
    letter = await signing.runtime.issuer.issue(
        skd_request("plt-1", signer_username="plt.kades", signer_is_plt=True)
    )
    text = squeeze(page_texts(await signing.runtime.issuer.read_pdf(letter))[0])
    assert squeeze("Yang bertanda tangan di bawah ini, Plt. Kepala Desa Pamanukan") in text
    assert "Hj.Nining" in text and "DadangSuhendar" not in text and "a.n." not in text
    assert signature_of_letter(letter).label == "Hj. Nining (Plt. Kepala Desa)"
    assert (letter.signer_name, letter.signer_is_plt) == ("Hj. Nining", True)
    # The office holder's own letters still carry their name.
    own = await signing.runtime.issuer.issue(
        skd_request("plt-2", signer_username="kades.pamanukan")
    )
    assert signature_of_letter(own).label == "Dadang Suhendar (Kepala Desa)"
