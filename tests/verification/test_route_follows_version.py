"""A type's default route is part of its catalogue version (issue 16 item 4): an application
keeps the version it started with, so a version with another default route, published while
the application is a draft, leaves its route as it was; an application started afterwards
follows the new one. The desa's own route still wins over either.

Real parts, in-process: intake (which pins the version and starts the workflow on a queue no
worker polls), verification (DirectoryService.GetRoute), signing (CatalogueService) and the
approval workflow's own route activity, run on the input the workflow was started with."""

import json
from typing import Any

from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc
from temporalio.testing import WorkflowEnvironment

from common.auth import InternalAuth
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from services.signing.runtime import Runtime as SigningRuntime
from services.verification.models import RouteOverride
from services.verification.routes import StepSpec, route_to_json
from tests.intake import samples
from tests.intake.conftest import Intake, Register, register_ani
from tests.support.catalogue import SEED
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN
from tests.verification.test_desa_profile_api import settings as settings  # noqa: F401
from tests.verification.test_desa_profile_api import signing as signing  # noqa: F401
from tests.verification.test_new_type_requested import intake as intake  # noqa: F401
from workflows.approval import workflow_id
from workflows.approval.activities import ApprovalActivities
from workflows.approval.models import ApprovalInput

V1_ROLES = ["kasi_pemerintahan", "sekdes", "kades"]  # the seed's SKD route
V2_ROLES = ["sekdes", "kades"]


def _skd_with_shorter_route() -> str:
    data: dict[str, Any] = json.loads(SEED["SKD"].to_json())
    data["route"] = {
        "steps": [{"role": "sekdes", "hours": 4}, {"role": "kades", "hours": 4}],
        "signer": "kades",
    }
    return json.dumps(data)


async def _submitted(intake: Intake, headers: dict[str, str], application_id: str) -> None:
    for kind, content in (("KTP", samples.JPEG), ("KK", samples.pdf())):
        assert (await intake.upload(headers, application_id, kind, content)).status_code == 201
    submitted = await intake.http.post(
        f"/api/v1/applications/{application_id}/submit", headers=headers
    )
    assert submitted.status_code == 202, submitted.text


async def _started_with(env: WorkflowEnvironment, application_id: str) -> ApprovalInput:
    """The input intake started the application's workflow with, from its history."""
    handle = env.client.get_workflow_handle(workflow_id(application_id))
    async for event in handle.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        (found,) = await env.client.data_converter.decode(started.input.payloads, [ApprovalInput])
        assert isinstance(found, ApprovalInput)
        return found
    raise AssertionError("no workflow was started")


async def test_a_new_default_route_leaves_applications_begun_before_on_theirs(
    service: Service,
    signing: SigningRuntime,
    intake: Intake,
    temporal_env: WorkflowEnvironment,
) -> None:
    await register_ani(Register(service.runtime.sessions, service.runtime.grpc_server))
    headers = await intake.sign_in()
    draft = await intake.create_application(headers)  # SKD-v1: three steps

    auth = InternalAuth.from_settings(intake.runtime.settings, INTAKE)
    async with client_channel(f"127.0.0.1:{signing.grpc_server.port}", auth, SIGNING) as channel:
        published = await catalogue_pb2_grpc.CatalogueServiceStub(channel).PublishLetterType(
            catalogue_pb2.PublishLetterTypeRequest(
                definition_json=_skd_with_shorter_route(), published_by="kab.operator"
            )
        )
    assert published.letter_type.version == 2
    for reader in (intake.runtime.catalogue, service.runtime.catalogue):
        reader.forget_current()  # both read the new version as current at once
    later = await intake.create_application(headers)

    await _submitted(intake, headers, draft)
    await _submitted(intake, headers, later)
    inputs = [await _started_with(temporal_env, a) for a in (draft, later)]
    assert [i.letter_type_version for i in inputs] == ["SKD-v1", "SKD-v2"]

    worker = InternalAuth.from_settings(intake.runtime.settings, WORKER)
    targets = (
        (f"127.0.0.1:{intake.runtime.grpc_server.port}", INTAKE),
        (f"127.0.0.1:{service.runtime.grpc_server.port}", VERIFICATION),
        (f"127.0.0.1:{signing.grpc_server.port}", SIGNING),
    )
    async with (
        client_channel(targets[0][0], worker, targets[0][1]) as to_intake,
        client_channel(targets[1][0], worker, targets[1][1]) as to_verification,
        client_channel(targets[2][0], worker, targets[2][1]) as to_signing,
    ):
        activities = ApprovalActivities(to_intake, to_verification, to_signing)
        routes = [await activities.resolve_route(i) for i in inputs]
        assert [[s.role for s in r.steps] for r in routes] == [V1_ROLES, V2_ROLES]
        assert [s.deadline_working_hours for s in routes[1].steps] == [4, 4]
        # A workflow started before the version was passed along: the current version's.
        old = ApprovalInput(application_id=draft, desa_code=PAMANUKAN, letter_type="SKD")
        assert [s.role for s in (await activities.resolve_route(old)).steps] == V2_ROLES

        # The desa's own route wins over the default of whichever version.
        async with service.runtime.sessions() as session:
            session.add(
                RouteOverride(
                    desa_code=PAMANUKAN,
                    letter_type="SKD",
                    steps_json=route_to_json((StepSpec("kades", 8),)),
                    signer_role="kades",
                    updated_by="kades.pamanukan",
                )
            )
            await session.commit()
        for started in inputs:
            assert [s.role for s in (await activities.resolve_route(started)).steps] == ["kades"]
