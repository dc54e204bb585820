"""Staff preview the letter an application will become: verification reads the application
from intake and asks a real signing service (in-process, its own gRPC server) to render it."""

from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from services.signing.config import Settings as SigningSettings
from services.signing.models import Letter
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from tests.signing.pdf_text import page_texts, squeeze
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI


@pytest.fixture
async def signing(base_settings: Settings) -> AsyncIterator[SigningRuntime]:
    # Signing as it runs: NATS for its outbox, and its worker processes, which render the
    # preview as they render the letters they sign.
    settings = SigningSettings(
        profile="dev",
        data_dir=base_settings.data_dir,
        nats_url=base_settings.nats_url,
        signing_grpc_port=0,
    )
    async with open_signing(settings) as runtime:
        yield runtime


@pytest.fixture
def settings(  # the verification service, pointed at intake's peer and the real signing
    base_settings: Settings, intake_peer: tuple[object, int], signing: SigningRuntime
) -> Settings:
    return base_settings.model_copy(
        update={
            "intake_grpc_target": f"127.0.0.1:{intake_peer[1]}",
            "signing_grpc_target": f"127.0.0.1:{signing.grpc_server.port}",
        }
    )


async def test_staff_of_the_desa_preview_the_letter_unsigned_and_unnumbered(
    service: Service, signing: SigningRuntime
) -> None:
    service.intake.add("app-preview", PAMANUKAN)
    for username in ("pemerintahan.pamanukan", "kades.pamanukan"):
        r = await service.http.get(
            "/api/v1/applications/app-preview/preview", headers=await service.login(username)
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["cache-control"] == "private, no-store"
        text = squeeze(page_texts(r.content)[0])
        assert squeeze("PRATINJAU — BUKAN SURAT SAH") in text
        assert squeeze("SURAT KETERANGAN DOMISILI") in text
        assert squeeze("Nomor: 400.12.2/___/32.13.11.2004/") in text
        assert squeeze("keperluan: Persyaratan melamar pekerjaan.") in text
        assert squeeze("Dusun Krajan RT 001 RW 002") in text
        assert squeeze("Kepala Desa Pamanukan") in text and "DadangSuhendar" in text
        assert b"/ByteRange" not in r.content  # not signed
    async with signing.sessions() as session:
        assert (await session.exec(select(Letter))).all() == []  # nothing stored


async def test_preview_is_only_for_staff_of_the_applications_desa(service: Service) -> None:
    service.intake.add("app-rancasari", RANCASARI)
    path = "/api/v1/applications/app-rancasari/preview"
    other_desa = await service.http.get(path, headers=await service.login("kades.pamanukan"))
    assert other_desa.status_code == 404
    assert other_desa.headers["content-type"].startswith("application/problem+json")
    assert (await service.http.get(path)).status_code == 401
    missing = await service.http.get(
        "/api/v1/applications/tidak-ada/preview",
        headers=await service.login("kades.pamanukan"),
    )
    assert missing.status_code == 404
    own = await service.http.get(path, headers=await service.login("kades.rancasari"))
    assert own.status_code == 200 and own.content.startswith(b"%PDF-")
