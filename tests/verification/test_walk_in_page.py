"""The walk-in page's small rules: who may file, where intake's refusal is shown, how the
resident's number is shown on the confirmation (the browser test walks the page itself)."""

import pytest

from common.http import Problem
from services.verification.walk_in import may_file, require_filer
from services.verification.web.routes.walk_in import field_name, masked_phone


def test_the_operator_files_also_as_plt_and_nobody_else() -> None:
    assert may_file(["operator"])
    assert may_file(["kasi_pemerintahan", "operator"])  # Plt operator
    for roles in (["kasi_kesra"], ["sekdes"], ["kades", "sekdes"], []):
        assert not may_file(roles)
        with pytest.raises(Problem) as refused:
            require_filer(roles)
        assert refused.value.status == 403


@pytest.mark.parametrize(
    ("intake_field", "form_field"),
    [
        ("nik", "nik"),
        ("phone", "hp"),
        ("purpose", "keperluan"),
        ("letter_type", "jenis"),
        ("fields.nama", "isian_nama"),
        ("attachments.KK", "berkas_KK"),
        ("attachments", ""),  # the form as a whole
        ("request_id", ""),
        ("desa_code", ""),
    ],
)
def test_intakes_refusal_lands_next_to_its_input(intake_field: str, form_field: str) -> None:
    assert field_name(intake_field) == form_field


def test_the_number_is_shown_masked() -> None:
    assert masked_phone("6281377700123") == "0813*****123"
    assert masked_phone("6285712345678") == "0857*****678"
