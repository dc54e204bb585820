import pytest

from services.notification import templates as t

ALL_TEMPLATES = [v for v in vars(t).values() if isinstance(v, t.Template)]


def test_otp_text_is_exact() -> None:
    _, body = t.OTP_WHATSAPP.render(code="123456", minutes="5")
    assert body == (
        "Kode masuk Smart Desa Anda: 123456. Berlaku 5 menit. "
        "Jangan berikan kode ini kepada siapa pun."
    )


def test_missing_value_is_an_error_not_a_hole() -> None:
    with pytest.raises(t.MissingPlaceholder):
        t.LETTER_ISSUED_INAPP.render(letter_type="Surat Keterangan Domisili")
    with pytest.raises(t.MissingPlaceholder):
        t.LETTER_ISSUED_INAPP.render(letter_type="Surat Keterangan Domisili", letter_number="")


def test_every_template_has_a_unique_name_and_a_version() -> None:
    assert len(ALL_TEMPLATES) >= 8
    assert len({tpl.name for tpl in ALL_TEMPLATES}) == len(ALL_TEMPLATES)
    assert all(tpl.version for tpl in ALL_TEMPLATES)
    in_app = [tpl for tpl in ALL_TEMPLATES if tpl.name.endswith(".inapp")]
    assert in_app and all(tpl.title for tpl in in_app)


def test_names_read_as_people_say_them() -> None:
    assert t.letter_type_name("SKD") == "Surat Keterangan Domisili"
    assert t.role_name("kasi_pemerintahan") == "Kasi Pemerintahan"
    assert t.letter_type_name("XYZ") == "Surat XYZ"
