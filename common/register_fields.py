"""Which fields of a letter's form the desa's population register fills, and from what: the one
mapping, read by intake (the letter's values at creation, submission and walk-in filing) and by
verification's walk-in form (the values the operator sees before filing). Both services carry
`common/`; the register's record travels as PopulationService's `Resident` message.
"""

from collections.abc import Callable, Mapping

from smartdesa.v1 import population_pb2

_SEX = {1: "L", 2: "P"}  # OpenSID's sex codes as the letter forms write them

# Every letter type's field of one of these names is the register's for a registered resident
# (SKL and SKK's reporter is the signed-in resident, so their `nama`, `alamat`, `rt`, `rw` are
# theirs too).
REGISTER_FIELDS: Mapping[str, Callable[[population_pb2.Resident], str]] = {
    "nama": lambda r: r.name,
    "tempat_lahir": lambda r: r.birth_place,
    "tanggal_lahir": lambda r: r.birth_date,
    "jenis_kelamin": lambda r: _SEX.get(r.sex.code, ""),
    "agama": lambda r: r.religion.label,
    "pekerjaan": lambda r: r.occupation.label,
    "status_perkawinan": lambda r: r.marital_status.label,
    "alamat": lambda r: r.address,
    "rt": lambda r: r.rt,
    "rw": lambda r: r.rw,
}


def register_values(field_names: list[str], record: population_pb2.Resident) -> dict[str, str]:
    """Of these form fields, those the register fills, with its (non-empty) value: a field the
    register leaves empty stays the resident's (or the operator's) to type."""
    return {
        name: value
        for name in field_names
        if name in REGISTER_FIELDS and (value := REGISTER_FIELDS[name](record).strip())
    }
