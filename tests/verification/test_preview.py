"""Staff preview the letter an application will become: verification reads the application
from intake and asks a real signing service (in-process, its own gRPC server) to render it."""

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from sqlmodel import select

from common.domain.events import APPLICATION_STEP_ASSIGNED
from common.events import public_subject
from common.messaging import publish
from services.signing.config import Settings as SigningSettings
from services.signing.models import Letter
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from services.verification.task_inbox import open_task_in_desa
from tests.signing.pdf_text import page_texts, squeeze
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI, application_event


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


async def _assigned(
    service: Service,
    js: JetStreamContext,
    app_id: str,
    desa_code: str,
    role: str = "kasi_pemerintahan",
    step_index: int = 0,
) -> None:
    """The application in intake, with a step assigned to `role` (as the workflow would)."""
    service.intake.add(app_id, desa_code)
    event = application_event(
        APPLICATION_STEP_ASSIGNED,
        app_id,
        desa_code=desa_code,
        step_index=step_index,
        step_role=role,
    )
    await publish(js, public_subject(desa_code, event.name), event)

    async def projected() -> bool:
        async with service.runtime.sessions() as session:
            task = await open_task_in_desa(session, app_id, desa_code)
            return task is not None and task.step_index == step_index

    await eventually(projected)


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


async def test_staff_on_the_applications_steps_preview_the_letter_unsigned_and_unnumbered(
    service: Service, signing: SigningRuntime, js: JetStreamContext
) -> None:
    await _assigned(service, js, "app-preview", PAMANUKAN, "kasi_pemerintahan", 0)
    await _assigned(service, js, "app-preview", PAMANUKAN, "kades", 2)
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


async def test_preview_is_only_for_staff_of_the_applications_desa(
    service: Service, js: JetStreamContext
) -> None:
    await _assigned(service, js, "app-rancasari", RANCASARI, "kades", 2)
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


async def test_preview_is_only_for_staff_whose_role_has_a_step_on_it(
    service: Service, js: JetStreamContext
) -> None:
    # The letter prints the resident's NIK and particulars: staff of the desa whose role has
    # no step on the application (yet), and anyone before it is submitted, see no such thing.
    await _assigned(service, js, "app-kasi", PAMANUKAN, "kasi_pemerintahan", 0)
    for username in ("kesra.pamanukan", "sekdes.pamanukan", "kades.pamanukan"):
        r = await service.http.get(
            "/api/v1/applications/app-kasi/preview", headers=await service.login(username)
        )
        assert r.status_code == 404, (username, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # A draft in intake (no step assigned to anyone): the same answer as for a missing one.
    service.intake.add("app-draft", PAMANUKAN)
    r = await service.http.get(
        "/api/v1/applications/app-draft/preview",
        headers=await service.login("pemerintahan.pamanukan"),
    )
    assert r.status_code == 404, r.text
