"""A BSrE desa signs: the Kades gives the passphrase with the last approval, or later on the
letter that waits for their signature (awaiting_signature; never signing_blocked, which would
alert the Kades and the kabupaten that the letter is stuck). Real verification and signing services (signing's BSrE signer pointed at a
local server speaking BSrE's shape), the real workflow and activities on the Temporal dev
server, and the intake peer. The passphrase reaches BSrE and nothing else: not the workflow's
history, not a log, not a database."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlmodel import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.domain import ApplicationStatus
from common.domain.events import (
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_REMINDED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
)
from common.events import CloudEvent
from common.rpc import INTAKE, NOTIFICATION, SIGNING, VERIFICATION, WORKER, client_channel
from services.notification.recipients import RecipientLookup
from services.notification.rules import plan_for, staff_recipient
from services.signing.config import Settings as SigningSettings
from services.signing.models import Letter
from services.signing.runtime import Runtime as SigningRuntime
from services.signing.runtime import open_runtime as open_signing
from services.verification.config import Settings
from services.verification.models import Task
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


@dataclass
class EventLog:
    """Every public event of one application, as published on NATS (the stream all services
    consume), in order."""

    app_id: str
    events: list[CloudEvent]

    def names(self) -> list[str]:
        return [e.name for e in self.events]


async def _stream_until_issued(js: JetStreamContext, app_id: str) -> EventLog:
    """The application's events from the start of the public stream to its letter.issued (the
    intake peer publishes each before answering the workflow, so it is there once issued)."""
    subscription = await js.subscribe(
        "smartdesa.events.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    log = EventLog(app_id, [])
    try:
        while LETTER_ISSUED not in log.names():
            msg = await subscription.next_msg(timeout=30)
            # The stream is the session's: other tests' messages (some malformed on purpose)
            # come first, depending on which tests ran before in this process.
            if (msg.headers or {}).get("ce-subject") != app_id:
                continue
            log.events.append(CloudEvent.from_message(dict(msg.headers or {}), msg.data or b""))
    finally:
        await asyncio.wait_for(subscription.unsubscribe(), timeout=10)
    return log


# Events whose messages go to staff; and the one a stuck letter would raise.
STAFF_EVENTS = (
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_REMINDED,
    APPLICATION_ESCALATED,
    APPLICATION_SIGNING_BLOCKED,
)


async def _staff_notifications(
    service: Service, settings: Settings, log: EventLog
) -> list[tuple[str, str]]:
    """(template, recipient) of every message the notification service's rules plan for staff
    on these events, recipients looked up in this verification service (the resident's own
    messages are planned too, from the intake peer's contact, and left out here: none of them
    could be a stuck-letter alert)."""
    auth = InternalAuth.from_settings(settings, NOTIFICATION)
    intake = client_channel(settings.intake_grpc_target, auth, INTAKE)
    verification = client_channel(
        f"127.0.0.1:{service.runtime.grpc_server.port}", auth, VERIFICATION
    )
    try:
        recipients = RecipientLookup(intake, verification)
        messages = []
        for event in log.events:
            if event.name not in STAFF_EVENTS:
                continue
            plan = await plan_for(event, recipients, datetime.now(UTC))
            messages += [(m.template.name, m.recipient) for m in plan.in_app]
            messages += [(m.template.name, m.recipient) for m in plan.outgoing]
        return [(name, to) for name, to in messages if to.startswith(staff_recipient(""))]
    finally:
        await intake.close()
        await verification.close()


async def test_the_kades_signs_with_the_passphrase_when_approving(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    js: JetStreamContext,
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

    # The normal BSrE path, as every service saw it: the letter waited for the Kades's
    # signature and was issued; nothing said it was stuck, and nobody was told so.
    log = await _stream_until_issued(js, app_id)
    assert APPLICATION_SIGNING_BLOCKED not in log.names()
    assert log.names()[-3:] == [APPLICATION_DECIDED, APPLICATION_STEP_ASSIGNED, LETTER_ISSUED]
    assert log.events[-2].data["status"] == ApplicationStatus.AWAITING_SIGNATURE
    messages = await _staff_notifications(service, settings, log)
    templates = {template for template, _ in messages}
    assert not {"signing_blocked", "signing_blocked_kabupaten"} & templates
    # The Kades was told the letter waits for them (the signature step), nobody else.
    signature_step = log.events[-2]
    plan = await _staff_notifications(service, settings, EventLog(app_id, [signature_step]))
    assert plan and {recipient for _, recipient in plan} == {staff_recipient("kades.pamanukan")}
    # No stuck-letter task ever opened for it.
    async with service.runtime.sessions() as session:
        kinds = (await session.exec(select(Task.kind).where(Task.application_id == app_id))).all()
    assert "signing_blocked" not in kinds and "signature" in kinds


async def test_a_letter_approved_without_the_passphrase_waits_for_the_kades_signature(
    service: Service,
    signing: SigningRuntime,
    bsre: FakeBsre,
    queue: str,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    js: JetStreamContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app_id, handle = await _approve_up_to_kades(service, temporal_env, queue)

    # Approved without the passphrase: the letter waits for the Kades's signature, with a
    # signature task of its own; signing was not asked and took no number.
    status, state = await _post(
        service, "kades.pamanukan", f"/api/v1/tasks/{app_id}/decision", decision="approve"
    )
    assert status == 200, state
    assert (state["status"], state["step_role"], state["assignee_role"]) == (
        "awaiting_signature",
        "kades",
        "kades",
    )

    async def signature_task() -> dict[str, Any] | None:
        task = await _task(service, "kades.pamanukan", app_id)
        return task if task is not None and task["kind"] == "signature" else None

    task = await eventually(signature_task)
    assert task["deadline"] is not None
    assert bsre.requests == []
    async with signing.sessions() as session:
        assert (await session.exec(select(Letter))).all() == []  # no number taken

    path = f"/api/v1/tasks/{app_id}/retry-issue"
    # Without the passphrase there is nothing to sign with.
    status, body = await _post(service, "kades.pamanukan", path)
    assert status == 422 and body["type"].endswith("/passphrase-required")
    # A wrong passphrase: BSrE refuses, the Kades is told, the letter keeps waiting.
    status, body = await _post(service, "kades.pamanukan", path, passphrase="salah-ketik")
    assert status == 422, body
    assert body["type"].rsplit("/", 1)[-1] == "signing-refused"
    assert "Passphrase anda salah" in body["detail"]
    assert "salah-ketik" not in str(body)
    assert len(bsre.requests) == 1  # not retried
    assert (await handle.query("state"))["status"] == "awaiting_signature"
    # Only the signer role, Sekdes or Kades may sign: the Kasi is refused before BSrE is asked.
    status, body = await _post(service, "pemerintahan.pamanukan", path, passphrase=PASSPHRASE)
    assert status in (403, 404), body
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
    log = await _stream_until_issued(js, app_id)
    assert APPLICATION_SIGNING_BLOCKED not in log.names()
