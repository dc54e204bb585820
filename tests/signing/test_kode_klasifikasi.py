"""Every seeded type's kode klasifikasi has the shape of Permendagri 83/2022 and says which class
it is, or is "belum ditetapkan" with the reason (issue 16 item 2). What /work/shared/reference
allows to check: the shape (a main class of three digits, then dotted sub-classes), the main
class being one of the regulation's ten (000 … 900), and the basis naming the same code; the
class names themselves are the seed files' (docs/letter-catalogue.md says which are to be
confirmed against the regulation's annex)."""

import re

import pytest

from services.signing.catalogue.definition import KODE_NOT_SET, load_seed

pytestmark = pytest.mark.unit

SEED = load_seed()
SHAPE = re.compile(r"(?P<main>\d{3})(\.\d{1,3}){0,4}")
# The main classes of Permendagri 83/2022 (as of 78/2012 before it): 000 Umum, 100
# Pemerintahan, 200 Politik, 300 Keamanan dan Ketertiban, 400 Kesejahteraan Rakyat, 500
# Perekonomian, 600 Pekerjaan Umum, 700 Pengawasan, 800 Kepegawaian, 900 Keuangan.
MAIN_CLASSES = {f"{n}00" for n in range(10)}


@pytest.mark.parametrize("code", sorted(SEED))
def test_kode_has_the_83_2022_shape_or_a_reason_why_not(code: str) -> None:
    d = SEED[code]
    if d.kode_klasifikasi == KODE_NOT_SET:
        # Why there is none yet, and that the desa sets its own before issuing.
        assert "83/2022" in d.kode_klasifikasi_basis, code
        assert "desa menetapkan kodenya sendiri" in d.kode_klasifikasi_basis, code
        return
    match = SHAPE.fullmatch(d.kode_klasifikasi)
    assert match is not None, (code, d.kode_klasifikasi)
    assert match["main"] in MAIN_CLASSES, (code, d.kode_klasifikasi)
    # The basis names this very code and its class: "Permendagri 83/2022: 400.12.2 Pendaftaran…"
    basis = re.fullmatch(
        r"Permendagri 83/2022: (?P<kode>[\d.]+) (?P<name>\S.*)", d.kode_klasifikasi_basis
    )
    assert basis is not None, (code, d.kode_klasifikasi_basis)
    assert basis["kode"] == d.kode_klasifikasi, code


def test_types_of_one_kind_share_their_class() -> None:
    """Letters about births, deaths and marriages are Pencatatan Sipil; about residence and
    the KK, Pendaftaran Penduduk: the same class for the same subject."""
    by_kode: dict[str, set[str]] = {}
    for d in SEED.values():
        if d.kode_klasifikasi != KODE_NOT_SET:
            name = d.kode_klasifikasi_basis.split(": ", 1)[1].split(" (")[0].split(":")[0]
            by_kode.setdefault(d.kode_klasifikasi, set()).add(name.split(",")[0].strip())
    for kode, names in by_kode.items():
        first_words = {" ".join(n.split()[1:3]) for n in names}
        assert len(first_words) == 1, (kode, names)
    for code in ("SKL", "SKK", "SKLM", "SPAL", "SKNIKAH", "SPCERAI"):
        assert SEED[code].kode_klasifikasi == "400.12.3", code
    for code in ("SKD", "SKPD", "SKPP", "SPKK", "SPUKK", "SKBIO"):
        assert SEED[code].kode_klasifikasi == "400.12.2", code
