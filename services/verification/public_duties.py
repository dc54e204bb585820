"""The desa's and the kabupaten's side of the duties of a public service (UU 25/2009): the
complaint inbox and the satisfaction index (IKM, Permenpan-RB 14/2017). Intake owns both
(docs/public-duties.md); this module asks it over gRPC PublicDutiesService, vouching for the
signed-in staff member, and turns its refusals into domain errors."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from datetime import datetime

import grpc
from smartdesa.v1 import public_duties_pb2 as pb
from smartdesa.v1 import public_duties_pb2_grpc

from common.domain import KABUPATEN_ROLES, Role
from common.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Unavailable,
)
from common.wib import WIB
from services.verification.models import Staff

log = logging.getLogger(__name__)

_ANSWERING = (Role.OPERATOR, Role.SEKDES, Role.KADES)
RPC_TIMEOUT = 10.0


def actor_of(staff: Staff, roles: list[str]) -> pb.StaffActor:
    """The staff member as intake checks them: a Plt of an answering role answers as it."""
    role = staff.role
    if staff.role not in KABUPATEN_ROLES and staff.role not in _ANSWERING:
        role = next((r for r in roles if r in _ANSWERING), staff.role)
    kabupaten = staff.kabupaten_code or ".".join(staff.desa_code.split(".")[:2])
    return pb.StaffActor(
        username=staff.username, role=role, desa_code=staff.desa_code, kabupaten_code=kabupaten
    )


def _refusal(exc: grpc.aio.AioRpcError) -> DomainError:
    message = exc.details() or "Permintaan ditolak."
    code = exc.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound("complaint-not-found", message)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return Forbidden("complaint-refused", message)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return Conflict("complaint-answered", message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return Invalid("complaint-invalid", message, field="jawaban")
    log.warning("intake's PublicDutiesService failed: %s", code)
    return Unavailable(
        "intake-unavailable",
        "Data pengaduan dan survei sedang tidak dapat dibaca dari layanan warga. Coba lagi.",
    )


def stub(channel: grpc.aio.Channel) -> public_duties_pb2_grpc.PublicDutiesServiceAsyncStub:
    return public_duties_pb2_grpc.PublicDutiesServiceStub(channel)  # type: ignore[return-value]


async def complaint_inbox(
    duties: public_duties_pb2_grpc.PublicDutiesServiceAsyncStub, actor: pb.StaffActor
) -> list[pb.ComplaintSummary]:
    try:
        found: pb.ComplaintList = await duties.ListComplaints(
            pb.ListComplaintsRequest(actor=actor), timeout=RPC_TIMEOUT
        )
    except grpc.aio.AioRpcError as exc:
        raise _refusal(exc) from exc
    return list(found.complaints)


async def read_complaint(
    duties: public_duties_pb2_grpc.PublicDutiesServiceAsyncStub,
    actor: pb.StaffActor,
    complaint_id: str,
) -> pb.ComplaintDetail:
    try:
        detail: pb.ComplaintDetail = await duties.ReadComplaint(
            pb.ReadComplaintRequest(actor=actor, complaint_id=complaint_id), timeout=RPC_TIMEOUT
        )
    except grpc.aio.AioRpcError as exc:
        raise _refusal(exc) from exc
    return detail


async def complaint_attachment(
    duties: public_duties_pb2_grpc.PublicDutiesServiceAsyncStub,
    actor: pb.StaffActor,
    complaint_id: str,
) -> pb.ComplaintAttachment:
    try:
        found: pb.ComplaintAttachment = await duties.GetComplaintAttachment(
            pb.ReadComplaintRequest(actor=actor, complaint_id=complaint_id), timeout=RPC_TIMEOUT
        )
    except grpc.aio.AioRpcError as exc:
        raise _refusal(exc) from exc
    return found


async def answer_complaint(
    duties: public_duties_pb2_grpc.PublicDutiesServiceAsyncStub,
    actor: pb.StaffActor,
    complaint_id: str,
    answer: str,
) -> pb.ComplaintDetail:
    try:
        detail: pb.ComplaintDetail = await duties.AnswerComplaint(
            pb.AnswerComplaintRequest(actor=actor, complaint_id=complaint_id, answer=answer),
            timeout=RPC_TIMEOUT,
        )
    except grpc.aio.AioRpcError as exc:
        raise _refusal(exc) from exc
    return detail


def this_month() -> str:
    return datetime.now(WIB).strftime("%Y-%m")


async def satisfaction(
    duties: public_duties_pb2_grpc.PublicDutiesServiceAsyncStub, staff: Staff, period: str
) -> pb.SatisfactionReport:
    """A desa's staff see their desa; kabupaten accounts every desa of the kabupaten."""
    request = pb.GetSatisfactionRequest(period=period)
    if staff.role in KABUPATEN_ROLES:
        if not staff.kabupaten_code:
            raise Forbidden("kabupaten-staff-only", "Akun kabupaten tanpa kode kabupaten.")
        request.kabupaten_code = staff.kabupaten_code
    else:
        request.desa_code = staff.desa_code
    try:
        report: pb.SatisfactionReport = await duties.GetSatisfaction(request, timeout=RPC_TIMEOUT)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise Invalid("period-invalid", exc.details() or "", field="periode") from exc
        raise _refusal(exc) from exc
    return report
