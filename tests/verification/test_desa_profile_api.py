"""The desa profile API (/api/v1/desa-profile) over a real signing service (in-process, its own
gRPC server): every desa staff member reads it, only the Sekdes and the Kades (also as Plt)
change it, signing's refusals come back per field, and the sample letter shows the change."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.wib import WIB
from services.signing.config import Settings as SigningSettings
from services.signing.numbering import ROMAN_MONTHS
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from tests.signing.pdf_text import page_texts, squeeze
from tests.support.images import png
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_admin_pages import _csrf, _signed_in

PATH = "/api/v1/desa-profile"


@pytest.fixture
async def signing(base_settings: Settings) -> AsyncIterator[SigningRuntime]:
    settings = SigningSettings(
        profile="dev",
        data_dir=base_settings.data_dir,
        nats_url=base_settings.nats_url,
        signing_grpc_port=0,
        signing_workers=0,
    )
    async with open_signing(settings) as runtime:
        yield runtime


@pytest.fixture
def settings(
    base_settings: Settings, intake_peer: tuple[object, int], signing: SigningRuntime
) -> Settings:
    return base_settings.model_copy(
        update={
            "intake_grpc_target": f"127.0.0.1:{intake_peer[1]}",
            "signing_grpc_target": f"127.0.0.1:{signing.grpc_server.port}",
        }
    )


def _body(profile: dict[str, Any], **changes: Any) -> dict[str, Any]:
    keys = (
        "name", "kecamatan", "kabupaten", "address", "kode_pos", "phone", "email", "kades_name",
        "kades_nip", "sekdes_name", "sekdes_nip", "paper", "number_format", "officials",
    )  # fmt: skip
    return {k: profile[k] for k in keys} | changes


def _month_year() -> tuple[str, int]:
    now = datetime.now(UTC).astimezone(WIB)
    return ROMAN_MONTHS[now.month - 1], now.year


async def test_staff_read_the_profile_and_only_managers_change_it(service: Service) -> None:
    roman, year = _month_year()
    assert (await service.http.get(PATH)).status_code == 401
    kasi = await service.login("pemerintahan.pamanukan")
    read = await service.http.get(PATH, headers=kasi)
    assert read.status_code == 200, read.text
    profile = read.json()
    assert profile["desa_code"] == PAMANUKAN and profile["name"] == "Pamanukan"
    assert profile["next_number_example"] == f"400.12.2/001/{PAMANUKAN}/{roman}/{year}"
    assert profile["logo_url"].startswith(f"{PATH}/logo?v=")

    body = _body(profile, address="Jl. Baru No. 1")
    refused = await service.http.put(PATH, json=body, headers=kasi)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Hanya Sekretaris Desa atau Kepala Desa")
    other_desa = await service.http.get(PATH, headers=await service.login("kades.rancasari"))
    assert other_desa.json()["name"] == "Rancasari"
    kabupaten = await service.http.get(PATH, headers=await service.login("diskominfo.subang"))
    assert kabupaten.status_code == 403

    kades = await service.login("kades.pamanukan")
    logo = png(150, 150)
    saved = await service.http.put(
        PATH,
        json=body
        | {
            "number_format": "{kode}/{seq:03d}/Pmk/{bulan}/{tahun}",
            "logo_base64": base64.b64encode(logo).decode(),
            "logo_type": "image/png",
        },
        headers=kades,
    )
    assert saved.status_code == 200, saved.text
    after = saved.json()
    assert after["address"] == "Jl. Baru No. 1" and after["updated_by"] == "kades.pamanukan"
    month = f"{datetime.now(UTC).astimezone(WIB).month:02d}"
    assert after["next_number_example"] == f"400.12.2/001/Pmk/{month}/{year}"
    assert after["logo_type"] == "image/png" and after["logo_url"] != profile["logo_url"]
    image = await service.http.get(after["logo_url"], headers=kasi)
    assert image.status_code == 200 and image.content == logo
    assert image.headers["content-type"] == "image/png"
    # Read back by another staff member of the desa.
    assert (await service.http.get(PATH, headers=kasi)).json()["address"] == "Jl. Baru No. 1"

    sample = await service.http.get(f"{PATH}/sample-letter", headers=kasi)
    assert sample.status_code == 200 and sample.headers["content-type"] == "application/pdf"
    text = squeeze(page_texts(sample.content)[0])
    assert squeeze("Jl. Baru No. 1") in text
    assert squeeze(f"Nomor: 400.12.2/___/Pmk/{month}/{year}") in text
    assert squeeze("PRATINJAU — BUKAN SURAT SAH") in text


async def test_refused_fields_come_back_per_field_and_nothing_is_saved(service: Service) -> None:
    kades = await service.login("kades.pamanukan")
    profile = (await service.http.get(PATH, headers=kades)).json()
    refused = await service.http.put(
        PATH,
        json=_body(profile, address="Tidak tersimpan", number_format="{kode}/{urut}/{tahun}"),
        headers=kades,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert set(problem["errors"]) == {"number_format"}
    assert "isian tidak dikenal {urut}" in problem["errors"]["number_format"]
    assert (await service.http.get(PATH, headers=kades)).json() == profile

    cases: list[tuple[dict[str, Any], str]] = [
        ({"logo_base64": "bukan base64!"}, "logo"),
        ({"logo_base64": base64.b64encode(b"GIF89a" + bytes(64)).decode()}, "logo"),
        ({"officials": [{"username": "kades.rancasari", "name": "Orang Lain"}]}, "officials"),
        ({"kode_pos": "abc"}, "kode_pos"),
    ]
    for changes, field in cases:
        r = await service.http.put(PATH, json=_body(profile, **changes), headers=kades)
        assert r.status_code == 422, (changes, r.text)
        assert field in r.json()["errors"], r.json()
    assert (await service.http.get(PATH, headers=kades)).json() == profile

    example = await service.http.get(
        f"{PATH}/number-example", params={"format": "{kode}/{seq}"}, headers=kades
    )
    assert example.json()["example"] == "" and "{tahun}" in example.json()["error"]


async def test_a_plt_kades_may_change_it(service: Service) -> None:
    ends_at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    granted = await service.http.post(
        "/api/v1/plt",
        json={"username": "kesra.pamanukan", "role": "kades", "ends_at": ends_at},
        headers=await service.login("kades.pamanukan"),
    )
    assert granted.status_code == 201, granted.text
    plt = await service.login("kesra.pamanukan")
    profile = (await service.http.get(PATH, headers=plt)).json()
    officials = [*profile["officials"], {"username": "kesra.pamanukan", "name": "Nining Kurniasih"}]
    saved = await service.http.put(PATH, json=_body(profile, officials=officials), headers=plt)
    assert saved.status_code == 200, saved.text
    assert {"username": "kesra.pamanukan", "name": "Nining Kurniasih", "nip": ""} in saved.json()[
        "officials"
    ]
    assert saved.json()["updated_by"] == "kesra.pamanukan"
    # Without `officials` the printed names stay as they are.
    body = {k: v for k, v in _body(profile, address="Jl. Lain No. 2").items() if k != "officials"}
    kept = await service.http.put(PATH, json=body, headers=plt)
    assert kept.status_code == 200, kept.text
    assert kept.json()["officials"] == saved.json()["officials"]
    assert kept.json()["address"] == "Jl. Lain No. 2"
    still_kasi = await service.login("pemerintahan.pamanukan")
    assert (
        await service.http.put(PATH, json=_body(profile), headers=still_kasi)
    ).status_code == 403


def _part_fields(parts: list[tuple[str, str, str]]) -> dict[str, str]:
    """The builder's rows as the form sends them: (kind, free text, digits)."""
    fields: dict[str, str] = {}
    for i, (kind, text, digits) in enumerate(parts):
        fields |= {f"bagian-{i}-jenis": kind, f"bagian-{i}-teks": text, f"bagian-{i}-angka": digits}
    return fields


async def test_the_number_format_is_built_from_labelled_parts_with_an_example(
    service: Service,
) -> None:
    roman, year = _month_year()
    async with _signed_in(service, "kades.pamanukan") as client:
        page = await client.get("/pengaturan/profil/ubah")
        assert page.status_code == 200
        # The stored format, part by part, and the server's example of the next number.
        assert '<option value="kode" selected>Kode klasifikasi surat' in page.text
        assert '<option value="3" selected>3 angka (007)</option>' in page.text
        assert '<option value="desa_code" selected>Kode desa</option>' in page.text
        assert f"400.12.2/001/{PAMANUKAN}/{roman}/{year}" in page.text
        assert 'id="f-number_format"' not in page.text  # nothing to type in braces

        profile = (await client.get(PATH)).json()
        form = {
            "csrf_token": await _csrf(client, "/pengaturan/profil/ubah"),
            **{k: str(profile[k]) for k in ("name", "kecamatan", "kabupaten", "address",
                                             "kode_pos", "phone", "email", "kades_name",
                                             "kades_nip", "sekdes_name", "sekdes_nip", "paper")},
        }  # fmt: skip
        parts = _part_fields(
            [("kode", "", "3"), ("/", "", "3"), ("seq", "", "4"), ("/", "", "3"),
             ("teks", "Pmk", "3"), ("-", "", "3"), ("tahun", "", "3"), ("", "", "3")]
        )  # fmt: skip
        # "Perbarui contoh nomor" without script: the example of the parts, nothing saved.
        shown = await client.post(
            "/pengaturan/profil/ubah", data={**form, **parts, "aksi": "contoh"}
        )
        assert shown.status_code == 200
        assert f"400.12.2/0001/Pmk-{year}" in shown.text
        assert (await client.get(PATH)).json()["number_format"] == profile["number_format"]

        saved = await client.post("/pengaturan/profil/ubah", data={**form, **parts})
        assert saved.status_code == 303, saved.text
        after = (await client.get(PATH)).json()
        assert after["number_format"] == "{kode}/{seq:04d}/Pmk-{tahun}"
        assert after["next_number_example"] == f"400.12.2/0001/Pmk-{year}"
        view = await client.get("/pengaturan/profil")
        assert "Kode klasifikasi surat / Nomor urut (4 angka) / “Pmk” - Tahun" in view.text

        # Without the year the number could repeat: refused beside the builder, rows kept.
        no_year = _part_fields([("kode", "", "3"), ("/", "", "3"), ("seq", "", "3")])
        refused = await client.post("/pengaturan/profil/ubah", data={**form, **no_year})
        assert refused.status_code == 422
        assert "wajib memuat bagian Tahun" in refused.text
        assert '<option value="seq" selected>' in refused.text
        assert (await client.get(PATH)).json()["number_format"] == "{kode}/{seq:04d}/Pmk-{tahun}"
