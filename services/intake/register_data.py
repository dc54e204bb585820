"""Letters filled from the desa's population register, which verification keeps and serves as
gRPC PopulationService. For a resident the register holds, the identity fields of a letter
(name, birth, sex, religion, address, ...) are the register's, read at creation and read again
at submission: the submission's snapshot is what the letter prints, and its register `version`
is kept with the application. A resident the register does not hold types them as before.

If the register cannot be asked, creating or submitting is refused (503): silently falling back
to typed values would let anyone who can make verification slow print what they like.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
from smartdesa.v1 import population_pb2, population_pb2_grpc

from common.domain.errors import Unavailable
from common.register_fields import register_values
from services.intake.letter_types import find_letter_type

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 5.0
REGISTER_UNAVAILABLE = (
    "Data penduduk desa sedang tidak dapat dihubungi, sehingga isian surat belum dapat diambil "
    "darinya. Silakan coba lagi nanti."
)
# What the lookup is for, as the register's access log records it.
PURPOSE_CREATE = "pengajuan surat"
PURPOSE_WALK_IN = "pengajuan langsung di kantor desa"
# Which form fields are the register's, and from what: common/register_fields.py.


class RegisterUnavailable(Unavailable):
    """PopulationService did not answer: nothing was created or submitted."""

    def __init__(self) -> None:
        super().__init__("register-unavailable", REGISTER_UNAVAILABLE)


@dataclass(frozen=True)
class Filled:
    """A letter's fields after the register had its say. `version` is None when the register
    does not hold the resident in this desa (the resident typed everything)."""

    fields: dict[str, str]
    from_register: tuple[str, ...]  # the field names whose values are the register's
    version: int | None


async def lookup(
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    desa_code: str,
    purpose: str,
    actor: str,
) -> population_pb2.Resident | None:
    """The living resident's register record in this desa, or None when the desa's register
    does not hold them. Raises RegisterUnavailable when the register could not be asked."""
    try:
        record = await population.GetResident(
            population_pb2.GetResidentRequest(nik=nik, purpose=purpose, actor=actor),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        # NOT_FOUND: not registered; FAILED_PRECONDITION: moved, deceased or missing.
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
            return None
        log.warning("population register unavailable: %s", exc.code().name)
        raise RegisterUnavailable() from exc
    # A resident of another desa is not in this desa's register: its letter attests nothing
    # about them, so they type their data and staff see it is not the register's.
    return record if record.desa_code == desa_code else None


def fill(
    letter_type_code: str, fields: Mapping[str, str], record: population_pb2.Resident | None
) -> Filled:
    """The resident's fields with every register-held one replaced by the register's value.
    A field the register leaves empty stays the resident's to type."""
    letter_type = find_letter_type(letter_type_code)
    if record is None or letter_type is None:
        return Filled(dict(fields), (), None)
    from_register = register_values([spec.name for spec in letter_type.fields], record)
    typed = {name: value for name, value in fields.items() if name not in from_register}
    return Filled({**typed, **from_register}, tuple(from_register), record.version)


async def registered_desa(
    population: population_pb2_grpc.PopulationServiceStub, nik: str, phone: str
) -> str | None:
    """The desa whose register holds this resident as living, or None (not registered, or the
    register did not answer). Only to start the portal's desa picker there: it narrows a
    choice and decides nothing, so it fails open, and it asks CheckSignIn (which reads no
    personal data back) rather than GetResident (a logged read of the whole record)."""
    try:
        answer = await population.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=nik, phone=phone),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        log.info("population register not asked for the desa picker: %s", exc.code().name)
        return None
    return answer.desa_code if answer.registered and answer.desa_code else None


def actor(resident_id: str) -> str:
    """Who reads the register: intake, for the resident (an opaque id, never the NIK)."""
    return f"intake:resident:{resident_id}"


def walk_in_actor(filed_by: str) -> str:
    """Who reads the register for a walk-in: intake, for the filing staff member."""
    return f"intake:walk-in:{filed_by}"
