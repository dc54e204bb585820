"""Reading applications and their attachments from intake (gRPC IntakeService). Intake owns
them; the staff side keeps no copy."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging

import grpc
from smartdesa.v1 import intake_pb2, intake_pb2_grpc

from common.domain.errors import DomainError, NotFound, Unavailable

log = logging.getLogger(__name__)

_NOT_FOUND = "Permohonan tidak ditemukan."


async def read_application(
    intake: intake_pb2_grpc.IntakeServiceAsyncStub, application_id: str, rpc_timeout: float
) -> intake_pb2.Application:
    try:
        application: intake_pb2.Application = await intake.GetApplication(
            intake_pb2.GetApplicationRequest(application_id=application_id), timeout=rpc_timeout
        )
        return application
    except grpc.aio.AioRpcError as exc:
        raise _refusal(exc, application_id, _NOT_FOUND) from exc


async def read_attachment(
    intake: intake_pb2_grpc.IntakeServiceAsyncStub,
    application_id: str,
    attachment_id: str,
    rpc_timeout: float,
) -> intake_pb2.AttachmentContent:
    try:
        content: intake_pb2.AttachmentContent = await intake.GetAttachment(
            intake_pb2.GetAttachmentRequest(
                application_id=application_id, attachment_id=attachment_id
            ),
            timeout=rpc_timeout,
        )
        return content
    except grpc.aio.AioRpcError as exc:
        raise _refusal(exc, application_id, "Berkas lampiran tidak ditemukan.") from exc


def _refusal(exc: grpc.aio.AioRpcError, application_id: str, not_found: str) -> DomainError:
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound("not-found", not_found)
    log.warning("intake call for application %s failed: %s", application_id, exc.code())
    return Unavailable(
        "intake-unavailable",
        "Data permohonan sedang tidak dapat dibaca dari layanan warga. Silakan coba lagi.",
    )
