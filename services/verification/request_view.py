"""A request as the deciding staff member reads it (issue 15, item 4): the fields in the order
of a form on paper (name, identity, address with RT before RW, then the letter's own fields),
labelled in words and with dates in Indonesian; attachments named by their syarat; whether the
desa signs with BSrE (so the passphrase is asked only there); and the applicants' names for the
inbox. Names are read from intake when a page is drawn and never stored, logged or put in a
URL. When the letter catalogue or signing does not answer, the page still shows the request, in
the fallback order and with coded labels."""

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import grpc
from smartdesa.v1 import catalogue_pb2, intake_pb2, signing_pb2
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import SignerKind
from common.domain.errors import DomainError
from common.domain.particulars import SEX_LABELS
from common.wib import indonesian_date
from services.verification import access_log
from services.verification.intake_reader import read_application
from services.verification.models import Staff
from services.verification.runtime import Runtime

log = logging.getLogger(__name__)

# Who the person is, then where they live: first, in this order, whatever the letter type.
IDENTITY_ORDER: tuple[str, ...] = (
    "nama",
    "tempat_lahir",
    "tanggal_lahir",
    "jenis_kelamin",
    "agama",
    "status_perkawinan",
    "pekerjaan",
    "hubungan_pelapor",
    "alamat",
    "rt",
    "rw",
)
# Labels for the fields above when the letter catalogue is not at hand.
FALLBACK_LABELS: dict[str, str] = {
    "nama": "Nama lengkap",
    "tempat_lahir": "Tempat lahir",
    "tanggal_lahir": "Tanggal lahir",
    "jenis_kelamin": "Jenis kelamin",
    "status_perkawinan": "Status perkawinan",
    "alamat": "Alamat",
    "rt": "RT",
    "rw": "RW",
}
# How many applications the inbox reads from intake at once, for their applicants' names.
NAME_READS = 8
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True)
class ShownField:
    key: str
    label: str
    value: str
    source: str  # "data penduduk", "diisi pemohon", "diisi petugas"


def staff_label(label: str) -> str:
    """A form label as staff read it beside a value: without the resident's hints
    ("Tanggal lahir (TTTT-BB-HH)" -> "Tanggal lahir"; "Jenis usaha, misalnya warung" ->
    "Jenis usaha")."""
    label = label.split(", misalnya")[0]
    return _PARENTHESES.sub("", label).strip() or label.strip()


def shown_value(key: str, value: str, kind: str) -> str:
    """A stored value in words: dates as "15 Agustus 1990", L/P as Laki-laki/Perempuan."""
    if (kind == "date" or key.startswith("tanggal")) and _ISO_DATE.fullmatch(value):
        try:
            return indonesian_date(date.fromisoformat(value))
        except ValueError:
            return value
    if key == "jenis_kelamin":
        return SEX_LABELS.get(value.strip().upper(), value)
    return value


def shown_fields(
    fields: Mapping[str, str],
    letter_type: catalogue_pb2.LetterTypeDefinition | None,
    source: Callable[[str], str],
) -> list[ShownField]:
    """The request's fields in reading order: identity and address first (IDENTITY_ORDER), then
    the letter type's own fields in its form's order, then anything else by name."""
    form = {f.name: (i, f) for i, f in enumerate(letter_type.fields)} if letter_type else {}

    def order(key: str) -> tuple[int, int, str]:
        if key in IDENTITY_ORDER:
            return (0, IDENTITY_ORDER.index(key), key)
        if key in form:
            return (1, form[key][0], key)
        return (2, 0, key)

    shown = []
    for key in sorted(fields, key=order):
        spec = form.get(key)
        if spec is not None:
            label, kind = staff_label(spec[1].label), spec[1].kind
        else:
            label, kind = FALLBACK_LABELS.get(key, key.replace("_", " ").strip().capitalize()), ""
        shown.append(ShownField(key, label, shown_value(key, fields[key], kind), source(key)))
    return shown


def attachment_label(kind: str, letter_type: catalogue_pb2.LetterTypeDefinition | None) -> str:
    """The syarat's name ("Surat pengantar RT/RW"), not its code ("PENGANTAR_RT"); an optional
    one says so, so staff do not ask for what the resident could leave out."""
    if letter_type is not None:
        for requirement in letter_type.syarat:
            if requirement.code == kind and requirement.name:
                if requirement.kind == "opsional":
                    return f"{requirement.name} (tidak wajib)"
                return requirement.name
    return kind.replace("_", " ").strip().capitalize()


async def letter_type_info(
    runtime: Runtime, app: intake_pb2.Application
) -> catalogue_pb2.LetterTypeDefinition | None:
    """The catalogue version the application keeps (labels, syarat, name); None when signing
    does not answer."""
    return await runtime.catalogue.definition(app.letter_type, app.letter_type_version)


async def signer_kind(runtime: Runtime, desa_code: str) -> SignerKind | None:
    """How the desa signs (signing's GetSigner); None when signing does not answer or the desa
    has no signer configured."""
    try:
        info: signing_pb2.SignerInfo = await runtime.signing.GetSigner(
            signing_pb2.GetSignerRequest(desa_code=desa_code),
            timeout=runtime.settings.signing_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("signing GetSigner failed: %s", exc.code())
        return None
    try:
        return SignerKind(info.kind)
    except ValueError:
        return None


async def applicant_names(
    runtime: Runtime, session: AsyncSession, staff: Staff, application_ids: Iterable[str]
) -> dict[str, str]:
    """The applicant's name per application of the staff member's desa, for that desa's staff;
    one intake does not answer for, or of another desa, is left out (the row shows no name).
    Each name shown is a read of personal data: logged in the resident's access log."""
    desa_code = staff.desa_code
    limit = asyncio.Semaphore(NAME_READS)
    timeout = runtime.settings.intake_timeout_seconds

    async def name_of(application_id: str) -> tuple[str, str, str]:
        async with limit:
            try:
                app = await read_application(runtime.intake, application_id, timeout)
            except DomainError:
                return application_id, "", ""
            if app.desa_code != desa_code:
                return application_id, "", ""
            return application_id, app.fields.get("nama", "").strip(), app.number

    found = await asyncio.gather(*(name_of(i) for i in dict.fromkeys(application_ids)))
    names = {i: name for i, name, _ in found if name}
    for application_id, name, number in found:
        if name:  # a name shown is a read, for the application's number
            access_log.record(
                session, staff, access_log.KIND_INBOX, application_id=application_id, purpose=number
            )
    await session.commit()
    return names
