import pytest

from common.wilayah import all_desa, by_kecamatan, pilot_codes

pytestmark = pytest.mark.unit


def test_desa_are_grouped_by_kecamatan_the_given_one_first() -> None:
    groups = by_kecamatan("32.13.11")
    assert groups[0].code == "32.13.11" and groups[0].name == "Pamanukan"
    assert [d.name for d in groups[0].desa] == sorted(d.name for d in groups[0].desa)
    assert all(d.kecamatan_code == "32.13.11" for d in groups[0].desa)
    rest = [k.name for k in groups[1:]]
    assert rest == sorted(rest)
    assert sum(len(k.desa) for k in groups) == len(all_desa())


def test_without_a_kecamatan_they_are_by_name() -> None:
    names = [k.name for k in by_kecamatan()]
    assert names == sorted(names)


def test_the_whole_kabupaten_is_known_and_the_pilot_is_part_of_it() -> None:
    desa = all_desa()
    assert len(desa) == 253
    assert len({d.kecamatan_code for d in desa.values()}) == 30
    assert sum(d.kelurahan for d in desa.values()) == 8
    assert desa["32.13.03.1001"].name == "Parung" and desa["32.13.03.1001"].kelurahan
    assert len(pilot_codes()) == 64 and pilot_codes() <= set(desa)
    assert desa["32.13.11.2004"].name == "Pamanukan"
