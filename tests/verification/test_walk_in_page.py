"""The walk-in page's small rules: who may file, where intake's refusal is shown, how the
resident's number is shown on the confirmation (the browser test walks the page itself)."""

import dataclasses
import logging
import re

import httpx
import pytest

from common.domain.errors import Forbidden
from common.rpc import MAX_SCANS_PER_MESSAGE
from services.intake.letter_types import Requirement
from services.verification.routes import set_offered
from services.verification.walk_in import may_file, require_filer
from services.verification.web.routes.walk_in import field_name, masked_phone
from tests.support.catalogue import seed_letter_types
from tests.support.web import async_sign_in_form
from tests.verification.conftest import PASSWORD, Service


def test_the_operator_files_also_as_plt_and_nobody_else() -> None:
    assert may_file(["operator"])
    assert may_file(["kasi_pemerintahan", "operator"])  # Plt operator
    for roles in (["kasi_kesra"], ["sekdes"], ["kades", "sekdes"], []):
        assert not may_file(roles)
        with pytest.raises(Forbidden) as refused:
            require_filer(roles)
        assert refused.value.code == "walk-in-not-allowed"


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


async def test_a_type_the_desa_switched_off_is_not_filed_at_the_office(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """As a resident's own application: the walk-in form offers, and files, only the letter
    types the desa offers. The log names the filing staff member by id, never by username
    (which may be a person's name)."""
    async with service.app.state.runtime.sessions() as session:
        await set_offered(session, "32.13.11.2004", "SKD", False, "sekdes.pamanukan")
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        signed_in = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username="operator.pamanukan", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        form = await client.get("/pengajuan-langsung")
        assert form.status_code == 200
        assert 'value="SKU"' in form.text and 'value="SKD"' not in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        form_data = {
            "csrf_token": token.group(1),
            "request_id": "r-1",
            "jenis": "SKD",
            "nik": "3213115708900001",
            "hp": "081234567890",
            "keperluan": "Melamar kerja",
        }
        scans = {
            f"berkas_{kind}": (f"{kind}.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")
            for kind in ("KTP", "KK")
        }
        filed = await client.post("/pengajuan-langsung", data=form_data, files=scans)
        assert filed.status_code == 422
        assert "Desa ini belum melayani surat ini" in filed.text
        assert service.intake.walk_ins == []

        async with service.app.state.runtime.sessions() as session:
            await set_offered(session, "32.13.11.2004", "SKD", True, "sekdes.pamanukan")
        with caplog.at_level(logging.INFO):
            filed = await client.post("/pengajuan-langsung", data=form_data, files=scans)
        assert filed.status_code == 303, filed.text
    assert len(service.intake.walk_ins) == 1
    assert "walk-in-1" in caplog.text
    assert "operator.pamanukan" not in caplog.text


async def test_an_optional_syarat_may_be_scanned_and_is_never_required(service: Service) -> None:
    """SKJAMKESOS asks for KTP, KK and the RT's letter, and takes a referral if there is one
    ("Tidak wajib"): the form offers its scan unrequired and sends it to intake when chosen."""
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        signed_in = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username="operator.pamanukan", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        form = await client.get("/pengajuan-langsung", params={"jenis": "SKJAMKESOS"})
        assert form.status_code == 200, form.text
        optional = re.search(r'<input[^>]*name="berkas_RUJUKAN"[^>]*>', form.text)
        assert optional is not None and "required" not in optional.group(0)
        assert "Surat rujukan (tidak wajib)" in form.text
        required = re.search(r'<input[^>]*name="berkas_KTP"[^>]*>', form.text)
        assert required is not None and "required" in required.group(0)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        scan = b"\xff\xd8\xff" + b"0" * 100
        for request_id, kinds in (
            ("r-tanpa", ("KTP", "KK", "PENGANTAR_RT")),
            ("r-dengan", ("KTP", "KK", "PENGANTAR_RT", "RUJUKAN")),
        ):
            filed = await client.post(
                "/pengajuan-langsung",
                data={
                    "csrf_token": token.group(1),
                    "request_id": request_id,
                    "jenis": "SKJAMKESOS",
                    "nik": "3213115708900001",
                    "hp": "081234567890",
                    "keperluan": "Berobat",
                },
                files={f"berkas_{k}": (f"{k}.jpg", scan, "image/jpeg") for k in kinds},
            )
            assert filed.status_code == 303, filed.text
    assert [sorted(a.kind for a in w.attachments) for w in service.intake.walk_ins] == [
        ["KK", "KTP", "PENGANTAR_RT"],
        ["KK", "KTP", "PENGANTAR_RT", "RUJUKAN"],
    ]


async def test_an_optional_scan_is_kept_only_while_every_required_one_still_fits(
    service: Service,
) -> None:
    """One walk-in message carries at most MAX_SCANS_PER_MESSAGE scans. A type with that many
    required syarat and an optional one: the optional scan is not kept, said next to it, and
    nothing is filed with it."""
    base = seed_letter_types()["SKJAMKESOS"]
    extra = tuple(Requirement(f"LAMPIRAN_{n}", f"Lampiran {n}") for n in (1, 2))
    required = (*base.requirements, *extra)
    assert len(required) == MAX_SCANS_PER_MESSAGE
    crowded = dataclasses.replace(
        base,
        requirements=required,
        syarat=(*required, *(r for r in base.syarat if r.kind == "opsional")),
    )
    service.intake.letter_types = [crowded]
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        signed_in = await client.post(
            "/masuk",
            data=await async_sign_in_form(client, username="operator.pamanukan", password=PASSWORD),
        )
        assert signed_in.status_code == 303
        form = await client.get("/pengajuan-langsung", params={"jenis": "SKJAMKESOS"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        scan = b"\xff\xd8\xff" + b"0" * 100
        kinds = [r.code for r in required] + ["RUJUKAN"]
        refused = await client.post(
            "/pengajuan-langsung",
            data={
                "csrf_token": token.group(1),
                "request_id": "r-penuh",
                "jenis": "SKJAMKESOS",
                "nik": "3213115708900001",
                "hp": "081234567890",
                "keperluan": "Berobat",
            },
            files={f"berkas_{k}": (f"{k}.jpg", scan, "image/jpeg") for k in kinds},
        )
    assert refused.status_code == 422, refused.text
    assert (
        f"Tidak disimpan: paling banyak {MAX_SCANS_PER_MESSAGE} berkas pindaian per permohonan, "
        "termasuk yang wajib."
    ) in refused.text
    assert service.intake.walk_ins == []
