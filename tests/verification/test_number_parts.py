"""The number format as labelled parts: every format signing accepts comes back exactly from its
parts, and the parts make the format a village secretary means."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.signing.numbering import DEFAULT_NUMBER_FORMAT, check_number_format
from services.verification.number_parts import (
    PLACEHOLDERS,
    SEPARATORS,
    TEXT,
    UNUSED,
    Part,
    described,
    format_of,
    parts_of,
)

pytestmark = pytest.mark.unit


def test_the_default_format_is_its_labelled_parts() -> None:
    parts = parts_of(DEFAULT_NUMBER_FORMAT)
    assert [p.kind for p in parts] == [
        "kode", "/", "seq", "/", "desa_code", "/", "bulan_romawi", "/", "tahun",
    ]  # fmt: skip
    assert parts[2].digits == 3
    assert format_of(parts) == DEFAULT_NUMBER_FORMAT
    assert described(DEFAULT_NUMBER_FORMAT) == (
        "Kode klasifikasi surat / Nomor urut (3 angka) / Kode desa / Bulan Romawi / Tahun"
    )


@pytest.mark.parametrize(
    "stored",
    [
        "{kode}/{seq:03d}/Rcs/{bulan_romawi}/{tahun}",
        "{kode}/{seq}/{tahun}",
        "{kode}-{seq:05d}.{jenis}/{bulan}/{tahun}",
        "No. {kode}/{seq:02d}/Ds {{x}}/{tahun}",
    ],
)
def test_stored_formats_come_back_exactly(stored: str) -> None:
    assert format_of(parts_of(stored)) == stored


def test_parts_make_the_format_and_unused_rows_are_left_out() -> None:
    parts = [
        Part("kode"), Part("/"), Part("seq", digits=4), Part(UNUSED), Part("/"),
        Part(TEXT, "Kel. {A}"), Part("-"), Part("tahun"),
    ]  # fmt: skip
    made = format_of(parts)
    assert made == "{kode}/{seq:04d}/Kel. {{A}}-{tahun}"
    check_number_format(made)  # signing accepts it
    assert made.format(kode="400", seq=7, tahun=2026) == "400/0007/Kel. {A}-2026"


def test_a_format_nobody_could_build_is_kept_as_one_text() -> None:
    assert parts_of("{kode}/{nomor}") == [Part(TEXT, "{kode}/{nomor}")]
    assert parts_of("{kode") == [Part(TEXT, "{kode")]


kinds = st.sampled_from([*PLACEHOLDERS, *SEPARATORS, TEXT])
texts = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8)


@given(st.lists(st.tuples(kinds, texts, st.sampled_from([0, 2, 3, 4, 9])), max_size=10))
def test_any_built_format_reads_back_as_the_same_format(
    rows: list[tuple[str, str, int]],
) -> None:
    made = format_of([Part(k, t, d) for k, t, d in rows])
    assert format_of(parts_of(made)) == made
