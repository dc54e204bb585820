from datetime import UTC, datetime

import pytest

import common.domain.events as names
from common.domain import role_label
from common.wib import wib_datetime
from services.notification import templates as t
from services.notification.channels import WhatsAppCloudChannel

pytestmark = pytest.mark.unit

ALL_TEMPLATES = t.all_templates()


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
    assert role_label("kasi_pemerintahan") == "Kasi Pemerintahan"
    assert role_label("sekdes", acting=True) == "Plt. Sekretaris Desa"


def test_every_application_and_letter_event_has_templates() -> None:
    events = {
        v
        for k, v in vars(names).items()
        if k.isupper() and v.startswith(("application.", "letter."))
    }
    assert events == set(t.BY_EVENT)
    for group in t.BY_EVENT.values():
        assert group.inapp.title and group.inapp.body
        # Outside channels come as a set: email with a subject, WhatsApp and SMS.
        outside = [group.email, group.whatsapp, group.sms]
        assert all(x is None for x in outside) or all(x is not None for x in outside)
        if group.email is not None:
            assert group.email.title.startswith("Smart Desa: ")
            assert group.email.body.startswith("Yth. Bapak/Ibu,")


def test_whatsapp_parameters_follow_the_order_of_the_approved_template() -> None:
    template = t.ESCALATED.whatsapp
    assert template is not None
    values = {"letter_type": "Surat Keterangan Usaha", "from_role": "Kasi Pemerintahan"}
    values["role"] = "Plt. Sekretaris Desa"
    assert template.param_order() == ("letter_type", "from_role", "role")
    assert template.params(**values) == (
        "Surat Keterangan Usaha",
        "Kasi Pemerintahan",
        "Plt. Sekretaris Desa",
    )
    with pytest.raises(t.MissingPlaceholder):
        template.params(letter_type="SKU", role="Sekdes")
    assert (
        WhatsAppCloudChannel.approved_name(template.name, template.version)
        == "smartdesa_escalated_v1"
    )
    assert WhatsAppCloudChannel.approved_name("otp.whatsapp", "1") == "smartdesa_otp_v1"


def test_times_are_shown_in_wib_in_indonesian() -> None:
    assert wib_datetime(datetime(2026, 7, 21, 7, 0, tzinfo=UTC)) == "21 Juli 2026 pukul 14.00 WIB"
    assert role_label("sekdes", acting=True) == "Plt. Sekretaris Desa"
    assert role_label("kabupaten_operator") == "Operator Kabupaten"
