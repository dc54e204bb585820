"""gRPC IntakeService: staff read applications, the workflow records progress, the notification
service looks up contacts. Callers are authenticated by common.rpc's internal-token interceptor."""

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc, population_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain import ApplicationStatus
from common.domain.errors import DomainError
from common.rpc import domain_code
from common.temporal_client import TemporalConnection
from services.intake.applications import (
    WALK_IN,
    WHATSAPP,
    details,
    load_fields,
    register_field_names,
)
from services.intake.attachments import read_attachment
from services.intake.catalogue import Catalogue, CatalogueUnavailable
from services.intake.duties_models import Complaint
from services.intake.file_safety import ACCEPTED_TYPES, HEAD_BYTES, MAX_ATTACHMENT_BYTES
from services.intake.kept_documents import kept_documents, kept_path
from services.intake.letter_types import (
    PURPOSE_MAX_LENGTH,
    LetterType,
    field_errors,
    stored_value,
)
from services.intake.models import (
    Attachment,
    LetterApplication,
    Resident,
    TimelineEntry,
)
from services.intake.otp import code_contact
from services.intake.progress import InvalidProgress, UnknownApplication, record_progress
from services.intake.register_data import RegisterUnavailable
from services.intake.sign_in_bindings import (
    change_phone,
    list_bindings,
    notice_phone,
    resident_session_valid,
    undo_binding,
)
from services.intake.task_hand_over import TaskHandOver
from services.intake.uploads import ReceivedFile, clean_filename
from services.intake.walk_in import (
    PhoneMismatch,
    Scan,
    WalkIn,
    WalkInRefused,
    WalkInUnavailable,
    file_walk_in,
)

log = logging.getLogger(__name__)


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(as_utc(value))
    return ts


def _timeline_entry(entry: TimelineEntry) -> intake_pb2.TimelineEntry:
    return intake_pb2.TimelineEntry(
        at=_timestamp(entry.at),
        event=entry.event,
        status=entry.status,
        step_index=entry.step_index,
        step_role=entry.step_role or "",
        decision=entry.decision,
        actor_role=entry.actor_role,
        reason=entry.reason,
        deadline=_timestamp(entry.deadline),
        escalated_to_role=entry.escalated_to_role,
        escalation_level=entry.escalation_level,
        decided_as=entry.decided_as,
    )


async def _application_with_resident(
    session: AsyncSession, application_id: str
) -> tuple[LetterApplication, Resident] | None:
    """An application and its resident in one query; None when there is no such application."""
    row = (
        await session.exec(
            select(LetterApplication, Resident)
            .join(Resident, col(Resident.id) == col(LetterApplication.resident_id))
            .where(LetterApplication.id == application_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


def attachment_info(attachment: Attachment) -> intake_pb2.AttachmentInfo:
    return intake_pb2.AttachmentInfo(
        id=attachment.id,
        kind=attachment.kind,
        content_type=attachment.content_type,
        size_bytes=attachment.size_bytes,
        sha256=attachment.sha256,
    )


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        attachments_root: Path,
        on_committed: Callable[[], None],
        temporal: TemporalConnection,
        task_queue: str,
        catalogue: Catalogue,
        population: population_pb2_grpc.PopulationServiceStub | None = None,
        kept_document_days: int = 365,
        hand_over: TaskHandOver | None = None,
    ) -> None:
        self._sessions = sessions
        self._hand_over = hand_over  # recorded events to verification's task inbox, early
        self._kept_days = kept_document_days  # how long a kept KTP/KK may be reused
        self._catalogue = catalogue  # the letter types a walk-in may be filed for
        self._population = population  # a walk-in's identity fields come from the register
        self._attachments_root = attachments_root
        self._on_committed = on_committed  # wakes the outbox relay
        self._temporal = temporal  # walk-ins start their approval workflow
        self._task_queue = task_queue

    async def GetApplication(
        self, request: intake_pb2.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Application:
        if not request.application_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "application_id is required")
        async with self._sessions() as session:
            # The application with its resident in one query, and its attachments read once
            # (`details` reads them with the timeline).
            row = await _application_with_resident(session, request.application_id)
            if row is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "application not found")
            assert row is not None
            application, resident = row
            found = await details(session, application)
            attachments, timeline = found.attachments, found.timeline
        return intake_pb2.Application(
            id=application.id,
            desa_code=application.desa_code,
            letter_type=application.letter_type,
            purpose=application.purpose,
            fields=load_fields(application),
            status=application.status,
            resident_id=application.resident_id,
            nik=resident.nik,
            attachments=[attachment_info(a) for a in attachments],
            created_at=_timestamp(application.created_at),
            submitted_at=_timestamp(application.submitted_at),
            status_reason=application.status_reason,
            timeline=[_timeline_entry(e) for e in timeline],
            channel=application.channel,
            from_register=application.register_version is not None,
            register_version=application.register_version or 0,
            register_fields=sorted(register_field_names(application)),
            letter_type_version=application.letter_type_version,
            filed_by=application.filed_by,
            number=application.number or "",
        )

    async def GetAttachment(
        self, request: intake_pb2.GetAttachmentRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.AttachmentContent:
        if not request.application_id or not request.attachment_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "application_id and attachment_id are required"
            )
        async with self._sessions() as session:
            attachment = await session.get(Attachment, request.attachment_id)
        if attachment is None or attachment.application_id != request.application_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, "attachment not found")
        assert attachment is not None
        try:
            content = await read_attachment(self._attachments_root, attachment)
        except FileNotFoundError:
            log.error("attachment %s has a row but no file", attachment.id)
            await context.abort(grpc.StatusCode.DATA_LOSS, "attachment file is missing")
        return intake_pb2.AttachmentContent(info=attachment_info(attachment), content=content)

    async def GetContact(
        self, request: intake_pb2.GetContactRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Contact:
        who = request.WhichOneof("who")
        application: LetterApplication | None = None
        async with self._sessions() as session:
            if who == "sign_in_id" and request.sign_in_id:
                recipient = await code_contact(session, request.sign_in_id)
                if recipient is None:
                    await context.abort(grpc.StatusCode.NOT_FOUND, "no one to send this code to")
                assert recipient is not None
                return intake_pb2.Contact(
                    resident_id=recipient.resident_id or "", phone=recipient.phone
                )
            if who == "sign_in_notice_id" and request.sign_in_notice_id:
                phone = await notice_phone(session, request.sign_in_notice_id)
                if phone is None:
                    await context.abort(grpc.StatusCode.NOT_FOUND, "no number for this notice")
                assert phone is not None
                return intake_pb2.Contact(phone=phone)
            if who == "complaint_id" and request.complaint_id:
                complaint = await session.get(Complaint, request.complaint_id)
                if complaint is None or not complaint.resident_id:
                    # Filed through the public form: no contact was asked, none is kept.
                    await context.abort(grpc.StatusCode.NOT_FOUND, "no resident for this complaint")
                assert complaint is not None and complaint.resident_id
                resident = await session.get(Resident, complaint.resident_id)
            elif who == "resident_id" and request.resident_id:
                resident = await session.get(Resident, request.resident_id)
            elif who == "application_id" and request.application_id:
                # The application with its resident in one query (asked once per message).
                row = await _application_with_resident(session, request.application_id)
                application, resident = row if row is not None else (None, None)
            else:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "resident_id, application_id or sign_in_id is required",
                )
        if resident is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no resident for this {who}")
        assert resident is not None
        contact = intake_pb2.Contact(resident_id=resident.id, phone=resident.phone)
        if who == "application_id" and application is not None:
            contact.application_number = application.number or ""
            contact.status = application.status
            # Signing's reason is for staff (api/schemas.py): the resident is not quoted it.
            if application.status != ApplicationStatus.SIGNING_BLOCKED:
                contact.status_reason = application.status_reason
        return contact

    async def GetResidentSession(
        self, request: intake_pb2.GetResidentSessionRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ResidentSessionState:
        """Whether the resident signed this token out (the token itself is checked by the
        asking service; its session id is all intake keeps)."""
        if not request.resident_id or not request.session_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "resident_id and session_id are required"
            )
        async with self._sessions() as session:
            ended = not await resident_session_valid(
                session, request.resident_id, request.session_id, request.session_version
            )
        return intake_pb2.ResidentSessionState(ended=ended)

    async def ListSignInBindings(
        self, request: intake_pb2.ListSignInBindingsRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ListSignInBindingsResponse:
        if not request.desa_code:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desa_code is required")
        async with self._sessions() as session:
            found = await list_bindings(session, request.desa_code, request.include_undone)
        return intake_pb2.ListSignInBindingsResponse(
            bindings=[
                intake_pb2.SignInBinding(
                    id=b.id,
                    nik=b.nik,
                    phone=b.phone,
                    bound_at=_timestamp(b.bound_at),
                    undone_at=_timestamp(b.undone_at),
                    undone_by=b.undone_by,
                )
                for b in found
            ]
        )

    async def UndoSignInBinding(
        self, request: intake_pb2.UndoSignInBindingRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.UndoSignInBindingResponse:
        if not request.binding_id or not request.desa_code or not request.undone_by:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "binding_id, desa_code and undone_by are required",
            )
        async with self._sessions() as session:
            try:
                undone = await undo_binding(
                    session, request.binding_id, request.desa_code, request.undone_by
                )
            except DomainError:
                await context.abort(grpc.StatusCode.NOT_FOUND, "no such binding in this desa")
        return intake_pb2.UndoSignInBindingResponse(undone=undone)

    async def ChangeSignInPhone(
        self, request: intake_pb2.ChangeSignInPhoneRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ChangeSignInPhoneResponse:
        if not request.desa_code or not request.changed_by:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "desa_code and changed_by are required"
            )
        async with self._sessions() as session:
            try:
                told = await change_phone(
                    session,
                    request.nik,
                    request.new_phone,
                    list(request.old_phones),
                    request.desa_code,
                )
            except DomainError as exc:  # names the field, never the NIK
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.code)
        self._on_committed()  # the notices' events
        return intake_pb2.ChangeSignInPhoneResponse(told=told)

    async def RecordProgress(
        self, request: intake_pb2.RecordProgressRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.RecordProgressResponse:
        async with self._sessions() as session:
            try:
                event = await record_progress(session, request)
            except InvalidProgress as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except UnknownApplication:
                await context.abort(grpc.StatusCode.NOT_FOUND, "application not found")
        if event is None:
            return intake_pb2.RecordProgressResponse(applied=False)
        self._on_committed()
        if self._hand_over is not None:
            # A step assigned: answered once the task is in the inbox (or the hand-over gave up).
            await self._hand_over(event)
        return intake_pb2.RecordProgressResponse(applied=True)

    async def ListLetterTypes(
        self, request: intake_pb2.ListLetterTypesRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.LetterTypeCatalogue:
        try:
            current = await self._catalogue.current()
        except CatalogueUnavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "catalogue-unavailable")
            raise
        return letter_type_catalogue(current.values())

    async def FileWalkIn(
        self, request: intake_pb2.FileWalkInRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.FileWalkInResponse:
        channel = request.channel or WALK_IN
        kept: dict[str, bytes] = {}
        if any(a.from_kept for a in request.attachments):
            if channel != WHATSAPP:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "from_kept is for the resident's own channel"
                )
            kept = await self._kept_contents(request.nik)
            missing = [a.kind for a in request.attachments if a.from_kept and a.kind not in kept]
            if missing:
                context.set_trailing_metadata((("smartdesa-field", f"attachments.{missing[0]}"),))
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Tidak ada {missing[0]} tersimpan yang masih berlaku; kirim fotonya.",
                )
        walk_in = WalkIn(
            request_id=request.request_id,
            desa_code=request.desa_code,
            nik=request.nik,
            phone=request.phone,
            letter_type=request.letter_type,
            purpose=request.purpose,
            fields=dict(request.fields),
            scans=[
                Scan(
                    kind=a.kind,
                    content=kept[a.kind] if a.from_kept else a.content,
                    filename=a.filename,
                )
                for a in request.attachments
            ],
            filed_by=request.filed_by,
            channel=channel,
        )
        async with self._sessions() as session:
            try:
                filed = await file_walk_in(
                    session,
                    self._attachments_root,
                    self._temporal,
                    self._task_queue,
                    walk_in,
                    catalogue=self._catalogue,
                    population=self._population,
                )
            except WalkInRefused as exc:
                # The message is Indonesian text for the staff member; it names no person.
                code = (
                    grpc.StatusCode.FAILED_PRECONDITION
                    if isinstance(exc, PhoneMismatch)
                    else grpc.StatusCode.INVALID_ARGUMENT
                )
                context.set_trailing_metadata((("smartdesa-field", exc.field),))
                await context.abort(code, str(exc))
                raise  # unreachable: abort raises
            except (RegisterUnavailable, CatalogueUnavailable) as exc:
                # Nothing filed; the details are the error's code, for verification to word.
                await context.abort(grpc.StatusCode.UNAVAILABLE, exc.code)
                raise
            except WalkInUnavailable as exc:
                log.warning("walk-in %s filed but its workflow did not start", exc.application_id)
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE, "approval workflow unavailable; retry"
                )
                raise
        self._on_committed()
        return intake_pb2.FileWalkInResponse(
            application_id=filed.application.id,
            status=filed.application.status,
            created=filed.created,
        )

    async def CheckLetterField(
        self, request: intake_pb2.CheckLetterFieldRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CheckLetterFieldResponse:
        try:
            letter_type = await self._catalogue.find(request.letter_type)
        except CatalogueUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "letter catalogue unavailable")
            raise AssertionError("abort raises") from exc
        spec = letter_type.field_index.get(request.name) if letter_type else None
        if letter_type is None or spec is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown letter type or field")
            raise AssertionError("abort raises")
        # The portal's own checks on this one field (the others are asked separately).
        error = field_errors(letter_type, {request.name: request.value}).get(request.name)
        if error:
            return intake_pb2.CheckLetterFieldResponse(error=error)
        return intake_pb2.CheckLetterFieldResponse(value=stored_value(spec, request.value))

    async def ListApplicationsOfResident(
        self,
        request: intake_pb2.ListApplicationsOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.ListApplicationsOfResidentResponse:
        finished = (
            ApplicationStatus.ISSUED,
            ApplicationStatus.REJECTED,
            ApplicationStatus.CANCELLED,
            ApplicationStatus.EXPIRED,
        )
        async with self._sessions() as session:
            query = (
                select(LetterApplication)
                .join(Resident, col(Resident.id) == col(LetterApplication.resident_id))
                .where(col(Resident.nik) == request.nik)
                .where(col(LetterApplication.status) != ApplicationStatus.DRAFT)
            )
            if request.open_only:
                query = query.where(col(LetterApplication.status).not_in(finished))
            found = (
                await session.exec(
                    query.order_by(col(LetterApplication.created_at).desc()).limit(20)
                )
            ).all()
        try:
            names = {code: lt.name for code, lt in (await self._catalogue.current()).items()}
        except CatalogueUnavailable:
            names = {}  # the codes, then: the status is what the resident asked for
        answer = intake_pb2.ListApplicationsOfResidentResponse()
        for a in found:
            name = names.get(a.letter_type, a.letter_type)
            item = answer.applications.add(
                id=a.id,
                number=a.number or "",
                letter_type=a.letter_type,
                letter_type_name=name,
                status=a.status,
                channel=a.channel,
            )
            item.created_at.FromDatetime(as_utc(a.created_at))
        return answer

    async def _kept_contents(self, nik: str) -> dict[str, bytes]:
        """The resident's kept documents still valid, by kind (KTP, KK), with their bytes."""
        async with self._sessions() as session:
            resident = (await session.exec(select(Resident).where(Resident.nik == nik))).first()
            if resident is None:
                return {}
            valid = await kept_documents(
                session, self._attachments_root, resident.id, self._kept_days
            )
        return {
            k.document.kind: await asyncio.to_thread(
                kept_path(self._attachments_root, k.document).read_bytes
            )
            for k in valid
        }

    async def CancelApplicationOfResident(
        self,
        request: intake_pb2.CancelApplicationOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.CancelApplicationOfResidentResponse:
        # Imported here: resident_actions imports the runtime, which imports this module.
        from services.intake import resident_actions, submission

        async with self._sessions() as session:
            resident = (
                await session.exec(select(Resident).where(Resident.nik == request.nik))
            ).first()
            if resident is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
                raise AssertionError("abort raises")
            try:
                status = await resident_actions.cancel_with(
                    self._temporal, session, resident.id, request.application_id
                )
            except DomainError as exc:
                # Indonesian, naming no person: the chat shows it to the resident.
                await context.abort(domain_code(exc), exc.message)
                raise AssertionError("abort raises") from exc
            except submission.ApprovalUnavailable as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "approval workflow unavailable")
                raise AssertionError("abort raises") from exc
        return intake_pb2.CancelApplicationOfResidentResponse(status=status)

    async def ReviseApplicationOfResident(
        self,
        request: intake_pb2.ReviseApplicationOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.ReviseApplicationOfResidentResponse:
        """The chat's answer to a revision request: the file replaces that syarat (every check
        of a portal upload), then the portal's resubmission."""
        # Imported here: resident_actions imports the runtime, which imports this module.
        from services.intake import resident_actions, submission
        from services.intake.attachments import accept_file, attachment_dir, checked_kind

        if self._population is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "register unavailable")
            raise AssertionError("abort raises")
        population = self._population
        async with self._sessions() as session:
            resident = (
                await session.exec(select(Resident).where(Resident.nik == request.nik))
            ).first()
            if resident is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
                raise AssertionError("abort raises")
            received: ReceivedFile | None = None
            try:
                application = await resident_actions.owned(
                    session, resident.id, request.application_id
                )
                if application.status == ApplicationStatus.REVISION_REQUESTED:
                    kind = checked_kind(await self._catalogue.of(application), request.kind)
                    directory = attachment_dir(self._attachments_root, application.id)
                    received = await asyncio.to_thread(
                        _received, directory, request.content, request.filename
                    )
                    await accept_file(session, self._attachments_root, application, kind, received)
                # Otherwise a repeat after it went through: answered as the portal's resubmit
                # answers it (the same status), or refused as it refuses.
                status = await resident_actions.resubmit_with(
                    self._temporal,
                    self._catalogue,
                    population,
                    session,
                    resident.id,
                    application.id,
                )
            except DomainError as exc:
                # Indonesian, naming no person: the chat shows it to the resident.
                await context.abort(domain_code(exc), exc.message)
                raise AssertionError("abort raises") from exc
            except submission.ApprovalUnavailable as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "approval workflow unavailable")
                raise AssertionError("abort raises") from exc
            finally:
                if received is not None:
                    received.discard()  # no-op once moved into place
        return intake_pb2.ReviseApplicationOfResidentResponse(status=status)

    async def RequestRegisterCorrectionOfResident(
        self,
        request: intake_pb2.RequestRegisterCorrectionOfResidentRequest,
        context: grpc.aio.ServicerContext,
    ) -> intake_pb2.RequestRegisterCorrectionOfResidentResponse:
        """The chat's register correction request: the portal's use case and its checks."""
        # Imported here: register_corrections imports the runtime, which imports this module.
        from services.intake import register_corrections

        if self._population is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "register unavailable")
            raise AssertionError("abort raises")
        async with self._sessions() as session:
            resident = (
                await session.exec(select(Resident).where(Resident.nik == request.nik))
            ).first()
            if resident is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, register_corrections.NOT_REGISTERED)
                raise AssertionError("abort raises")
            try:
                made = await register_corrections.request_correction_with(
                    self._population,
                    session,
                    resident.id,
                    request.field,
                    request.proposed_value[:500],
                    request.note[:500],
                    request.document,
                )
            except DomainError as exc:
                # Indonesian, naming no person (an unreachable register is UNAVAILABLE): the
                # chat shows it to the resident.
                await context.abort(domain_code(exc), exc.message)
                raise AssertionError("abort raises") from exc
        return intake_pb2.RequestRegisterCorrectionOfResidentResponse(
            id=made.id, field_label=made.field_label, status=made.status
        )

    async def ListKeptDocuments(
        self, request: intake_pb2.ListKeptDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.ListKeptDocumentsResponse:
        async with self._sessions() as session:
            resident = (
                await session.exec(select(Resident).where(Resident.nik == request.nik))
            ).first()
            if resident is None:
                return intake_pb2.ListKeptDocumentsResponse()
            valid = await kept_documents(
                session, self._attachments_root, resident.id, self._kept_days
            )
        return intake_pb2.ListKeptDocumentsResponse(kinds=[k.document.kind for k in valid])


def _received(directory: Path, content: bytes, filename: str) -> ReceivedFile:
    """The chat's bytes as a received upload: a temporary file beside where it will live."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".chat-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return ReceivedFile(
        path=Path(name),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        head=content[:HEAD_BYTES],
        filename=clean_filename(filename),
    )


def letter_type_catalogue(letter_types: Iterable[LetterType]) -> intake_pb2.LetterTypeCatalogue:
    """The catalogue's current versions as verification's walk-in form and task view read
    them, with intake's upload limits."""
    return intake_pb2.LetterTypeCatalogue(
        letter_types=[
            intake_pb2.LetterTypeInfo(
                code=lt.code,
                name=lt.name,
                description=lt.description,
                open_to_non_residents=lt.open_to_non_residents,
                requirements=[
                    intake_pb2.RequirementInfo(code=r.code, name=r.name, description=r.description)
                    for r in lt.requirements
                ],
                optional_syarat=[
                    intake_pb2.RequirementInfo(code=r.code, name=r.name, description=r.description)
                    for r in lt.uploadable
                    if r.kind == "opsional"
                ],
                bring_originals=[
                    intake_pb2.RequirementInfo(code=r.code, name=r.name, description=r.description)
                    for r in lt.to_bring
                ],
                fields=[
                    intake_pb2.FormFieldInfo(
                        name=f.name,
                        label=f.label,
                        required=f.required,
                        kind=f.kind,
                        max_length=f.max_length,
                        choices=list(f.choices),
                    )
                    for f in lt.fields
                ],
            )
            for lt in letter_types
        ],
        max_attachment_bytes=MAX_ATTACHMENT_BYTES,
        accepted_content_types=list(ACCEPTED_TYPES),
        purpose_max_length=PURPOSE_MAX_LENGTH,
    )


def register(servicer: IntakeServicer) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, server)

    return add
