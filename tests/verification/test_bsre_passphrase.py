"""A BSrE desa signs: the Kades gives the passphrase with the last approval (or with a retry of
a blocked letter). Real verification and signing services (signing's BSrE signer pointed at a
local server speaking BSrE's shape), the real workflow and activities on the Temporal dev
server, and the intake peer. The passphrase reaches BSrE and nothing else: not the workflow's
history, not a log, not a database."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlmodel import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from services.signing.config import Settings as SigningSettings
from services.signing.models import Letter
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from tests.signing.bsre_fake import NIK, PASSWORD, USERNAME, FakeBsre, fake_bsre
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from workflows.approval import WORKFLOW_NAME, workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput
from workflows.approval.worker import build_worker

PASSPHRASE = "kunci-bsre-kades-5821"
APPROVERS = ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")


@pytest.fixture
def bsre() -> Iterator[FakeBsre]:
    with fake_bsre(PASSPHRASE) as fake:
        yield fake


@pytest.fixture
async def signing(base_settings: Settings, bsre: FakeBsre) -> AsyncIterator[SigningRuntime]:
    data_dir = base_settings.data_dir
    password_file = data_dir / "bsre.password"
    password_file.write_text(PASSWORD)
    bsre_root = data_dir / "bsre-root.pem"
    bsre_root.write_bytes(bsre.registry.root_pem)
    settings = SigningSettings(
        profile="dev",
        data_dir=data_dir,
        nats_url=base_settings.nats_url,
        signing_grpc_port=0,
        signing_workers=0,
        signing_signers={PAMANUKAN: "bsre"},
        signing_bsre_url=bsre.url,
        signing_bsre_username=USERNAME,
        signing_bsre_password_file=password_file,
        signing_bsre_niks={f"{PAMANUKAN}:kades": NIK},
        signing_trust_roots=[bsre_root],
    )
    async with open_signing(settings) as runtime:
        yield runtime


@pytest.fixture
def settings(  # verification, pointed at intake's peer and the real signing
    base_settings: Settings, intake_peer: tuple[object, int], signing: SigningRuntime
) -> Settings:
    return base_settings.model_copy(
        update={
            "intake_grpc_target": f"127.0.0.1:{intake_peer[1]}",
            "signing_grpc_target": f"127.0.0.1:{signing.grpc_server.port}",
        }
    )


@pytest.fixture
async def queue(
    service: Service, settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[str]:
    """A worker (real activities, calling the real signing) on a queue of its own."""
    name = f"verification-bsre-{uuid.uuid4()}"
    auth = InternalAuth.from_settings(settings, WORKER)
    channels = [
        client_channel(settings.intake_grpc_target, auth, INTAKE),
        client_channel(f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION),
        client_channel(settings.signing_grpc_target, auth, SIGNING),
    ]
    worker_settings = settings.model_copy(update={"temporal_task_queue": name})
    try:
        async with build_worker(
            temporal_env.client, worker_settings, ApprovalActivities(*channels)
        ):
            yield name
    finally:
        for channel in channels:
            await channel.close()


async def _post(
    service: Service, username: str, path: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = await service.http.post(path, json=body, headers=await service.login(username))
    return response.status_code, response.json()


async def _task(service: Service, username: str, app_id: str) -> dict[str, Any] | None:
    response = await service.http.get("/api/v1/tasks", headers=await service.login(username))
    return next((t for t in response.json() if t["application_id"] == app_id), None)


async def _approve_up_to_kades(
    service: Service, temporal_env: WorkflowEnvironment, queue: str
) -> tuple[str, WorkflowHandle[Any, Any]]:
    app_id = str(uuid.uuid4())
    service.intake.add(app_id, PAMANUKAN)
    handle = await temporal_env.client.start_workflow(
        WORKFLOW_NAME,
        ApprovalInput(application_id=app_id, desa_code=PAMANUKAN, letter_type="SKD"),
        id=workflow_id(app_id),
        task_queue=queue,
    )
    for index, username in enumerate(APPROVERS):

        async def waiting(username: str = username, index: int = index) -> bool:
            task = await _task(service, username, app_id)
            return task is not None and task["step"]["index"] == index

        await eventually(waiting)
        if username == APPROVERS[-1]:
            break
        status, state = await _post(
            service, username, f"/api/v1/tasks/{app_id}/decision", decision="approve"
        )
        assert status == 200, state
    return app_id, handle


async def _assert_signed_by_bsre(signing: SigningRuntime, app_id: str) -> Letter:
    async with signing.sessions() as session:
        letter = (await session.exec(select(Letter).where(Letter.application_id == app_id))).one()
    assert letter.status == "valid" and letter.signer_username == "kades.pamanukan"
    pdf = await signing.issuer.read_pdf(letter)
    (signature,) = PdfFileReader(BytesIO(pdf)).embedded_signatures
    assert signature.signer_cert.issuer.native["common_name"] == "Fake BSrE Root CA"
    return letter


async def _assert_passphrase_nowhere(
    handle: WorkflowHandle[Any, Any], caplog: pytest.LogCaptureFixture, data_dir: Path
) -> None:
    history = await handle.fetch_history()
    assert history.events  # a history to search
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert PASSPHRASE.encode() not in raw and PASSPHRASE not in history.to_json()
    assert PASSPHRASE not in caplog.text
    # Both services' databases (with their WAL files), letters and secrets live here.
    found = await asyncio.to_thread(_files_holding, data_dir, PASSPHRASE.encode())
    assert {"signing.db", "verification.db"} <= {p.name for p in found}
    assert [p for p, held in found.items() if held] == []


def _files_holding(folder: Path, needle: bytes) -> dict[Path, bool]:
    return {p: needle in p.read_bytes() for p in folder.rglob("*") if p.is_file()}


async def test_the_kades_signs_with_the_passphrase_when_approving(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app_id, handle = await _approve_up_to_kades(service, temporal_env, queue)
    # A request refused as invalid does not echo the passphrase back.
    status, body = await _post(
        service,
        "kades.pamanukan",
        f"/api/v1/tasks/{app_id}/decision",
        decision="mungkin",
        passphrase=PASSPHRASE,
    )
    assert status == 422 and PASSPHRASE not in str(body)

    status, state = await _post(
        service,
        "kades.pamanukan",
        f"/api/v1/tasks/{app_id}/decision",
        decision="approve",
        passphrase=PASSPHRASE,
    )
    assert status == 200, state
    assert state["status"] == "issued", state
    assert PASSPHRASE not in str(state)
    letter = await _assert_signed_by_bsre(signing, app_id)
    assert state["letter"]["number"] == letter.number
    assert len(bsre.requests) == 1  # signed once, by the call with the passphrase
    assert (await handle.result())["status"] == "issued"
    await _assert_passphrase_nowhere(handle, caplog, settings.data_dir)


async def test_a_blocked_letter_is_signed_when_the_kades_retries_with_the_passphrase(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app_id, handle = await _approve_up_to_kades(service, temporal_env, queue)

    # Approved without the passphrase: signing refuses at once and the letter is kept.
    status, state = await _post(
        service, "kades.pamanukan", f"/api/v1/tasks/{app_id}/decision", decision="approve"
    )
    assert status == 200, state

    async def blocked() -> dict[str, Any] | None:
        task = await _task(service, "kades.pamanukan", app_id)
        return task if task is not None and task["kind"] == "signing_blocked" else None

    await eventually(blocked)
    state = await handle.query("state")
    assert state["status"] == "signing_blocked"
    assert "memerlukan passphrase penandatangan" in state["blocked_reason"]
    assert bsre.requests == []
    async with signing.sessions() as session:
        assert (await session.exec(select(Letter))).all() == []  # no number taken

    # A wrong passphrase: BSrE refuses, the Kades is told, the letter stays blocked.
    path = f"/api/v1/tasks/{app_id}/retry-issue"
    status, body = await _post(service, "kades.pamanukan", path, passphrase="salah-ketik")
    assert status == 422, body
    assert body["type"].rsplit("/", 1)[-1] == "signing-refused"
    assert "Passphrase anda salah" in body["detail"]
    assert "salah-ketik" not in str(body)
    assert len(bsre.requests) == 1  # not retried
    state = await handle.query("state")
    assert state["status"] == "signing_blocked"
    # Only the signer role, Sekdes or Kades may sign a blocked letter.
    status, body = await _post(service, "pemerintahan.pamanukan", path, passphrase=PASSPHRASE)
    assert status == 403, body
    assert len(bsre.requests) == 1

    status, state = await _post(service, "kades.pamanukan", path, passphrase=PASSPHRASE)
    assert status == 200, state
    assert state["status"] == "issued", state
    letter = await _assert_signed_by_bsre(signing, app_id)
    # The number reserved by the wrong attempt is the one finished.
    assert state["letter"]["number"] == letter.number and letter.sequence == 1
    assert len(bsre.requests) == 2
    assert (await handle.result())["status"] == "issued"

    async def closed() -> bool:
        return await _task(service, "kades.pamanukan", app_id) is None

    await eventually(closed)
    await _assert_passphrase_nowhere(handle, caplog, settings.data_dir)
