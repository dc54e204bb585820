"""Every letter type of the seeded catalogue, issued end to end (issue 16 item 2): an
application with valid values for the type's fields (checked by intake's own field checks) and
an upload for each required syarat goes through the real approval workflow on Temporal, with the
real activities, along the type's default route, to the real signing service, which numbers,
renders (with the Dukcapil forms the type attaches) and signs it PAdES B-LTA; the PDF verifies.

One signing service, one worker and the session's Temporal server serve all the types: the
module costs one stack, not one per type. The intake and directory it talks to are gRPC peers
serving the applications and the catalogue's routes (tests/workflows/peers.py)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import grpc
import pytest
from smartdesa.v1 import directory_pb2, directory_pb2_grpc, intake_pb2, intake_pb2_grpc
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from common.auth import InternalAuth
from common.domain import ApplicationStatus
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, GrpcServer, client_channel
from services.intake import letter_types as intake_types
from services.signing.catalogue.definition import KODE_NOT_SET, FieldSpec, LetterTypeDef, load_seed
from services.signing.catalogue.forms import find_form
from services.signing.catalogue.store import list_current
from services.signing.main import create_app
from services.signing.models import DesaProfile, Letter
from services.signing.pdf_verification import check_pdf
from services.signing.runtime import Runtime
from tests.signing.conftest import make_settings
from tests.signing.pdf_text import page_texts, squeeze
from tests.workflows.peers import DirectoryPeer, IntakeRecorder
from workflows.approval import workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput, DecisionInput
from workflows.approval.workflows import LetterApprovalWorkflow

# The repository's seed catalogue (what signing publishes as version 1 at start).
LETTER_TYPES = load_seed()
PAMANUKAN = "32.13.11.2004"
NIK = "3213115705900001"
# The code Pamanukan gives the types whose kode klasifikasi the catalogue leaves open (a desa
# must set one before it can issue them).
DESA_KODE = "100.3.4"


def _value(spec: FieldSpec, i: int) -> str:
    """A valid value of the field's kind, as a resident (or the register) gives it."""
    if spec.kind == "date":
        return date(1990 + i % 30, 1 + i % 12, 1 + i % 28).isoformat()
    if spec.kind == "time":
        return f"{8 + i % 10:02d}:{i % 60:02d}"
    if spec.kind == "digits":
        return str(1 + i % 9)
    if spec.kind == "choice":
        return spec.choices[i % len(spec.choices)]
    return f"{spec.label} {i}"[: spec.max_length]


def _intake_type(d: LetterTypeDef) -> intake_types.LetterType:
    """The catalogue's type as intake's checks take it."""
    return intake_types.LetterType(
        code=d.code,
        name=d.name,
        description=d.description,
        requirements=tuple(
            intake_types.Requirement(s.code, s.name, s.description)
            for s in d.syarat
            if s.kind == "wajib"
        ),
        fields=tuple(
            intake_types.FormField(
                name=f.name,
                label=f.label,
                required=f.required,
                kind=f.kind,  # type: ignore[arg-type]
                max_length=f.max_length,
                choices=f.choices,
            )
            for f in d.fields
        ),
    )


def application(d: LetterTypeDef) -> intake_pb2.Application:
    fields = {f.name: _value(f, i) for i, f in enumerate(d.fields)}
    fields["nama"] = "Siti Aminah"
    intake_type = _intake_type(d)
    assert intake_types.field_errors(intake_type, fields) == {}, d.code
    return intake_pb2.Application(
        id=f"every-type-{d.code.lower()}-{uuid.uuid4().hex[:8]}",
        desa_code=PAMANUKAN,
        letter_type=d.code,
        purpose="Persyaratan administrasi",
        fields=fields,
        status="in_review",
        nik=NIK,
        attachments=[
            intake_pb2.AttachmentInfo(
                id=str(uuid.uuid4()), kind=code, content_type="image/jpeg", size_bytes=1000
            )
            for code in intake_type.requirement_codes
        ],
    )


class Applications(IntakeRecorder):
    """Intake as the workflow reaches it, holding the submitted applications."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[str, intake_pb2.Application] = {}

    async def GetApplication(
        self, request: intake_pb2.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Application:
        return self.held[request.application_id]


class CatalogueRoutes(DirectoryPeer):
    """Verification's directory for a desa that set no routes: each type's default route, the
    catalogue's."""

    def __init__(self, types: dict[str, LetterTypeDef]) -> None:
        super().__init__(directory_pb2.Route())
        self.types = types

    async def GetRoute(
        self, request: directory_pb2.GetRouteRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.Route:
        route = self.types[request.letter_type].route
        return directory_pb2.Route(
            steps=[
                directory_pb2.RouteStep(role=s.role, deadline_working_hours=s.hours)
                for s in route.steps
            ],
            signer_role=route.signer,
        )


@dataclass
class Stack:
    runtime: Runtime
    client: Client
    task_queue: str
    intake: Applications
    types: dict[str, LetterTypeDef] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, temporal_env: WorkflowEnvironment
) -> AsyncIterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("every-type")
    settings = make_settings(data_dir, nats_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        async with runtime.sessions() as session:
            # The catalogue as signing published it from the seed files at start.
            types = {d.code: d for d in await list_current(session)}
            profile = await session.get(DesaProfile, PAMANUKAN)
            assert profile is not None
            profile.kode_klasifikasi = {
                code: DESA_KODE for code, d in types.items() if d.kode_klasifikasi == KODE_NOT_SET
            }
            session.add(profile)
            await session.commit()
        intake, directory = Applications(), CatalogueRoutes(types)
        servers = [
            GrpcServer(
                "127.0.0.1:0",
                InternalAuth.from_settings(settings, INTAKE),
                ["smartdesa.v1.IntakeService"],
                lambda s: intake_pb2_grpc.add_IntakeServiceServicer_to_server(intake, s),
            ),
            GrpcServer(
                "127.0.0.1:0",
                InternalAuth.from_settings(settings, VERIFICATION),
                ["smartdesa.v1.DirectoryService"],
                lambda s: directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, s),
            ),
        ]
        for server in servers:
            await server.start()
        auth = InternalAuth.from_settings(settings, WORKER)
        channels = [
            client_channel(f"127.0.0.1:{servers[0].port}", auth, INTAKE),
            client_channel(f"127.0.0.1:{servers[1].port}", auth, VERIFICATION),
            client_channel(f"127.0.0.1:{runtime.grpc_server.port}", auth, SIGNING),
        ]
        activities = ApprovalActivities(*channels)
        task_queue = f"every-type-{uuid.uuid4()}"
        try:
            async with Worker(
                temporal_env.client,
                task_queue=task_queue,
                workflows=[LetterApprovalWorkflow],
                activities=[
                    activities.resolve_route,
                    activities.record_progress,
                    activities.issue_letter,
                ],
            ):
                yield Stack(runtime, temporal_env.client, task_queue, intake, types)
        finally:
            for channel in channels:
                await channel.close()
            for server in servers:
                await server.stop(0)


def test_the_catalogue_has_the_42_types_of_the_issue() -> None:
    assert len(LETTER_TYPES) >= 42


async def _assigned(client: Client, wid: str, index: int) -> None:
    """Staff act once their step is assigned (their task appears then)."""
    handle = client.get_workflow_handle_for(LetterApprovalWorkflow.run, wid)
    deadline = asyncio.get_running_loop().time() + 60
    while (await handle.query(LetterApprovalWorkflow.state)).step_index != index:
        assert asyncio.get_running_loop().time() < deadline, f"step {index} never assigned"
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Issued:
    status: str
    reason: str
    number: str
    letter: Letter | None
    pdf: bytes


async def _issue(stack: Stack, d: LetterTypeDef) -> Issued:
    """One application of type `d`, submitted, approved along the type's route, issued."""
    app = application(d)
    stack.intake.held[app.id] = app
    handle = await stack.client.start_workflow(
        LetterApprovalWorkflow.run,
        ApprovalInput(application_id=app.id, desa_code=PAMANUKAN, letter_type=d.code),
        id=workflow_id(app.id),
        task_queue=stack.task_queue,
    )
    for index, step in enumerate(d.route.steps):
        await _assigned(stack.client, handle.id, index)
        await handle.execute_update(
            LetterApprovalWorkflow.decide,
            DecisionInput(
                request_id=str(uuid.uuid4()),
                decision="approve",
                step_index=index,
                actor_username=f"{step.role}.pamanukan",
                actor_role=step.role,
                actor_desa_code=PAMANUKAN,
            ),
        )
    result = await handle.result()
    letter = await stack.runtime.issuer.find_issued(app.id)
    pdf = await stack.runtime.issuer.read_pdf(letter) if letter is not None else b""
    number = result.letter.number if result.letter is not None else ""
    return Issued(result.status, result.blocked_reason, number, letter, pdf)


@pytest.fixture(scope="module")
async def issued(stack: Stack) -> dict[str, Issued | BaseException]:
    """Every type issued once, several at a time (as a desa's staff would): the module's
    wall time is the slowest few letters, not the sum of all."""
    slots = asyncio.Semaphore(8)

    async def one(d: LetterTypeDef) -> Issued:
        async with slots:
            return await _issue(stack, d)

    codes = sorted(stack.types)
    # A type that fails fails its own test below, not every type's.
    results = await asyncio.gather(*(one(stack.types[c]) for c in codes), return_exceptions=True)
    return dict(zip(codes, results, strict=True))


@pytest.mark.parametrize("code", sorted(LETTER_TYPES))
async def test_every_type_is_issued_signed_and_verifies(
    stack: Stack, issued: dict[str, Issued | BaseException], code: str
) -> None:
    d, done = stack.types[code], issued[code]
    if isinstance(done, BaseException):
        raise done
    assert done.status == ApplicationStatus.ISSUED, (code, done.reason)
    letter = done.letter
    assert letter is not None and letter.number == done.number
    assert letter.template_version == d.template_version
    kode = DESA_KODE if d.kode_klasifikasi == KODE_NOT_SET else d.kode_klasifikasi
    assert letter.kode_klasifikasi == kode and letter.number.startswith(f"{kode}/")
    check = await asyncio.to_thread(check_pdf, done.pdf, stack.runtime.signers.root_cert_asn1)
    assert check.conclusion == "valid" and check.long_term, (code, check.message())

    pages = page_texts(done.pdf)
    assert squeeze(d.title) in squeeze(pages[0]) and "Siti Aminah" in pages[0]
    assert len(pages) == 1 + len(d.forms), code
    for page, entry in zip(pages[1:], d.forms, strict=True):
        form = find_form(entry.code, entry.version)
        assert form is not None
        assert squeeze(f"Kode. {form.code}") in squeeze(page), (code, form.code)
        assert squeeze(form.title) in squeeze(page), (code, form.code)
        assert squeeze(letter.number) in squeeze(page), (code, form.code)
