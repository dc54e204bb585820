"""Letters for a NIK in no desa's population register (issue 13 item 6). Such a NIK can still
sign in (a newcomer has no record yet), but only asks for letter types marked
`non_residents` in the catalogue (an SKD): every other letter is the desa attesting what its register
says about the resident, and it says nothing about them. Staff see the application as "tidak
terdaftar di data penduduk desa" (register_data: no register version)."""

import grpc
from smartdesa.v1 import population_pb2, population_pb2_grpc

from common.domain.errors import Forbidden
from services.intake.catalogue import Catalogue
from services.intake.letter_types import LetterType
from services.intake.register_data import LOOKUP_TIMEOUT_SECONDS, RegisterUnavailable


class NotOpenToNonResidents(Forbidden):
    def __init__(self, names: str) -> None:
        super().__init__(
            "not-open-to-non-residents",
            "NIK Anda tidak terdaftar di data penduduk desa mana pun, sehingga jenis surat ini "
            f"belum dapat diajukan. Yang dapat diajukan: {names}. Untuk surat lain, datanglah "
            "ke kantor desa agar didaftarkan di data penduduk desa.",
            field="letter_type",
        )


async def ensure_open_to(
    population: population_pb2_grpc.PopulationServiceStub,
    nik: str,
    phone: str,
    found: LetterType | None,
    catalogue: Catalogue,
) -> None:
    """Refuses a letter type not open to non-residents when the NIK is a living resident of
    no desa on the service. Called only when the applied-to desa's register does not hold the
    resident (a resident of another desa types their data as before)."""
    if found is None or found.open_to_non_residents:
        return
    try:
        answer = await population.CheckSignIn(
            population_pb2.CheckSignInRequest(nik=nik, phone=phone),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        raise RegisterUnavailable() from exc
    if not answer.registered:
        current = await catalogue.current()
        raise NotOpenToNonResidents(
            ", ".join(lt.name for lt in current.values() if lt.open_to_non_residents)
        )
