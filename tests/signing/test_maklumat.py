"""The maklumat pelayanan in the desa profile (issue 19, Permenpan-RB 15/2014): a template the
desa may write, checked before it is saved, filled with the profile's names when shown."""

from services.signing.desa_profile import (
    DEFAULT_MAKLUMAT,
    MAKLUMAT_MAX,
    ProfileInput,
    clean_profile,
    maklumat_text,
)
from services.signing.seed import dev_profiles


def _input(maklumat: str) -> ProfileInput:
    return ProfileInput(
        name="Pamanukan",
        kecamatan="Pamanukan",
        kabupaten="Subang",
        address="Jl. Raya Pamanukan No. 12",
        kode_pos="41254",
        kades_name="Dadang Suhendar",
        maklumat_pelayanan=maklumat,
    )


def test_a_written_maklumat_keeps_its_paragraphs_and_only_known_placeholders() -> None:
    cleaned = clean_profile(_input("  Kami   melayani {desa}.\r\n\r\n\r\n\r\n{kades}  "))
    assert not cleaned.errors
    assert cleaned.values["maklumat_pelayanan"] == "Kami melayani {desa}.\n\n{kades}"
    refused = clean_profile(_input("Kami melayani {nik} dan {desa}."))
    assert "Maklumat hanya boleh memakai isian" in refused.errors["maklumat_pelayanan"]
    assert "maklumat_pelayanan" in clean_profile(_input("Tidak ditutup {desa")).errors
    too_long = clean_profile(_input("a" * (MAKLUMAT_MAX + 1)))
    assert (
        too_long.errors["maklumat_pelayanan"] == f"Maklumat paling banyak {MAKLUMAT_MAX} karakter."
    )
    # The default text, sent back unchanged from the editor, is stored as "the default".
    assert clean_profile(_input(DEFAULT_MAKLUMAT)).values["maklumat_pelayanan"] == ""


def test_the_maklumat_is_filled_with_the_profiles_names_and_nothing_more() -> None:
    profile = dev_profiles()[0]
    text = maklumat_text(profile)
    assert text.startswith("Dengan ini, kami Pemerintah Desa Pamanukan, Kecamatan Pamanukan,")
    assert text.endswith("Kepala Desa Pamanukan\nDadang Suhendar")
    # A name holding braces is printed as it is, never read as a placeholder.
    profile.kades_name = "{desa}"
    profile.maklumat_pelayanan = "Kepala: {kades}"
    assert maklumat_text(profile) == "Kepala: {desa}"
