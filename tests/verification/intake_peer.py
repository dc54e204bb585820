"""A real gRPC IntakeService peer for verification's tests (intake is built in parallel).

It serves fixed applications and attachment bytes, and, like intake, turns each
RecordProgress from the approval workflow into a public ApplicationEvent on NATS (published
directly here rather than through an outbox). No personal data goes into those events.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from smartdesa.v1 import events_pb2, intake_pb2

from common.events import (
    CloudEvent,
    deterministic_event_id,
    event_type,
    proto_data,
    public_subject,
)
from common.messaging import publish
from services.intake.applications import EVENT_SOURCE
from services.intake.letter_types import LetterType
from services.intake.servicer import letter_type_catalogue
from tests.support.catalogue import seed_letter_types
from tests.support.stand_ins import IntakeStandIn


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


@dataclass
class StoredApplication:
    application: intake_pb2.Application
    files: dict[str, bytes] = field(default_factory=dict)


class IntakePeer(IntakeStandIn):
    def __init__(self, js: JetStreamContext | None = None) -> None:
        self.applications: dict[str, StoredApplication] = {}
        self.recorded: list[intake_pb2.RecordProgressRequest] = []
        self.walk_ins: list[intake_pb2.FileWalkInRequest] = []
        # The catalogue ListLetterTypes answers, when a test sets its own (else the seed's).
        self.letter_types: list[LetterType] | None = None
        # Intake's sign-in bindings as its ListSignInBindings answers them, and the phone
        # changes and undos verification asked for (intake's own tests cover what it does).
        self.bindings: dict[str, tuple[str, intake_pb2.SignInBinding]] = {}
        self.phone_changes: list[intake_pb2.ChangeSignInPhoneRequest] = []
        # Refusals FileWalkIn answers, in order, before it files: (code, details, field).
        self.walk_in_refusals: list[tuple[grpc.StatusCode, str, str]] = []
        self._js = js

    async def ListSignInBindings(
        self, request: intake_pb2.ListSignInBindingsRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ListSignInBindingsResponse:
        return intake_pb2.ListSignInBindingsResponse(
            bindings=[
                b
                for desa, b in self.bindings.values()
                if desa == request.desa_code and (request.include_undone or not b.undone_by)
            ]
        )

    async def UndoSignInBinding(
        self, request: intake_pb2.UndoSignInBindingRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.UndoSignInBindingResponse:
        found = self.bindings.get(request.binding_id)
        if found is None or found[0] != request.desa_code:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such binding in this desa")
        assert found is not None
        if found[1].undone_by:
            return intake_pb2.UndoSignInBindingResponse(undone=False)
        found[1].undone_by = request.undone_by
        found[1].undone_at.GetCurrentTime()
        return intake_pb2.UndoSignInBindingResponse(undone=True)

    async def ChangeSignInPhone(
        self, request: intake_pb2.ChangeSignInPhoneRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ChangeSignInPhoneResponse:
        self.phone_changes.append(request)
        return intake_pb2.ChangeSignInPhoneResponse(told=len(request.old_phones))

    def add(
        self,
        application_id: str,
        desa_code: str,
        attachments: dict[str, tuple[str, str, bytes]] | None = None,
        number: str = "",
    ) -> intake_pb2.Application:
        """An in-review SKD application; attachments: id -> (kind, content type, bytes)."""
        attachments = attachments or {}
        app = intake_pb2.Application(
            id=application_id,
            number=number,
            desa_code=desa_code,
            letter_type="SKD",
            purpose="Persyaratan melamar pekerjaan",
            fields={"alamat": "Dusun Krajan RT 001 RW 002"},
            status="in_review",
            resident_id="resident-1",
            nik="3213114509870001",
            attachments=[
                intake_pb2.AttachmentInfo(
                    id=att_id, kind=kind, content_type=ctype, size_bytes=len(data), sha256="x"
                )
                for att_id, (kind, ctype, data) in attachments.items()
            ],
            created_at=timestamp(datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
            submitted_at=timestamp(datetime(2026, 11, 2, 1, 30, tzinfo=UTC)),
        )
        self.applications[application_id] = StoredApplication(
            app, {att_id: data for att_id, (_, _, data) in attachments.items()}
        )
        return app

    async def GetApplication(
        self, request: intake_pb2.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Application:
        stored = self.applications.get(request.application_id)
        if stored is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "application not found")
        assert stored is not None
        return stored.application

    async def GetAttachment(
        self, request: intake_pb2.GetAttachmentRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.AttachmentContent:
        stored = self.applications.get(request.application_id)
        data = stored.files.get(request.attachment_id) if stored else None
        if stored is None or data is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "attachment not found")
        assert stored is not None and data is not None
        info = next(a for a in stored.application.attachments if a.id == request.attachment_id)
        return intake_pb2.AttachmentContent(info=info, content=data)

    async def GetContact(
        self, request: intake_pb2.GetContactRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Contact:
        """Notification's rules ask it (tests that plan messages for these applications); a
        made-up number, never a real one."""
        stored = self.applications.get(request.application_id)
        if stored is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such application")
        assert stored is not None
        app = stored.application
        return intake_pb2.Contact(
            resident_id=app.resident_id,
            phone="+6281200000001",
            application_number=app.number,
            status=app.status,
        )
        raise AssertionError("unreachable")

    async def ListLetterTypes(
        self, request: intake_pb2.ListLetterTypesRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.LetterTypeCatalogue:
        # As intake answers: the catalogue's types (the seed's, as intake converts them),
        # or those a test set.
        if self.letter_types is not None:
            return letter_type_catalogue(self.letter_types)
        return letter_type_catalogue(seed_letter_types().values())

    async def FileWalkIn(
        self, request: intake_pb2.FileWalkInRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.FileWalkInResponse:
        """Records the filing and answers as intake does (nothing checked here), or refuses as
        intake would with the next of `walk_in_refusals`. A filed walk-in can then be read
        (GetApplication) as in review, numbered, with its scans."""
        if self.walk_in_refusals:
            code, details, field_name = self.walk_in_refusals.pop(0)
            context.set_trailing_metadata((("smartdesa-field", field_name),))
            await context.abort(code, details)
        self.walk_ins.append(request)
        application_id = f"walk-in-{len(self.walk_ins)}"
        self.applications[application_id] = StoredApplication(
            intake_pb2.Application(
                id=application_id,
                number=f"{request.letter_type}-2026-{len(self.walk_ins):06d}",
                desa_code=request.desa_code,
                letter_type=request.letter_type,
                purpose=request.purpose,
                fields=dict(request.fields),
                status="in_review",
                resident_id="resident-walk-in",
                nik=request.nik,
                channel="walk_in",
                filed_by=request.filed_by,
                attachments=[
                    intake_pb2.AttachmentInfo(
                        id=f"{application_id}-{a.kind}",
                        kind=a.kind,
                        size_bytes=len(a.content),
                    )
                    for a in request.attachments
                ],
                created_at=timestamp(datetime(2026, 12, 7, 2, 0, tzinfo=UTC)),
                submitted_at=timestamp(datetime(2026, 12, 7, 2, 0, tzinfo=UTC)),
            ),
            {f"{application_id}-{a.kind}": a.content for a in request.attachments},
        )
        return intake_pb2.FileWalkInResponse(
            application_id=application_id, status="in_review", created=True
        )

    async def RecordProgress(
        self, request: intake_pb2.RecordProgressRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.RecordProgressResponse:
        if any(
            r.application_id == request.application_id and r.sequence == request.sequence
            for r in self.recorded
        ):
            return intake_pb2.RecordProgressResponse(applied=False)
        self.recorded.append(request)
        stored = self.applications[request.application_id].application
        # The timeline the staff page shows, as intake keeps it (roles, never usernames).
        stored.timeline.append(
            intake_pb2.TimelineEntry(
                at=request.occurred_at,
                event=request.event,
                status=request.status,
                step_index=request.current_step.index,
                step_role=request.current_step.role,
                decision=request.decision,
                actor_role=request.actor_role,
                reason=request.reason,
                decided_as=request.decided_as,
            )
        )
        if self._js is not None:
            payload = events_pb2.ApplicationEvent(
                application_id=request.application_id,
                desa_code=stored.desa_code,
                letter_type=stored.letter_type,
                status=request.status,
                step_index=request.current_step.index,
                step_role=request.current_step.role,
                decision=request.decision,
                escalated_to_role=request.escalated_to_role,
                escalation_level=request.escalation_level,
            )
            if request.HasField("deadline"):
                payload.deadline = request.deadline.ToJsonString()
            if request.decision:  # a decision names who acted, not who acts next
                payload.step_role = request.actor_role
            await publish(
                self._js,
                public_subject(stored.desa_code, request.event),
                CloudEvent(
                    id=deterministic_event_id(request.application_id, str(request.sequence)),
                    source=EVENT_SOURCE,
                    type=event_type(request.event),
                    subject=request.application_id,
                    time=request.occurred_at.ToDatetime(UTC),
                    data=proto_data(payload),
                ),
            )
        return intake_pb2.RecordProgressResponse(applied=True)
