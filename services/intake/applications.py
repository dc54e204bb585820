"""Applications: creating them with what intake can check at the door, reading a resident's
own, and recording their submission. The workflow's later changes arrive via `progress`."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smartdesa.v1 import events_pb2
from sqlmodel import case, col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import ApplicationStatus, Role
from common.domain.errors import Conflict, Invalid
from common.domain.events import (
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SUBMITTED,
)
from common.events import (
    AreaCodes,
    CloudEvent,
    deterministic_event_id,
    event_type,
    proto_data,
    public_subject,
)
from common.outbox import stage_event
from common.wilayah import find_desa
from services.intake.letter_types import (
    PURPOSE_MAX_LENGTH,
    InvalidFields,
    LetterType,
    check_fields,
    field_errors,
)
from services.intake.models import Attachment, LetterApplication, Resident, TimelineEntry

EVENT_SOURCE = "/services/intake"
# How an application came in (LetterApplication.channel, and application.submitted's `channel`).
PORTAL = "portal"
WALK_IN = "walk_in"
WHATSAPP = "whatsapp"  # the resident, by chat (notification's WhatsApp conversation)
# The resident reads this on the timeline of an application desa staff filed for them.
FILED_AT_OFFICE = "Didaftarkan di kantor desa oleh petugas"
# Attachments may change only while the resident holds the application.
EDITABLE_STATUSES = (ApplicationStatus.DRAFT, ApplicationStatus.REVISION_REQUESTED)


class InvalidApplication(Invalid):
    """`str(exc)` is the Indonesian message; `field` names the offending input."""

    field: str

    def __init__(self, message: str, field: str) -> None:
        super().__init__("invalid-application", message, field=field)


@dataclass(frozen=True)
class ApplicationDetails:
    application: LetterApplication
    attachments: Sequence[Attachment]
    timeline: Sequence[TimelineEntry]

    @property
    def fields(self) -> dict[str, str]:
        return load_fields(self.application)


def load_fields(application: LetterApplication) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(application.fields_json)
    return loaded


def register_field_names(application: LetterApplication) -> set[str]:
    """The fields whose values are the population register's, not the resident's."""
    return {name for name in application.register_fields.split(",") if name}


async def refill_from_register(
    session: AsyncSession,
    application: LetterApplication,
    letter_type: LetterType,
    fields: dict[str, str],
    register_version: int | None,
    register_fields: Sequence[str],
    subject_register_version: int | None = None,
) -> bool:
    """Stores the register's snapshot on a draft just before it is submitted, or on an
    application returned for revision just before it is resubmitted; False if it is no longer
    in that state (submitted or resubmitted meanwhile), with nothing changed."""
    try:
        cleaned = check_fields(letter_type, fields)
    except InvalidFields as exc:
        raise InvalidApplication(str(exc), f"fields.{exc.field_name}") from exc
    statement = update(LetterApplication).where(col(LetterApplication.id) == application.id)
    if application.status == ApplicationStatus.REVISION_REQUESTED:
        statement = statement.where(
            col(LetterApplication.status) == ApplicationStatus.REVISION_REQUESTED
        )
    else:
        statement = statement.where(col(LetterApplication.status) == ApplicationStatus.DRAFT).where(
            col(LetterApplication.submitted_at).is_(None)
        )
    changed = await session.exec(
        statement.values(
            fields_json=json.dumps(cleaned, ensure_ascii=False, sort_keys=True),
            register_version=register_version,
            register_fields=",".join(register_fields),
            subject_register_version=subject_register_version,
        )
    )
    if changed.rowcount == 0:
        await session.rollback()
        return False
    await session.commit()
    await session.refresh(application)
    return True


def application_errors(
    desa_code: str,
    letter_type_code: str,
    purpose: str,
    fields: Mapping[str, str],
    letter_type: LetterType | None,
) -> dict[str, str]:
    """Every wrong input of a new application with its Indonesian message, keyed `desa_code`,
    `letter_type`, `purpose` or `fields.<name>`, in that order; empty when all is right.
    `letter_type`: the catalogue's current version of `letter_type_code` (None: there is
    none residents may request)."""
    errors: dict[str, str] = {}
    if find_desa(desa_code) is None:
        errors["desa_code"] = f"Desa dengan kode '{desa_code}' tidak dikenal."
    if letter_type is None or letter_type.code != letter_type_code:
        errors["letter_type"] = f"Jenis surat '{letter_type_code}' tidak tersedia."
    purpose = purpose.strip()
    if not purpose:
        errors["purpose"] = "Keperluan wajib diisi."
    elif len(purpose) > PURPOSE_MAX_LENGTH:
        errors["purpose"] = (
            f"Keperluan terlalu panjang (paling banyak {PURPOSE_MAX_LENGTH} karakter)."
        )
    if letter_type is not None and letter_type.code == letter_type_code:
        for name, message in field_errors(letter_type, fields).items():
            errors[f"fields.{name}"] = message
    return errors


def new_application(
    resident_id: str,
    desa_code: str,
    letter_type_code: str,
    purpose: str,
    fields: dict[str, str],
    register_version: int | None = None,
    register_fields: Sequence[str] = (),
    *,
    letter_type: LetterType | None,
    subject_resident_id: str | None = None,
    subject_register_version: int | None = None,
) -> LetterApplication:
    """A draft checked as intake checks every application at the door (desa, letter type,
    purpose, the type's fields); not yet added to any session. Raises InvalidApplication with
    the first wrong input (`application_errors` lists them all). `register_version` and
    `register_fields` say which fields the population register filled (register_data.py)."""
    errors = application_errors(desa_code, letter_type_code, purpose, fields, letter_type)
    if errors:
        field, message = next(iter(errors.items()))
        raise InvalidApplication(message, field)
    if letter_type is None:  # checked above
        raise InvalidApplication(f"Jenis surat '{letter_type_code}' tidak tersedia.", "letter_type")
    cleaned = check_fields(letter_type, fields)
    return LetterApplication(
        resident_id=resident_id,
        desa_code=desa_code,
        letter_type=letter_type.code,
        # The version it starts with, kept to the end (services/intake/catalogue.py).
        letter_type_version=letter_type.template_version,
        letter_type_name=letter_type.name,
        purpose=purpose.strip(),
        fields_json=json.dumps(cleaned, ensure_ascii=False, sort_keys=True),
        status=ApplicationStatus.DRAFT,
        register_version=register_version,
        register_fields=",".join(register_fields),
        subject_resident_id=subject_resident_id,
        subject_register_version=subject_register_version,
    )


class TooManyDrafts(Conflict):
    """The resident already holds as many drafts as they may."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "too-many-drafts",
            f"Anda sudah memiliki {limit} draf permohonan yang belum diajukan, batas yang "
            "diizinkan. Lengkapi dan ajukan salah satunya (atau ubah draf yang ada untuk "
            "keperluan ini) sebelum membuat permohonan baru.",
        )


async def create_application(
    session: AsyncSession,
    resident_id: str,
    desa_code: str,
    letter_type_code: str,
    purpose: str,
    fields: dict[str, str],
    register_version: int | None = None,
    register_fields: Sequence[str] = (),
    *,
    letter_type: LetterType | None,
    max_open_drafts: int,
    subject_resident_id: str | None = None,
    subject_register_version: int | None = None,
) -> LetterApplication:
    """A new draft of the resident's, or InvalidApplication, or TooManyDrafts when they hold
    `max_open_drafts` drafts already (each is a row and files that nobody reviews)."""
    application = new_application(
        resident_id,
        desa_code,
        letter_type_code,
        purpose,
        fields,
        register_version,
        register_fields,
        letter_type=letter_type,
        subject_resident_id=subject_resident_id,
        subject_register_version=subject_register_version,
    )
    # Writing the resident's row first holds it until the commit (a row lock on PostgreSQL,
    # the write lock on SQLite), so two creations at once count one after the other.
    await session.exec(
        update(Resident).where(col(Resident.id) == resident_id).values(id=Resident.id)
    )
    drafts = (
        await session.exec(
            select(func.count())
            .select_from(LetterApplication)
            .where(col(LetterApplication.resident_id) == resident_id)
            .where(col(LetterApplication.status) == ApplicationStatus.DRAFT)
        )
    ).one()
    if drafts >= max_open_drafts:
        await session.rollback()
        raise TooManyDrafts(max_open_drafts)
    session.add(application)
    await session.commit()
    return application


async def owned_application(
    session: AsyncSession, resident_id: str, application_id: str
) -> LetterApplication | None:
    """The application if it belongs to this resident; None otherwise (callers answer 404 so
    nobody learns that another resident's application exists)."""
    return (
        await session.exec(
            select(LetterApplication)
            .where(LetterApplication.id == application_id)
            .where(LetterApplication.resident_id == resident_id)
        )
    ).first()


async def owned_applications(session: AsyncSession, resident_id: str) -> list[LetterApplication]:
    return list(
        (
            await session.exec(
                select(LetterApplication)
                .where(LetterApplication.resident_id == resident_id)
                .order_by(col(LetterApplication.created_at).desc())
            )
        ).all()
    )


async def attachments_of(session: AsyncSession, application_id: str) -> list[Attachment]:
    return list(
        (
            await session.exec(
                select(Attachment)
                .where(Attachment.application_id == application_id)
                .order_by(col(Attachment.created_at))
            )
        ).all()
    )


async def details(session: AsyncSession, application: LetterApplication) -> ApplicationDetails:
    timeline = (
        await session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.application_id == application.id)
            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
        )
    ).all()
    return ApplicationDetails(
        application=application,
        attachments=await attachments_of(session, application.id),
        timeline=timeline,
    )


async def missing_requirements(
    session: AsyncSession, application: LetterApplication, letter_type: LetterType
) -> list[str]:
    """Requirement codes with no attachment yet, in the catalogue's order (`letter_type`: the
    version the application started with, `Catalogue.of`)."""
    present = {a.kind for a in await attachments_of(session, application.id)}
    return [code for code in letter_type.requirement_codes if code not in present]


def missing_requirements_message(letter_type: LetterType, missing: Sequence[str]) -> str:
    names = {r.code: r.name for r in letter_type.requirements}
    return "Syarat belum lengkap: " + ", ".join(f"{names.get(c, c)} ({c})" for c in missing)


async def require_documents(
    session: AsyncSession, application: LetterApplication, letter_type: LetterType
) -> None:
    """Refuses (Invalid, `missing`: the requirement codes) while a syarat has no attachment."""
    missing = await missing_requirements(session, application, letter_type)
    if missing:
        raise Invalid(
            "missing-requirements",
            missing_requirements_message(letter_type, missing),
            missing=missing,
        )


def application_event_data(application: LetterApplication, **extra: Any) -> dict[str, Any]:
    """Public event data: ids, area codes, type and state only; never personal data. The type's
    name comes along so consumers (notification) need no catalogue of their own."""
    area = AreaCodes.from_desa(application.desa_code)
    return proto_data(
        events_pb2.ApplicationEvent(
            application_id=application.id,
            desa_code=area.desa,
            kecamatan_code=area.kecamatan,
            kabupaten_code=area.kabupaten,
            letter_type=application.letter_type,
            # The name when it started (kept with it): no catalogue read on every event.
            letter_type_name=application.letter_type_name or application.letter_type,
            application_number=application.number or "",
            **extra,
        )
    )


async def record_submission(
    session: AsyncSession, application_id: str, submitted_at: datetime
) -> bool:
    """Marks the application submitted once, with its timeline entry and public event, in one
    transaction. Keyed on submitted_at rather than status: the workflow may already have
    recorded its first step before this runs. False if it was already recorded. A walk-in's
    entry says it was filed at the office, and by whom (`filed_by`, a staff username)."""
    marked = await session.exec(
        update(LetterApplication)
        .where(col(LetterApplication.id) == application_id)
        .where(col(LetterApplication.submitted_at).is_(None))
        .values(
            submitted_at=submitted_at,
            status=case(
                (
                    col(LetterApplication.status) == ApplicationStatus.DRAFT,
                    ApplicationStatus.IN_REVIEW,
                ),
                else_=col(LetterApplication.status),
            ),
        )
    )
    if marked.rowcount == 0:
        await session.rollback()
        return False
    application = (
        await session.exec(
            select(LetterApplication)
            .where(LetterApplication.id == application_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    walk_in = application.channel == WALK_IN
    session.add(
        TimelineEntry(
            application_id=application_id,
            at=submitted_at,
            event=APPLICATION_SUBMITTED,
            status=ApplicationStatus.IN_REVIEW,
            actor_role=Role.OPERATOR if walk_in else "",
            actor=application.filed_by if walk_in else "",
            reason=FILED_AT_OFFICE if walk_in else "",
        )
    )
    await stage_event(
        session,
        public_subject(application.desa_code, APPLICATION_SUBMITTED),
        CloudEvent(
            id=deterministic_event_id(application_id, "submitted"),
            source=EVENT_SOURCE,
            type=event_type(APPLICATION_SUBMITTED),
            subject=application_id,
            time=submitted_at,
            data=application_event_data(
                application, status=ApplicationStatus.IN_REVIEW, channel=application.channel
            ),
        ),
        # submitted_at, set once and never cleared, was unset until this transaction.
        known_new=True,
    )
    await session.commit()
    return True


async def change_application(
    session: AsyncSession,
    application: LetterApplication,
    letter_type: LetterType,
    purpose: str | None,
    fields: dict[str, str],
) -> LetterApplication | None:
    """Applies the resident's changes if the application is still theirs to change (a draft, or
    returned for revision); None if it was submitted or resubmitted in the meantime."""
    new_purpose = application.purpose
    if purpose is not None:
        new_purpose = purpose.strip()
        if not new_purpose:
            raise InvalidApplication("Keperluan wajib diisi.", "purpose")
        if len(new_purpose) > PURPOSE_MAX_LENGTH:
            raise InvalidApplication(
                f"Keperluan terlalu panjang (paling banyak {PURPOSE_MAX_LENGTH} karakter).",
                "purpose",
            )
    try:
        cleaned = check_fields(letter_type, {**load_fields(application), **fields})
    except InvalidFields as exc:
        raise InvalidApplication(str(exc), f"fields.{exc.field_name}") from exc
    # Conditional on the status, so a change racing a (re)submission never lands after it.
    changed = await session.exec(
        update(LetterApplication)
        .where(col(LetterApplication.id) == application.id)
        .where(col(LetterApplication.status).in_(EDITABLE_STATUSES))
        .values(
            purpose=new_purpose,
            fields_json=json.dumps(cleaned, ensure_ascii=False, sort_keys=True),
        )
    )
    if changed.rowcount == 0:
        await session.rollback()
        return None
    await session.commit()
    await session.refresh(application)
    return application


async def resubmitted_since_revision(session: AsyncSession, application_id: str) -> bool:
    """True if the latest revision request has been answered by a resubmission."""
    latest = (
        await session.exec(
            select(TimelineEntry.event)
            .where(
                TimelineEntry.application_id == application_id,
                col(TimelineEntry.event).in_(
                    (APPLICATION_REVISION_REQUESTED, APPLICATION_RESUBMITTED)
                ),
            )
            .order_by(col(TimelineEntry.at).desc(), col(TimelineEntry.id).desc())
        )
    ).first()
    return latest == APPLICATION_RESUBMITTED


async def revision_round(session: AsyncSession, application_id: str) -> int:
    """How many times the application was returned for revision (1 after the first)."""
    rows = await session.exec(
        select(TimelineEntry.id).where(
            TimelineEntry.application_id == application_id,
            TimelineEntry.event == APPLICATION_REVISION_REQUESTED,
        )
    )
    return len(rows.all())
