"""What a resident does to their own applications, as the portal's pages and the resident API
both call it: create a draft, change it while they hold it, submit, resubmit after a revision,
cancel, and fetch the signed letter. Who is asking is the callers' dependency
(`CurrentResident`, the page's resident); here every action is on that resident's own
application only, and every refusal is a domain error (`common.domain.errors`) that the API
answers as problem+json and the page shows beside the form."""

import logging
import re
from dataclasses import dataclass

import grpc
from smartdesa.v1 import population_pb2_grpc, signing_pb2
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import ApplicationStatus
from common.domain.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from common.register_fields import REGISTER_FIELDS
from common.temporal_client import TemporalConnection
from services.intake import approvals, register_data, submission
from services.intake.applications import (
    EDITABLE_STATUSES,
    change_application,
    create_application,
    load_fields,
    owned_application,
    refill_from_register,
    register_field_names,
    require_documents,
    resubmitted_since_revision,
    revision_round,
)
from services.intake.catalogue import Catalogue
from services.intake.models import LetterApplication, Resident
from services.intake.non_residents import ensure_open_to
from services.intake.offered import ensure_offered
from services.intake.runtime import Runtime

log = logging.getLogger(__name__)

NOT_FOUND = "Permohonan tidak ditemukan."
SIGNING_TIMEOUT_SECONDS = 15.0
LOCKED = "Permohonan hanya dapat diubah sebelum diajukan atau saat diminta perbaikan."
NOT_AWAITING_REVISION = "Permohonan ini tidak sedang menunggu perbaikan."


async def owned(session: AsyncSession, resident_id: str, application_id: str) -> LetterApplication:
    """The resident's own application; NotFound for any other (nobody learns that another
    resident's application exists)."""
    application = await owned_application(session, resident_id, application_id)
    if application is None:
        raise NotFound("not-found", NOT_FOUND)
    return application


async def create(
    runtime: Runtime,
    session: AsyncSession,
    resident_id: str,
    desa_code: str,
    letter_type: str,
    purpose: str,
    fields: dict[str, str],
    subject_id: str | None = None,
) -> LetterApplication:
    """A new draft of a letter type the desa offers, checked as every application is at the
    door (InvalidApplication names the first wrong input); TooManyDrafts when the resident
    holds `intake_max_open_drafts` already. For a resident the desa's population register
    holds, its identity fields are the register's, whatever was sent. `subject_id`: for a
    letter about a family member (a birth, a death), the member chosen from the resident's
    own KK (`register_data.family`), whose record fills the subject's fields."""
    # The catalogue's current version, which the application keeps (asked first: if signing
    # does not answer, nothing is read from the register and nothing is written).
    current = await runtime.catalogue.find(letter_type)
    # With the desa's wording of it now, kept too: the letter is worded as when it started.
    current = await runtime.catalogue.worded(current, desa_code)
    await ensure_offered(runtime.directory, desa_code, current)
    nik = await nik_of(session, resident_id)
    who = register_data.actor(resident_id)
    record = await register_data.lookup(
        runtime.population, nik, desa_code, register_data.PURPOSE_CREATE, who
    )
    if record is None:
        resident = await session.get(Resident, resident_id)
        phone = resident.phone if resident else ""
        await ensure_open_to(runtime.population, nik, phone, current, runtime.catalogue)
    filled = register_data.fill(current, fields, record)
    subject = register_data.Filled(filled.fields, (), None)
    if subject_id:
        if current is None or not current.subject:
            raise Invalid(
                "no-subject",
                "Surat ini tentang pemohon sendiri; tidak ada anggota keluarga yang dipilih.",
                field="subject_id",
            )
        member = await register_data.chosen_member(
            runtime.population, nik, desa_code, subject_id, register_data.PURPOSE_CREATE, who
        )
        subject = register_data.fill_subject(letter_type, filled.fields, member)
    application = await create_application(
        session,
        resident_id,
        desa_code,
        letter_type,
        purpose,
        subject.fields,
        filled.version,
        (*filled.from_register, *subject.from_register),
        letter_type=current,
        max_open_drafts=runtime.settings.intake_max_open_drafts,
        subject_resident_id=subject_id or None,
        subject_register_version=subject.version,
    )
    log.info("application %s created by resident %s", application.id, resident_id)
    return application


async def change(
    runtime: Runtime,
    session: AsyncSession,
    resident_id: str,
    application_id: str,
    purpose: str | None,
    fields: dict[str, str],
) -> LetterApplication:
    """The purpose or fields changed while the resident holds the application (a draft, or
    returned for revision and not yet resubmitted)."""
    application = await owned(session, resident_id, application_id)
    if application.status not in EDITABLE_STATUSES:
        raise Conflict("locked", LOCKED)
    held = register_field_names(application)  # the register's values are not the resident's
    typed = {name: value for name, value in fields.items() if name not in held}
    letter_type = await runtime.catalogue.of(application)  # the version it started with
    changed = await change_application(session, application, letter_type, purpose, typed)
    if changed is None:  # submitted or resubmitted meanwhile
        raise Conflict("locked", LOCKED)
    return changed


async def submit(
    runtime: Runtime, session: AsyncSession, resident_id: str, application_id: str
) -> LetterApplication:
    """`Ajukan`: submitted once; asking again answers with the application as it is."""
    application = await owned(session, resident_id, application_id)
    if submission.under_way(application):
        return application
    # A draft of a type the desa stopped offering since it was made is not started.
    letter_type = await runtime.catalogue.of(application)
    await ensure_offered(runtime.directory, application.desa_code, letter_type)
    await _refill(runtime.catalogue, runtime.population, session, resident_id, application)
    if await submission.submit(
        session, runtime.temporal, runtime.settings.temporal_task_queue, application, letter_type
    ):
        runtime.relay.wake()
        log.info("application %s submitted", application.id)
    return application


async def nik_of(session: AsyncSession, resident_id: str) -> str:
    resident = await session.get(Resident, resident_id)
    if resident is None:  # the token names a resident intake made at sign-in
        raise NotFound("not-found", "Penduduk tidak ditemukan.")
    return resident.nik


async def _refill(
    catalogue: Catalogue,
    population: population_pb2_grpc.PopulationServiceStub,
    session: AsyncSession,
    resident_id: str,
    application: LetterApplication,
) -> None:
    """The register read again as the application is submitted or resubmitted after a
    revision: the letter prints the register as it is now (the resident's record, and the
    family member's for a letter about one), and the application keeps the versions used."""
    purpose = f"application:{application.id}"
    who = register_data.actor(resident_id)
    letter_type = await catalogue.of(application)  # the version it started with
    record = await register_data.lookup(
        population,
        await nik_of(session, resident_id),
        application.desa_code,
        purpose,
        who,
    )
    member = None
    if application.subject_resident_id:
        member = await register_data.member_record(
            population, application.subject_resident_id, purpose, who
        )
    if record is None and member is None:
        # Not (or no longer) in the desa's register: the values stand as they are.
        return
    held = register_field_names(application)
    fields = load_fields(application)
    own_held = held & set(REGISTER_FIELDS)
    subject_held = held - own_held
    from_register: list[str] = []
    version, subject_version = application.register_version, application.subject_register_version
    if record is not None:
        # Values the register filled before and no longer holds are not the resident's to keep.
        filled = register_data.fill(
            letter_type, {k: v for k, v in fields.items() if k not in own_held}, record
        )
        fields, version = filled.fields, filled.version
        from_register.extend(filled.from_register)
    else:
        from_register.extend(sorted(own_held))
    if member is not None:
        subject = register_data.fill_subject(
            application.letter_type,
            {k: v for k, v in fields.items() if k not in subject_held},
            member,
        )
        fields, subject_version = subject.fields, subject.version
        from_register.extend(subject.from_register)
    else:
        from_register.extend(sorted(subject_held))
    if not await refill_from_register(
        session, application, letter_type, fields, version, from_register, subject_version
    ):
        await session.refresh(application)  # moved on meanwhile: the caller answers as it is


async def resubmit(
    runtime: Runtime, session: AsyncSession, resident_id: str, application_id: str
) -> str:
    """After a revision request: back to review. Returns the application's status after it."""
    return await resubmit_with(
        runtime.temporal,
        runtime.catalogue,
        runtime.population,
        session,
        resident_id,
        application_id,
    )


async def resubmit_with(
    temporal: TemporalConnection,
    catalogue: Catalogue,
    population: population_pb2_grpc.PopulationServiceStub,
    session: AsyncSession,
    resident_id: str,
    application_id: str,
) -> str:
    """The resubmission the portal and the WhatsApp chat (IntakeService.
    ReviseApplicationOfResident) share."""
    application = await owned(session, resident_id, application_id)
    if application.status != ApplicationStatus.REVISION_REQUESTED:
        if application.status == ApplicationStatus.IN_REVIEW and await resubmitted_since_revision(
            session, application.id
        ):
            # A repeat of a resubmission that went through: the same answer, nothing new.
            return application.status
        raise Conflict("not-awaiting-revision", NOT_AWAITING_REVISION)
    await require_documents(session, application, await catalogue.of(application))
    # The register is read again as at submission: a correction accepted meanwhile is printed.
    await _refill(catalogue, population, session, resident_id, application)
    try:
        # One resubmission per revision round: a repeated tap reaches the workflow with the
        # same request id and gets the same answer.
        revision = await revision_round(session, application.id)
        state = await approvals.resubmit(
            temporal, application.id, f"resubmit-{application.id}-{revision}"
        )
    except approvals.NotAwaitingResubmit as exc:
        raise Conflict("not-awaiting-revision", NOT_AWAITING_REVISION) from exc
    except approvals.ApprovalUnavailable as exc:
        raise submission.ApprovalUnavailable() from exc
    # The workflow records the resubmission (timeline and event) through RecordProgress.
    log.info("application %s resubmitted", application.id)
    return state.status


async def cancel(
    runtime: Runtime, session: AsyncSession, resident_id: str, application_id: str
) -> str:
    """The portal's cancel (API and page)."""
    return await cancel_with(runtime.temporal, session, resident_id, application_id)


async def cancel_with(
    temporal: TemporalConnection, session: AsyncSession, resident_id: str, application_id: str
) -> str:
    """Withdraws the application while it waits (in review or returned for revision).
    Cancelling again answers with the cancelled state. Returns the status after it. The portal
    and the WhatsApp chat (IntakeService.CancelApplicationOfResident) both cancel here."""
    application = await owned(session, resident_id, application_id)
    if application.status == ApplicationStatus.CANCELLED:
        return ApplicationStatus.CANCELLED
    if application.status == ApplicationStatus.DRAFT:
        raise Conflict(
            "not-submitted", "Permohonan ini belum diajukan; draf tidak perlu dibatalkan."
        )
    if application.status not in (
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.REVISION_REQUESTED,
    ):
        raise Conflict("not-cancellable", approvals.NOT_CANCELLABLE)
    try:
        # One cancellation per application: a retried request reaches the workflow with the
        # same id and gets the same answer.
        state = await approvals.cancel(temporal, application.id, f"cancel-{application.id}")
    except approvals.NotCancellable as exc:
        raise Conflict("not-cancellable", str(exc)) from exc
    except approvals.ApprovalUnavailable as exc:
        raise submission.ApprovalUnavailable() from exc
    # The workflow records the cancellation (timeline and event) through RecordProgress.
    log.info("application %s cancelled by its resident", application.id)
    return state.status


@dataclass(frozen=True)
class SignedLetter:
    content: bytes  # the signed PDF; it carries the resident's NIK
    filename: str


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def letter_filename(number: str, application_id: str) -> str:
    """`470/12/32.13.11.2004/VI/2025` -> `surat-470-12-32.13.11.2004-VI-2025.pdf`."""
    safe = _UNSAFE_FILENAME.sub("-", number).strip("-.")
    return f"surat-{safe or application_id}.pdf"


async def own_letter(
    runtime: Runtime, session: AsyncSession, resident_id: str, application_id: str
) -> SignedLetter:
    """The signed letter of the resident's own issued application."""
    application = await owned(session, resident_id, application_id)
    if application.status != ApplicationStatus.ISSUED:
        raise Conflict("not-issued", "Surat belum terbit untuk permohonan ini.")
    missing = NotFound("letter-missing", "Berkas surat tidak ditemukan.")
    return await signed_letter(runtime, application, missing, log_missing=True)


async def signed_letter(
    runtime: Runtime,
    application: LetterApplication,
    missing: DomainError,
    *,
    log_missing: bool = False,
) -> SignedLetter:
    """The signed PDF of an issued application, from signing. `missing` is raised when signing
    has no such letter."""
    try:
        letter = await runtime.signing.GetLetterPdf(
            signing_pb2.GetLetterPdfRequest(application_id=application.id),
            timeout=SIGNING_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            if log_missing:
                log.error("application %s is issued but signing has no letter", application.id)
            raise missing from exc
        log.warning("signing unavailable for application %s: %s", application.id, exc.code())
        raise Unavailable(
            "signing-unavailable",
            "Layanan surat sedang tidak dapat dihubungi. Silakan coba lagi nanti.",
        ) from exc
    filename = letter_filename(letter.number or application.letter_number or "", application.id)
    return SignedLetter(content=letter.content, filename=filename)
