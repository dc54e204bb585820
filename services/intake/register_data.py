"""Letters filled from the desa's population register, which verification keeps and serves as
gRPC PopulationService. For a resident the register holds, the identity fields of a letter
(name, birth, sex, religion, address, ...) are the register's, read at creation and read again
at submission: the submission's snapshot is what the letter prints, and its register `version`
is kept with the application. A resident the register does not hold types them as before.

If the register cannot be asked, creating or submitting is refused (503): silently falling back
to typed values would let anyone who can make verification slow print what they like.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
from smartdesa.v1 import population_pb2, population_pb2_grpc

from common.domain.errors import Invalid, Unavailable
from common.register_fields import REGISTER_FIELDS, register_values
from services.intake.letter_types import LetterType

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 5.0
REGISTER_UNAVAILABLE = (
    "Data penduduk desa sedang tidak dapat dihubungi, sehingga isian surat belum dapat diambil "
    "darinya. Silakan coba lagi nanti."
)
# What the lookup is for, as the register's access log records it.
PURPOSE_CREATE = "pengajuan surat"
PURPOSE_WALK_IN = "pengajuan langsung di kantor desa"
PURPOSE_WHATSAPP = "pengajuan lewat WhatsApp"
# Which form fields are the register's, and from what: common/register_fields.py.

# A letter about a family member (letter_types.LetterType.subject): whom the portal asks the
# resident to choose from their KK, and the subject's fields the register fills from the
# chosen member's record, per letter type. This is how intake reads the register for those
# types, not a list of letter types: a type the catalogue lacks is never offered.
SUBJECT_LABELS: Mapping[str, str] = {"SKL": "Anak yang lahir", "SKK": "Almarhum/almarhumah"}
SUBJECT_FIELDS: Mapping[str, Mapping[str, Callable[[population_pb2.Resident], str]]] = {
    "SKL": {
        "nama_anak": lambda r: r.name,
        "jenis_kelamin_anak": REGISTER_FIELDS["jenis_kelamin"],
        "tempat_lahir_anak": lambda r: r.birth_place,
        "tanggal_lahir_anak": lambda r: r.birth_date,
        "nama_ibu": lambda r: r.mother_name,
        "nama_ayah": lambda r: r.father_name,
    },
    "SKK": {
        "nama_almarhum": lambda r: r.name,
        "jenis_kelamin_almarhum": REGISTER_FIELDS["jenis_kelamin"],
        "alamat_almarhum": lambda r: r.address,
    },
}

# The register's own name (PopulationService's field) of each register-held form field, for a
# correction request about it (register_corrections.py).
REGISTER_ATTRIBUTES: Mapping[str, str] = {
    "nama": "name",
    "tempat_lahir": "birth_place",
    "tanggal_lahir": "birth_date",
    "jenis_kelamin": "sex",
    "agama": "religion",
    "pekerjaan": "occupation",
    "status_perkawinan": "marital_status",
    "alamat": "address",
    "rt": "rt",
    "rw": "rw",
}
# How the portal names them (the letter forms' labels, without entry hints).
FIELD_LABELS: Mapping[str, str] = {
    "nama": "Nama lengkap",
    "tempat_lahir": "Tempat lahir",
    "tanggal_lahir": "Tanggal lahir",
    "jenis_kelamin": "Jenis kelamin",
    "agama": "Agama",
    "pekerjaan": "Pekerjaan",
    "status_perkawinan": "Status perkawinan",
    "alamat": "Alamat",
    "rt": "RT",
    "rw": "RW",
}


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


@dataclass(frozen=True)
class Member:
    """One member of the resident's KK, as the portal offers them for a letter's subject."""

    id: str  # the register's opaque id
    name: str
    relation: str
    sex: str  # L or P
    birth_date: str  # ISO; "" when unknown
    living: bool


_SEX_LETTER = {1: "L", 2: "P"}  # a FamilyMember's sex as the letter forms write it
NOT_FAMILY = "Pilih anggota keluarga dari Kartu Keluarga Anda sendiri."


async def family(
    population: population_pb2_grpc.PopulationServiceStub, nik: str, purpose: str, actor: str
) -> tuple[str, list[Member]]:
    """The desa of the resident's living record and the members of their KK (themself
    included); ("", []) when no register holds them."""
    try:
        answer = await population.ListFamily(
            population_pb2.ListFamilyRequest(nik=nik, purpose=purpose, actor=actor),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
        if not answer.members:
            return "", []
        record = await population.GetResident(
            population_pb2.GetResidentRequest(nik=nik, purpose=purpose, actor=actor),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
            return "", []
        log.warning("population register unavailable: %s", exc.code().name)
        raise RegisterUnavailable() from exc
    return record.desa_code, [
        Member(
            id=m.resident_id,
            name=m.name,
            relation=m.relation.label,
            sex=_SEX_LETTER.get(m.sex.code, ""),
            birth_date=m.birth_date,
            living=m.status == population_pb2.HIDUP,
        )
        for m in answer.members
    ]


async def member_record(
    population: population_pb2_grpc.PopulationServiceStub, member_id: str, purpose: str, actor: str
) -> population_pb2.Resident | None:
    """A family member's record by its opaque id, whatever their status (a letter about a
    death is about someone the register may already hold as meninggal); None when gone."""
    try:
        record: population_pb2.Resident = await population.GetResident(
            population_pb2.GetResidentRequest(
                resident_id=member_id, purpose=purpose, actor=actor, include_inactive=True
            ),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return None
        log.warning("population register unavailable: %s", exc.code().name)
        raise RegisterUnavailable() from exc
    return record


async def chosen_member(
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    desa_code: str,
    member_id: str,
    purpose: str,
    actor: str,
) -> population_pb2.Resident:
    """The record of a member of the resident's own KK in this desa's register, or Invalid
    (field `subject_id`): nobody reads a stranger's record by guessing an id."""
    register_desa, members = await family(population, nik, purpose, actor)
    if register_desa != desa_code or member_id not in {m.id for m in members}:
        raise Invalid("not-family", NOT_FAMILY, field="subject_id")
    record = await member_record(population, member_id, purpose, actor)
    if record is None:
        raise Invalid("not-family", NOT_FAMILY, field="subject_id")
    return record


def fill(
    letter_type: LetterType | None,
    fields: Mapping[str, str],
    record: population_pb2.Resident | None,
) -> Filled:
    """The resident's fields with every register-held one replaced by the register's value.
    A field the register leaves empty stays the resident's to type."""
    if record is None or letter_type is None:
        return Filled(dict(fields), (), None)
    from_register = register_values([spec.name for spec in letter_type.fields], record)
    typed = {name: value for name, value in fields.items() if name not in from_register}
    return Filled({**typed, **from_register}, tuple(from_register), record.version)


def fill_subject(
    letter_type_code: str, fields: Mapping[str, str], member: population_pb2.Resident | None
) -> Filled:
    """The fields with the family member's register values in the subject's fields (version:
    the member's record's). A value the register leaves empty stays the resident's to type."""
    mapping = SUBJECT_FIELDS.get(letter_type_code, {})
    if member is None or not mapping:
        return Filled(dict(fields), (), None)
    from_register = {
        name: value for name, read in mapping.items() if (value := read(member).strip())
    }
    typed = {name: value for name, value in fields.items() if name not in from_register}
    return Filled({**typed, **from_register}, tuple(from_register), member.version)


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
