"""The desa profile (kop surat, logo, officials, numbering format, paper) as the staff client and
the API change it. Signing owns the profile and checks every field; this module is the one path
both the page and the API take to it (who may do what is decided by their dependencies:
`DesaStaff` to read, `DesaManager` to change), and turns signing's answers into domain errors."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
from smartdesa.v1 import signing_pb2
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role
from common.domain.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from services.verification.models import Staff
from services.verification.runtime import Runtime

log = logging.getLogger(__name__)

# Fields of the profile, in the order the form shows them.
PROFILE_FIELDS = (
    "name",
    "kecamatan",
    "kabupaten",
    "address",
    "kode_pos",
    "phone",
    "email",
    "kades_name",
    "kades_nip",
    "sekdes_name",
    "sekdes_nip",
    "paper",
    "number_format",
    # The maklumat pelayanan (Permenpan-RB 15/2014) shown with the desa's published service
    # standards; "" stands for the default text (signing's DEFAULT_MAKLUMAT).
    "maklumat_pelayanan",
)
# Signing refuses larger logos with its own message; larger uploads are not even sent on.
LOGO_UPLOAD_LIMIT = 512 * 1024
LOGO_TOO_LARGE = "Ukuran logo paling besar 512 KB."
SAMPLE_APPLICATION_ID = "contoh-profil-desa"
SAMPLE_FILENAME = "contoh-surat.pdf"
# A fictional resident for the sample letter (never a real NIK).
SAMPLE_FIELDS = {
    "nama": "Warga Contoh",
    "tempat_lahir": "Subang",
    "tanggal_lahir": "1990-01-01",
    "jenis_kelamin": "P",
    "agama": "Islam",
    "pekerjaan": "Wiraswasta",
    "alamat": "Dusun Contoh",
    "rt": "1",
    "rw": "2",
}
SAMPLE_NIK = "3213110101900000"


@dataclass(frozen=True)
class OfficialForm:
    username: str
    name: str = ""
    nip: str = ""


@dataclass
class ProfileForm:
    """What the page's form or the API's body asks to save."""

    values: Mapping[str, str | None]  # a None maklumat_pelayanan: keep the current one
    officials: list[OfficialForm] | None = None  # None: keep the current ones
    logo: bytes = b""
    logo_type: str = ""
    remove_logo: bool = False


class ProfileInvalid(Invalid):
    """Fields signing refused (nothing was saved): `errors` maps each to why (Indonesian)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            "invalid-profile",
            "Profil desa belum tersimpan: periksa isian yang ditandai.",
            errors=errors,
        )
        self.errors = errors


def _unavailable(exc: grpc.aio.AioRpcError, what: str) -> DomainError:
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound("no-desa-profile", "Profil surat desa ini belum ada.")
    log.warning("signing refused %s: %s", what, exc.code())
    return Unavailable(
        "signing-unavailable", "Layanan surat sedang tidak dapat dihubungi. Silakan coba lagi."
    )


async def read_profile(
    runtime: Runtime, desa_code: str, *, include_logo: bool = False
) -> signing_pb2.DesaProfileView:
    try:
        view: signing_pb2.DesaProfileView = await runtime.signing.GetDesaProfile(
            signing_pb2.GetDesaProfileRequest(desa_code=desa_code, include_logo=include_logo),
            timeout=runtime.settings.signing_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc, "the desa profile") from exc
    return view


async def desa_accounts(session: AsyncSession, desa_code: str) -> list[Staff]:
    """The desa's staff accounts, whose printed names (for when they sign, e.g. as Plt) the
    profile may hold."""
    query = select(Staff).where(col(Staff.desa_code) == desa_code).order_by(col(Staff.username))
    return list((await session.exec(query)).all())


async def save_profile(
    runtime: Runtime,
    session: AsyncSession,
    staff: Staff,
    form: ProfileForm,
    *,
    desa_code: str = "",
    create: bool = False,
) -> signing_pb2.DesaProfileView:
    """Saves the profile of the staff member's desa (the caller checked they manage it), or of
    `desa_code` for a kabupaten operator onboarding it (`create`: made if it has none yet).
    Raises ProfileInvalid with every refused field; then nothing was written."""
    desa_code = desa_code or staff.desa_code
    errors: dict[str, str] = {}
    if len(form.logo) > LOGO_UPLOAD_LIMIT:
        errors["logo"] = LOGO_TOO_LARGE
    officials = form.officials
    values = dict(form.values)
    if officials is None or values.get("maklumat_pelayanan") is None:
        # Left out of an API body: keep what the profile holds now (nothing, for a desa being
        # onboarded: its first profile).
        try:
            current = await read_profile(runtime, desa_code)
        except NotFound:
            if not create:
                raise
            current = None
        if officials is None:
            officials = list(officials_by_username(current).values()) if current else []
        if values.get("maklumat_pelayanan") is None:
            values["maklumat_pelayanan"] = current.profile.maklumat_pelayanan if current else ""
    accounts = {s.username for s in await desa_accounts(session, desa_code)}
    for o in officials:
        if o.username not in accounts:
            errors["officials"] = f"Akun {o.username} bukan staf desa ini."
    if errors:
        raise ProfileInvalid(errors)
    data = signing_pb2.DesaProfileData(
        **{name: values.get(name) or "" for name in PROFILE_FIELDS},
        officials=[
            signing_pb2.DesaOfficialEntry(username=o.username, name=o.name, nip=o.nip)
            for o in officials
        ],
    )
    request = signing_pb2.UpdateDesaProfileRequest(
        desa_code=desa_code,
        create=create,
        profile=data,
        logo=form.logo,
        logo_type=form.logo_type,
        remove_logo=form.remove_logo and not form.logo,
        updated_by=staff.username,
    )
    try:
        answer: signing_pb2.UpdateDesaProfileResponse = await runtime.signing.UpdateDesaProfile(
            request, timeout=runtime.settings.signing_timeout_seconds
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc, "a desa profile update") from exc
    if not answer.saved:
        raise ProfileInvalid({e.field: e.message for e in answer.errors})
    log.info("desa profile %s changed by staff %s", desa_code, staff.id)
    return answer.profile


async def example_number(runtime: Runtime, desa_code: str, number_format: str) -> tuple[str, str]:
    """(the next number under this format, "") or ("", why the format cannot be used)."""
    try:
        answer: signing_pb2.ExampleNumberResponse = await runtime.signing.ExampleNumber(
            signing_pb2.ExampleNumberRequest(desa_code=desa_code, number_format=number_format),
            timeout=runtime.settings.signing_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc, "an example number") from exc
    return answer.example, answer.error


async def sample_letter(runtime: Runtime, session: AsyncSession, desa_code: str) -> bytes:
    """A letter for a fictional resident as the desa's Kades would sign it now: the profile's
    kop surat, logo, number format and paper (a preview: unsigned, watermarked)."""
    kades = (
        await session.exec(
            select(Staff).where(
                col(Staff.desa_code) == desa_code, col(Staff.role) == Role.KADES, col(Staff.active)
            )
        )
    ).first()
    request = signing_pb2.IssueLetterRequest(
        application_id=SAMPLE_APPLICATION_ID,
        desa_code=desa_code,
        letter_type="SKD",
        purpose="Contoh surat dengan profil desa",
        fields=SAMPLE_FIELDS,
        nik=SAMPLE_NIK,
        signer_role=Role.KADES,
        signer_username=kades.username if kades is not None else "",
    )
    try:
        pdf: signing_pb2.LetterPdf = await runtime.signing.PreviewLetter(
            request, timeout=runtime.settings.signing_timeout_seconds
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            raise Conflict(
                "sample-refused", exc.details() or "Contoh surat belum dapat dibuat."
            ) from exc
        raise _unavailable(exc, "a sample letter") from exc
    return pdf.content


def profile_json(view: signing_pb2.DesaProfileView) -> dict[str, object]:
    p = view.profile
    return {
        "desa_code": view.desa_code,
        **{name: getattr(p, name) for name in PROFILE_FIELDS},
        "officials": [{"username": o.username, "name": o.name, "nip": o.nip} for o in p.officials],
        "has_logo": view.has_logo,
        "logo_type": view.logo_type,
        "logo_url": logo_url(view),
        "default_number_format": view.default_number_format,
        "default_maklumat_pelayanan": view.default_maklumat_pelayanan,
        "maklumat_pelayanan_text": view.maklumat_pelayanan_text,
        "next_number_example": view.next_number_example,
        "updated_by": view.updated_by,
        "updated_at": view.updated_at.ToDatetime().isoformat() + "Z"
        if view.HasField("updated_at")
        else None,
    }


def logo_url(view: signing_pb2.DesaProfileView) -> str | None:
    if not view.has_logo:
        return None
    return f"/api/v1/desa-profile/logo?v={view.logo_version}"


def officials_by_username(view: signing_pb2.DesaProfileView) -> dict[str, OfficialForm]:
    return {o.username: OfficialForm(o.username, o.name, o.nip) for o in view.profile.officials}
