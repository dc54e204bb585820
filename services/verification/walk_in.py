"""Walk-in filing from the staff side: who may file, intake's letter type catalogue, and the
call to intake's FileWalkIn with its refusals turned into messages for the form.

Who may file: the operator of the desa, also a staff member holding the operator role as Plt.
Not the Kasi, the Sekdes or the Kades: they decide applications on the route, and one who
filed an application would then review what they filed themself; the desa that wants someone
else at the counter gives them the operator role as Plt for that period.

Intake checks and stores everything (it owns applications, attachments and residents); the
desa comes from the signed-in staff member, never from the form.

The resident comes from the desa's population register (issue 13 item 7): the operator finds
them by name, NIK or KK number (in a POST body), chooses one, and the letter's identity fields
are the register's, shown read-only before filing (the same mapping intake fills them with,
common/register_fields.py). Every read is in the register's access log with the purpose
`WALK_IN_PURPOSE`. A NIK the register does not hold can be added to it here, with the
register's own rules and history (population/register.py), or filed as typed.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from dataclasses import dataclass, field

import grpc
from smartdesa.v1 import intake_pb2, intake_pb2_grpc
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role
from common.domain.errors import Conflict, Forbidden, Unavailable
from common.register_fields import register_values
from services.verification.models import Staff
from services.verification.population import register
from services.verification.population.models import HIDUP, STATUS_LABELS, Resident
from services.verification.population.servicer import resident_message

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
    "layanan sedang sibuk. Tekan Daftarkan sekali lagi (berkas yang sudah dipilih tetap "
    "tersimpan); permohonan yang sama yang diteruskan, tidak dibuat dua kali."
)


REGISTER_UNAVAILABLE = (
    "Data penduduk desa sedang tidak dapat dibaca oleh layanan warga, sehingga isian surat "
    "belum dapat diambil darinya. Tidak ada yang terdaftar; silakan coba lagi sebentar lagi."
)
# Why the register was read, as its access log records it (intake's reads say the same).
WALK_IN_PURPOSE = "pengajuan langsung di kantor desa"
ADDED_NOTE = "Ditambahkan saat pengajuan langsung di kantor desa"


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


async def find_residents(session: AsyncSession, staff: Staff, query: str) -> list[Resident]:
    """The desa's residents by name, NIK or KK number; each one found is logged as seen for
    the walk-in (register.search)."""
    return await register.search(
        session, staff.desa_code, query, actor=staff.username, purpose=WALK_IN_PURPOSE
    )


async def chosen_resident(session: AsyncSession, staff: Staff, resident_id: str) -> Resident:
    """The resident the operator chose, read (and logged) for the walk-in. A resident who moved
    away, died or is missing is not filed for: the register no longer speaks for them here."""
    resident = await register.read_resident(
        session, staff.desa_code, resident_id, actor=staff.username, purpose=WALK_IN_PURPOSE
    )
    if resident.status != HIDUP:
        raise Conflict(
            "resident-not-living",
            f"Penduduk ini tercatat {STATUS_LABELS[resident.status].lower()} di data penduduk "
            "desa, sehingga tidak dapat diajukan surat atas namanya dari sini.",
            field="penduduk",
        )
    return resident


async def add_to_register(
    session: AsyncSession, staff: Staff, roles: list[str], data: register.ResidentData
) -> Resident:
    """A NIK the register does not hold, added in the walk-in's flow: the register's own use
    case, so its rules and history are the same as on the Data penduduk page."""
    register.require_editor(roles)
    return await register.add_resident(
        session, staff.desa_code, data, actor=staff.username, note=ADDED_NOTE
    )


def from_register(field_names: list[str], resident: Resident) -> dict[str, str]:
    """The letter's fields the register fills for this resident, with its values: what intake
    will write whatever the form says."""
    return register_values(field_names, resident_message(resident))


def phone_on_record(resident: Resident) -> str:
    """The register's most recent phone for the resident, as people write it (08…)."""
    phones = [p for p in resident.phones.split(",") if p]
    if not phones:
        return ""
    return "0" + phones[0].removeprefix("62") if phones[0].startswith("62") else phones[0]


def masked_nik(nik: str) -> str:
    """3213115705900001 -> ************0001: the resident recognises their own on a receipt
    that may be left on a counter, and it names nobody else."""
    return "*" * max(0, len(nik) - 4) + nik[-4:]


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
    # (requirement code, file name, bytes); the name is the resident's data, never logged
    scans: list[tuple[str, str, bytes]] = field(default_factory=list)


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
            intake_pb2.WalkInAttachment(kind=kind, filename=name, content=content)
            for kind, name, content in form.scans
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
        if code == grpc.StatusCode.UNAVAILABLE and exc.details() == "register-unavailable":
            raise Refused(REGISTER_UNAVAILABLE, retry=True) from exc
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
