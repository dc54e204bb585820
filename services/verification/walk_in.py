"""Walk-in filing from the staff side: who may file, intake's letter type catalogue, and the
call to intake's FileWalkIn with its refusals turned into messages for the form.

Who may file: the operator of the desa, also a staff member holding the operator role as Plt.
Not the Kasi, the Sekdes or the Kades: they decide applications on the route, and one who
filed an application would then review what they filed themself; the desa that wants someone
else at the counter gives them the operator role as Plt for that period.

Intake checks and stores everything (it owns applications, attachments and residents); the
desa comes from the signed-in staff member, never from the form.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from dataclasses import dataclass, field

import grpc
from smartdesa.v1 import intake_pb2, intake_pb2_grpc

from common.domain import Role
from common.domain.errors import Forbidden, Unavailable
from services.verification.models import Staff

log = logging.getLogger(__name__)

# Who may file a walk-in (own role or Plt): see the module's description.
FILING_ROLES = (Role.OPERATOR,)

NOT_ALLOWED = (
    "Hanya Operator Desa (atau Plt. Operator Desa) yang dapat mendaftarkan permohonan warga "
    "yang datang ke kantor desa."
)
INTAKE_UNAVAILABLE = "Layanan warga sedang tidak dapat dihubungi. Silakan coba lagi sebentar lagi."
NOT_SUBMITTED_YET = (
    "Permohonan sudah tercatat, tetapi belum dapat diteruskan ke alur persetujuan karena "
    "layanan sedang sibuk. Tekan Daftarkan sekali lagi (berkas dipilih ulang); permohonan yang "
    "sama yang diteruskan, tidak dibuat dua kali."
)


def may_file(roles: list[str]) -> bool:
    return any(r in FILING_ROLES for r in roles)


def require_filer(roles: list[str]) -> None:
    """The pages' guard, as a dependency would refuse (HTTP 403)."""
    if not may_file(roles):
        raise Forbidden("walk-in-not-allowed", NOT_ALLOWED)


async def catalogue(
    intake: intake_pb2_grpc.IntakeServiceAsyncStub, rpc_timeout: float
) -> intake_pb2.LetterTypeCatalogue:
    """Intake's letter types with their syarat and fields, and its upload limits."""
    try:
        found: intake_pb2.LetterTypeCatalogue = await intake.ListLetterTypes(
            intake_pb2.ListLetterTypesRequest(), timeout=rpc_timeout
        )
        return found
    except grpc.aio.AioRpcError as exc:
        log.warning("intake ListLetterTypes failed: %s", exc.code())
        raise Unavailable("intake-unavailable", INTAKE_UNAVAILABLE) from exc


@dataclass
class Refused(Exception):
    """Intake refused the filing: `field` is intake's name of the input ("" for the form as a
    whole), `message` its Indonesian text."""

    message: str
    field: str = ""
    retry: bool = False  # filed but not yet submitted: the same request id again finishes it


@dataclass
class WalkInForm:
    request_id: str
    letter_type: str
    nik: str
    phone: str
    purpose: str
    fields: dict[str, str] = field(default_factory=dict)
    scans: list[tuple[str, bytes]] = field(default_factory=list)  # (requirement code, bytes)


async def file(
    intake: intake_pb2_grpc.IntakeServiceAsyncStub,
    staff: Staff,
    form: WalkInForm,
    rpc_timeout: float,
) -> intake_pb2.FileWalkInResponse:
    """Files the walk-in for the staff member's own desa, as them."""
    request = intake_pb2.FileWalkInRequest(
        request_id=form.request_id,
        desa_code=staff.desa_code,
        nik=form.nik,
        phone=form.phone,
        letter_type=form.letter_type,
        purpose=form.purpose,
        fields=form.fields,
        attachments=[
            intake_pb2.WalkInAttachment(kind=kind, content=content) for kind, content in form.scans
        ],
        filed_by=staff.username,
    )
    try:
        filed: intake_pb2.FileWalkInResponse = await intake.FileWalkIn(request, timeout=rpc_timeout)
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            trailing = dict(exc.trailing_metadata() or ())
            raise Refused(
                exc.details() or "Data tidak valid.", str(trailing.get("smartdesa-field", ""))
            ) from exc
        if code == grpc.StatusCode.UNAVAILABLE and exc.details() and "retry" in exc.details():
            raise Refused(NOT_SUBMITTED_YET, retry=True) from exc
        log.warning("intake FileWalkIn failed: %s", code)
        raise Refused(INTAKE_UNAVAILABLE, retry=True) from exc
    log.info(
        "walk-in application %s filed by staff %s (created: %s)",
        filed.application_id,
        staff.id,  # the id, not the username (which may be a person's name)
        filed.created,
    )
    return filed


async def contact(
    intake: intake_pb2_grpc.IntakeServiceAsyncStub, application_id: str, rpc_timeout: float
) -> str:
    """The phone the resident is told on (for the confirmation, masked; never logged)."""
    try:
        found: intake_pb2.Contact = await intake.GetContact(
            intake_pb2.GetContactRequest(application_id=application_id), timeout=rpc_timeout
        )
        return found.phone
    except grpc.aio.AioRpcError as exc:
        log.warning("intake GetContact for %s failed: %s", application_id, exc.code())
        raise Unavailable("intake-unavailable", INTAKE_UNAVAILABLE) from exc
