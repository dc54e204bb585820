"""gRPC SigningService: issue letters for the approval workflow, hand out their PDFs."""

import logging
from collections.abc import Callable
from typing import NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import catalogue_pb2_grpc, signing_pb2, signing_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain.errors import DomainError
from common.rpc import (
    SIGNING_CAMAT_PASSPHRASE_METADATA,
    SIGNING_PASSPHRASE_METADATA,
    domain_code,
)
from services.signing.catalogue.servicer import CatalogueServicer
from services.signing.composition import logo_path
from services.signing.desa_profile import (
    DEFAULT_MAKLUMAT,
    PROFILE_TEXT_FIELDS,
    DesaProfiles,
    LogoUpload,
    OfficialInput,
    ProfileInput,
    ProfileNotFound,
    ProfileRejected,
    ProfileSnapshot,
    maklumat_text,
)
from services.signing.issuing import IssueRefused, IssueRequest, LetterIssuer
from services.signing.models import Letter, as_utc
from services.signing.numbering import DEFAULT_NUMBER_FORMAT, InvalidNumberFormat
from services.signing.poster import PosterRefused, StandardSections, render_poster
from services.signing.revocation import (
    REVOKING_ROLE,
    Revocation,
    revoke_letter,
)
from services.signing.signer_install import InstalledSigners, SignerRejected, SignerUpload

log = logging.getLogger(__name__)

SERVICE_NAME = signing_pb2.DESCRIPTOR.services_by_name["SigningService"].full_name
PASSPHRASE_METADATA = SIGNING_PASSPHRASE_METADATA
CAMAT_PASSPHRASE_METADATA = SIGNING_CAMAT_PASSPHRASE_METADATA


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, detail: str) -> NoReturn:
    await context.abort(code, detail)
    raise AssertionError("context.abort returned")  # it raises; this tells the type checker


def _issued(letter: Letter, issuer: LetterIssuer) -> signing_pb2.IssuedLetter:
    issued_at = Timestamp()
    if letter.issued_at is not None:
        issued_at.FromDatetime(as_utc(letter.issued_at))
    return signing_pb2.IssuedLetter(
        letter_id=letter.id,
        number=letter.number,
        verification_code=letter.verification_code,
        verification_url=issuer.verification_url(letter.verification_code),
        sha256=letter.sha256 or "",
        issued_at=issued_at,
    )


def _passphrase(context: grpc.aio.ServicerContext, name: str = PASSPHRASE_METADATA) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return str(value)
    return None


def _issue_request(
    request: signing_pb2.IssueLetterRequest,
    passphrase: str | None = None,
    camat_passphrase: str | None = None,
) -> IssueRequest:
    return IssueRequest(
        application_id=request.application_id,
        desa_code=request.desa_code,
        letter_type=request.letter_type,
        purpose=request.purpose,
        nik=request.nik,
        signer_role=request.signer_role,
        fields=dict(request.fields),
        signer_username=request.signer_username,
        on_behalf_of_role=request.on_behalf_of_role,
        signer_is_plt=request.signer_is_plt,
        passphrase=passphrase,
        letter_type_version=request.letter_type_version,
        kecamatan_code=request.kecamatan_code,
        camat_name=request.camat_name,
        camat_passphrase=camat_passphrase,
        camat_signs_later=request.camat_signs_later,
    )


def _profile_view(snap: ProfileSnapshot, logo: bytes = b"") -> signing_pb2.DesaProfileView:
    p = snap.profile
    data = signing_pb2.DesaProfileData(
        **{name: getattr(p, name) for name in PROFILE_TEXT_FIELDS},
        number_format=p.number_format or DEFAULT_NUMBER_FORMAT,
        officials=[
            signing_pb2.DesaOfficialEntry(username=o.username, name=o.name, nip=o.nip)
            for o in snap.officials
        ],
        maklumat_pelayanan=p.maklumat_pelayanan,
    )
    view = signing_pb2.DesaProfileView(
        desa_code=p.code,
        profile=data,
        has_logo=bool(snap.logo_type),
        logo_type=snap.logo_type,
        logo=logo,
        logo_version=snap.logo_version,
        default_number_format=DEFAULT_NUMBER_FORMAT,
        next_number_example=snap.next_number_example,
        updated_by=p.updated_by,
        default_maklumat_pelayanan=DEFAULT_MAKLUMAT,
        maklumat_pelayanan_text=maklumat_text(p),
    )
    if p.updated_at is not None:
        view.updated_at.FromDatetime(as_utc(p.updated_at))
    return view


def _profile_input(data: signing_pb2.DesaProfileData) -> ProfileInput:
    return ProfileInput(
        **{name: getattr(data, name) for name in PROFILE_TEXT_FIELDS},
        number_format=data.number_format,
        officials=[OfficialInput(o.username, o.name, o.nip) for o in data.officials],
        maklumat_pelayanan=data.maklumat_pelayanan,
    )


def _no_profile(desa_code: str) -> str:
    return f"Desa {desa_code} belum memiliki profil surat."


def _refusal_code(exc: IssueRefused) -> grpc.StatusCode:
    return (
        grpc.StatusCode.FAILED_PRECONDITION
        if exc.precondition
        else grpc.StatusCode.INVALID_ARGUMENT
    )


class SigningServicer(signing_pb2_grpc.SigningServiceServicer):
    def __init__(
        self,
        issuer: LetterIssuer,
        sessions: async_sessionmaker[AsyncSession],
        on_committed: Callable[[], None],
        installed: InstalledSigners | None = None,
    ) -> None:
        self._issuer = issuer
        self._sessions = sessions
        self._installed = installed
        self._on_committed = on_committed  # wakes the outbox relay
        self._profiles = DesaProfiles(sessions, issuer.assets_dir)

    async def IssueLetter(
        self, request: signing_pb2.IssueLetterRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.IssuedLetter:
        try:
            letter = await self._issuer.issue(
                _issue_request(
                    request,
                    _passphrase(context),
                    _passphrase(context, CAMAT_PASSPHRASE_METADATA),
                )
            )
        except IssueRefused as exc:
            await _abort(context, _refusal_code(exc), exc.reason)
        return _issued(letter, self._issuer)

    async def GetLetterPdf(
        self, request: signing_pb2.GetLetterPdfRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.LetterPdf:
        letter = await self._issuer.find_issued(request.application_id)
        if letter is None:
            await _abort(
                context, grpc.StatusCode.NOT_FOUND, "Surat untuk permohonan ini belum terbit."
            )
        content = await self._issuer.read_pdf(letter)
        return signing_pb2.LetterPdf(letter_id=letter.id, number=letter.number, content=content)

    async def PreviewLetter(
        self, request: signing_pb2.IssueLetterRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.LetterPdf:
        try:
            content = await self._issuer.preview(_issue_request(request))
        except IssueRefused as exc:
            await _abort(context, _refusal_code(exc), exc.reason)
        return signing_pb2.LetterPdf(letter_id="", number="", content=content)

    async def RevokeLetter(
        self, request: signing_pb2.RevokeLetterRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.IssuedLetter:
        # The calling service (internal token) has signed the actor in and checked that they
        # are the Kepala Desa of request.desa_code; the letter must belong to that desa.
        try:
            letter, revoked = await revoke_letter(
                self._sessions,
                Revocation(
                    letter_id=request.letter_id,
                    desa_code=request.desa_code,
                    actor_username=request.actor_username,
                    actor_role=REVOKING_ROLE,
                    reason=request.reason,
                ),
            )
        except DomainError as exc:
            await _abort(context, domain_code(exc), exc.message)
        if revoked:
            self._on_committed()
        return _issued(letter, self._issuer)

    async def GetDesaProfile(
        self, request: signing_pb2.GetDesaProfileRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.DesaProfileView:
        try:
            snap = await self._profiles.get(request.desa_code)
        except ProfileNotFound:
            await _abort(context, grpc.StatusCode.NOT_FOUND, _no_profile(request.desa_code))
        logo = await self._profiles.read_logo(snap.profile) if request.include_logo else b""
        return _profile_view(snap, logo)

    async def UpdateDesaProfile(
        self, request: signing_pb2.UpdateDesaProfileRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.UpdateDesaProfileResponse:
        # The calling service has signed the staff member in and checked that they are the
        # Sekdes or Kades (own or Plt) of request.desa_code.
        if not request.updated_by:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "updated_by wajib diisi.")
        logo = LogoUpload(request.logo, request.logo_type) if request.logo else None
        try:
            snap = await self._profiles.update(
                request.desa_code,
                _profile_input(request.profile),
                updated_by=request.updated_by,
                logo=logo,
                remove_logo=request.remove_logo,
                create=request.create,
            )
        except ProfileNotFound:
            await _abort(context, grpc.StatusCode.NOT_FOUND, _no_profile(request.desa_code))
        except ProfileRejected as exc:
            errors = [signing_pb2.FieldError(field=k, message=v) for k, v in exc.errors.items()]
            try:
                current = await self._profiles.get(request.desa_code)
            except ProfileNotFound:  # a first profile (onboarding): nothing to show yet
                return signing_pb2.UpdateDesaProfileResponse(saved=False, errors=errors)
            return signing_pb2.UpdateDesaProfileResponse(
                saved=False, errors=errors, profile=_profile_view(current)
            )
        log.info("desa profile %s updated", request.desa_code)
        return signing_pb2.UpdateDesaProfileResponse(saved=True, profile=_profile_view(snap))

    async def ExampleNumber(
        self, request: signing_pb2.ExampleNumberRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.ExampleNumberResponse:
        try:
            example = await self._profiles.example_number(request.desa_code, request.number_format)
        except ProfileNotFound:
            await _abort(context, grpc.StatusCode.NOT_FOUND, _no_profile(request.desa_code))
        except InvalidNumberFormat as exc:
            return signing_pb2.ExampleNumberResponse(error=str(exc))
        return signing_pb2.ExampleNumberResponse(example=example)

    async def RenderServiceStandard(
        self, request: signing_pb2.ServiceStandardDocument, context: grpc.aio.ServicerContext
    ) -> signing_pb2.LetterPdf:
        try:
            snap = await self._profiles.get(request.desa_code)
        except ProfileNotFound:
            await _abort(context, grpc.StatusCode.NOT_FOUND, _no_profile(request.desa_code))
        sections = StandardSections(
            letter_type_name=request.letter_type_name,
            requirements=tuple(request.requirements),
            procedure=tuple(request.procedure),
            time=request.time,
            cost=request.cost,
            product=request.product,
            complaints=request.complaints,
            maklumat=request.maklumat,
            page_url=request.page_url,
        )
        try:
            content = await render_poster(
                snap.profile, sections, logo_path(snap.profile, self._issuer.assets_dir)
            )
        except PosterRefused as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return signing_pb2.LetterPdf(letter_id="", number="", content=content)

    async def GetSigner(
        self, request: signing_pb2.GetSignerRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.SignerInfo:
        roles: list[str] = []
        if request.desa_code and self._installed is not None:
            roles = await self._installed.roles_for(request.desa_code)
        return signing_pb2.SignerInfo(
            kind=self._issuer.signer_kind(request.desa_code) or "", roles=roles
        )

    async def InstallSigner(
        self, request: signing_pb2.InstallSignerRequest, context: grpc.aio.ServicerContext
    ) -> signing_pb2.InstalledSignerInfo:
        # The calling service has signed a kabupaten operator in (installed_by).
        if self._installed is None:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, "Pemasangan sertifikat tidak aktif."
            )
        upload = SignerUpload(
            pkcs12=request.pkcs12,
            certificate_pem=request.certificate_pem,
            key_pem=request.key_pem,
            password=request.password,
        )
        try:
            if request.bsre_nik:  # a camat who signs through BSrE: no certificate kept here
                info = await self._installed.register_remote(
                    request.desa_code,
                    request.role,
                    request.bsre_nik,
                    request.installed_by,
                    signer_name=request.signer_name,
                )
            else:
                info = await self._installed.install(
                    request.desa_code,
                    request.role,
                    upload,
                    request.installed_by,
                    signer_name=request.signer_name,
                )
        except SignerRejected as exc:
            code = (
                grpc.StatusCode.FAILED_PRECONDITION
                if exc.precondition
                else grpc.StatusCode.INVALID_ARGUMENT
            )
            await _abort(context, code, exc.reason)
        answer = signing_pb2.InstalledSignerInfo(
            desa_code=info.desa_code,
            role=info.role,
            subject=info.subject,
            serial=info.serial,
            fingerprint=info.fingerprint,
            kind=info.kind,
        )
        if info.not_after is not None:
            answer.not_after.FromDatetime(info.not_after)
        return answer


def register(
    issuer: LetterIssuer,
    sessions: async_sessionmaker[AsyncSession],
    on_committed: Callable[[], None],
    installed: InstalledSigners | None = None,
) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        signing_pb2_grpc.add_SigningServiceServicer_to_server(
            SigningServicer(issuer, sessions, on_committed, installed), server
        )
        catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server(
            CatalogueServicer(sessions, issuer.assets_dir), server
        )

    return add
