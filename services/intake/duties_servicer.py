"""gRPC PublicDutiesService: verification's staff pages read the survey's index and the desa's
complaints here; the complaint workflow escalates. Callers are authenticated by common.rpc's
internal-token interceptor; verification vouches for the staff member it sends as `actor`."""

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import public_duties_pb2 as pb
from smartdesa.v1 import public_duties_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc
from common.domain.errors import DomainError
from common.rpc import domain_code
from common.temporal_client import TemporalConnection
from services.intake import complaints
from services.intake.duties_models import Complaint
from services.intake.satisfaction import MIN_ANSWERS_SHOWN
from services.intake.survey import satisfaction_report
from workflows.complaint.client import tell_answered

log = logging.getLogger(__name__)


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(as_utc(value))
    return ts


def _actor(actor: pb.StaffActor) -> complaints.StaffActor:
    return complaints.StaffActor(actor.username, actor.role, actor.desa_code, actor.kabupaten_code)


def summary(complaint: Complaint) -> pb.ComplaintSummary:
    return pb.ComplaintSummary(
        id=complaint.id,
        tracking_number=complaint.tracking_number,
        desa_code=complaint.desa_code,
        subject=complaint.subject,
        letter_type=complaint.letter_type,
        status=complaint.status,
        filed_at=_ts(complaint.filed_at),
        deadline_at=_ts(complaint.deadline_at),
        overdue=complaints.overdue(complaint),
    )


def detail(view: complaints.ComplaintView, actor: complaints.StaffActor) -> pb.ComplaintDetail:
    complaint = view.complaint
    return pb.ComplaintDetail(
        summary=summary(complaint),
        body=complaint.body,
        application_reference=complaint.application_reference,
        has_attachment=bool(complaint.attachment_name),
        entries=[
            pb.ComplaintRecordEntry(
                at=_ts(e.at),
                kind=e.kind,
                actor=e.actor,
                actor_role=e.actor_role,
                actor_desa=e.actor_desa,
                text=e.text,
            )
            for e in view.entries
        ],
        may_answer=complaints.may_answer(actor, complaint),
    )


class PublicDutiesServicer(public_duties_pb2_grpc.PublicDutiesServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalConnection,
        on_committed: Callable[[], None] = lambda: None,
        attachments_root: Path | None = None,
    ) -> None:
        self._attachments_root = attachments_root
        self._sessions = sessions
        self._temporal = temporal
        self._on_committed = on_committed  # wakes the outbox relay (complaint events)

    async def _refuse(self, context: grpc.aio.ServicerContext, exc: DomainError) -> None:
        await context.abort(domain_code(exc), exc.message)

    async def GetSatisfaction(
        self, request: pb.GetSatisfactionRequest, context: grpc.aio.ServicerContext
    ) -> pb.SatisfactionReport:
        try:
            async with self._sessions() as session:
                report = await satisfaction_report(
                    session,
                    period=request.period,
                    desa_code=request.desa_code,
                    kabupaten_code=request.kabupaten_code,
                )
        except DomainError as exc:
            await self._refuse(context, exc)
            raise
        cells = []
        for row in report.rows:
            cell = pb.SatisfactionCell(
                desa_code=row.desa_code,
                letter_type=row.letter_type,
                answers=row.answers,
                shown=row.index is not None,
            )
            if row.index is not None:
                cell.ikm = row.index.ikm_rounded
                cell.band = row.index.band
                cell.band_label = row.index.band_label
                cell.element_means.extend(f"{float(mean):.2f}" for mean in row.index.element_means)
            cells.append(cell)
        return pb.SatisfactionReport(
            period=report.period,
            cells=cells,
            comments=report.comments,
            min_answers=MIN_ANSWERS_SHOWN,
        )

    async def ListComplaints(
        self, request: pb.ListComplaintsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ComplaintList:
        try:
            async with self._sessions() as session:
                found = await complaints.staff_complaints(session, _actor(request.actor))
        except DomainError as exc:
            await self._refuse(context, exc)
            raise
        return pb.ComplaintList(complaints=[summary(c) for c in found])

    async def ReadComplaint(
        self, request: pb.ReadComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.ComplaintDetail:
        actor = _actor(request.actor)
        try:
            async with self._sessions() as session:
                view = await complaints.read_for_staff(session, actor, request.complaint_id)
        except DomainError as exc:
            await self._refuse(context, exc)
            raise
        return detail(view, actor)

    async def AnswerComplaint(
        self, request: pb.AnswerComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.ComplaintDetail:
        actor = _actor(request.actor)
        try:
            async with self._sessions() as session:
                view = await complaints.answer_complaint(
                    session, actor, request.complaint_id, request.answer
                )
        except DomainError as exc:
            await self._refuse(context, exc)
            raise
        self._on_committed()
        await tell_answered(await self._temporal.client(), request.complaint_id)
        return detail(view, actor)

    async def GetComplaintAttachment(
        self, request: pb.ReadComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.ComplaintAttachment:
        if self._attachments_root is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no attachments here")
        assert self._attachments_root is not None
        try:
            async with self._sessions() as session:
                found = await complaints.attachment_for_staff(
                    session, self._attachments_root, _actor(request.actor), request.complaint_id
                )
        except DomainError as exc:
            await self._refuse(context, exc)
            raise
        return pb.ComplaintAttachment(
            content=found.content,
            content_type=found.content_type,
            file_name=found.file_name,
            tracking_number=found.tracking_number,
        )

    async def EscalateComplaint(
        self, request: pb.EscalateComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.EscalateComplaintResponse:
        try:
            async with self._sessions() as session:
                escalated = await complaints.escalate(session, request.complaint_id)
        except DomainError as exc:
            await self._refuse(context, exc)
            raise
        if escalated:
            self._on_committed()
            log.info("complaint %s escalated to the kabupaten", request.complaint_id)
        return pb.EscalateComplaintResponse(escalated=escalated)


def register_duties(servicer: PublicDutiesServicer) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        public_duties_pb2_grpc.add_PublicDutiesServiceServicer_to_server(servicer, server)

    return add
