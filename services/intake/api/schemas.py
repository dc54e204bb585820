"""Request and response bodies of the resident API."""

from datetime import datetime

from pydantic import BaseModel, Field

from common.db import as_utc
from common.domain import ApplicationStatus
from common.domain.events import APPLICATION_SIGNING_BLOCKED
from services.intake.applications import ApplicationDetails, register_field_names
from services.intake.letter_types import LetterType, Requirement
from services.intake.models import Attachment, TimelineEntry

# What the resident reads while signing refuses their approved letter. Signing's own reason is
# for staff (it names certificates, Plt names, number formats); it stays out of this API.
SIGNING_BLOCKED_TEXT = "Surat sedang menunggu tanda tangan elektronik; petugas sudah diberi tahu."


class OtpRequest(BaseModel):
    nik: str = Field(max_length=32, examples=["3213115708900001"])
    phone: str = Field(max_length=32, examples=["081234567890"])


class TokenRequest(OtpRequest):
    otp: str = Field(max_length=16, examples=["123456"])
    # Only for the first sign-in of a NIK the population register holds without a phone
    # (answered 401 `family-knowledge-required` without them): as in the Kartu Keluarga.
    kk_number: str = Field(default="", max_length=32, examples=["3213110101090001"])
    mother_name: str = Field(default="", max_length=200, examples=["Siti Aminah"])


class Accepted(BaseModel):
    detail: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


class RequirementOut(BaseModel):
    code: str
    name: str
    description: str
    # wajib (uploaded, required) | opsional (not required) | bawa_asli (the original is
    # brought to the desa office, not uploaded); kind_label says it in Indonesian.
    kind: str = "wajib"
    kind_label: str = ""

    @classmethod
    def of(cls, r: Requirement) -> "RequirementOut":
        return cls(
            code=r.code,
            name=r.name,
            description=r.description,
            kind=r.kind,
            kind_label=r.kind_label,
        )


class FormFieldOut(BaseModel):
    name: str
    label: str
    required: bool
    kind: str
    max_length: int
    choices: list[str]
    # What pages show beside the field, and each choice in words ("P": "Perempuan"); the
    # value sent is the choice itself. A date is sent as 1990-08-15 (or as people write it,
    # "15 Agustus 1990"), and stored as 1990-08-15.
    hint: str = ""
    choice_labels: dict[str, str] = {}


class LetterTypeOut(BaseModel):
    code: str
    name: str
    description: str
    requirements: list[RequirementOut]  # the uploads required (kind wajib)
    # Every syarat, in the catalogue's order: the optional ones and the originals to bring too.
    syarat: list[RequirementOut] = []
    fields: list[FormFieldOut]

    @classmethod
    def of(cls, lt: LetterType) -> "LetterTypeOut":
        return cls(
            code=lt.code,
            name=lt.name,
            description=lt.description,
            requirements=[RequirementOut.of(r) for r in lt.requirements],
            syarat=[RequirementOut.of(r) for r in lt.syarat],
            fields=[
                FormFieldOut(
                    name=f.name,
                    label=f.label,
                    required=f.required,
                    kind=f.kind,
                    max_length=f.max_length,
                    choices=list(f.choices),
                    hint=f.hint,
                    choice_labels=dict(f.options),
                )
                for f in lt.fields
            ],
        )


class ApplicationCreate(BaseModel):
    desa_code: str = Field(max_length=20, examples=["32.13.11.2004"])
    letter_type: str = Field(max_length=20, examples=["SKD"])
    purpose: str = Field(max_length=2000, examples=["Persyaratan melamar pekerjaan"])
    fields: dict[str, str] = Field(default_factory=dict, max_length=50)
    # A letter about a family member (SKL, SKK): a member's `id` from GET /api/v1/family.
    subject_id: str | None = Field(default=None, max_length=64)


class ApplicationUpdate(BaseModel):
    purpose: str | None = Field(default=None, max_length=2000)
    fields: dict[str, str] = Field(default_factory=dict, max_length=50)


class AttachmentOut(BaseModel):
    id: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    # The name the resident's file had, cleaned; null for files stored before names were kept.
    filename: str | None = None

    @classmethod
    def of(cls, a: Attachment) -> "AttachmentOut":
        return cls(
            id=a.id,
            kind=a.kind,
            content_type=a.content_type,
            size_bytes=a.size_bytes,
            sha256=a.sha256,
            created_at=as_utc(a.created_at),
            filename=a.filename,
        )


class StepRefOut(BaseModel):
    index: int
    role: str


class CurrentStepOut(StepRefOut):
    assigned_at: datetime | None
    deadline: datetime | None  # by when the step should be decided


class TimelineEntryOut(BaseModel):
    at: datetime
    event: str
    status: str
    step: StepRefOut | None
    decision: str
    actor_role: str
    reason: str
    deadline: datetime | None
    escalated_to_role: str
    escalation_level: int
    decided_as: str  # "" (own role), "plt" or "supervisor"

    @classmethod
    def of(cls, t: TimelineEntry) -> "TimelineEntryOut":
        step = None
        if t.step_index is not None and t.step_role is not None:
            step = StepRefOut(index=t.step_index, role=t.step_role)
        return cls(
            at=as_utc(t.at),
            event=t.event,
            status=t.status,
            step=step,
            decision=t.decision,
            actor_role=t.actor_role,
            reason=SIGNING_BLOCKED_TEXT if t.event == APPLICATION_SIGNING_BLOCKED else t.reason,
            deadline=as_utc(t.deadline) if t.deadline else None,
            escalated_to_role=t.escalated_to_role,
            escalation_level=t.escalation_level,
            decided_as=t.decided_as,
        )


class LetterOut(BaseModel):
    number: str
    verification_url: str


class ApplicationOut(BaseModel):
    id: str
    # What the resident, staff and Diskominfo call it, e.g. SKU-2026-000123; null for a draft.
    number: str | None
    status: str
    desa_code: str
    letter_type: str
    purpose: str
    fields: dict[str, str]
    attachments: list[AttachmentOut]
    current_step: CurrentStepOut | None
    # Until when what waits now may take: the current step, or the resident's revision.
    deadline: datetime | None
    # Why it was returned for revision, rejected or ended, for as long as that status holds.
    status_reason: str
    timeline: list[TimelineEntryOut]
    letter: LetterOut | None
    created_at: datetime
    submitted_at: datetime | None
    # "portal", or "walk_in": filed for the resident by desa staff at the office.
    channel: str
    # The fields whose values are the desa's population register's (read-only for the resident).
    register_fields: list[str]
    # The family member the letter is about (register id), when chosen from the resident's KK.
    subject_id: str | None
    # The catalogue version of its letter type it keeps from start to letter (SKD-v2).
    letter_type_version: str = ""

    @classmethod
    def of(cls, d: ApplicationDetails) -> "ApplicationOut":
        a = d.application
        current_step = None
        deadline = as_utc(a.current_deadline) if a.current_deadline else None
        if a.current_step_index is not None and a.current_step_role is not None:
            current_step = CurrentStepOut(
                deadline=deadline,
                index=a.current_step_index,
                role=a.current_step_role,
                assigned_at=as_utc(a.current_step_assigned_at)
                if a.current_step_assigned_at
                else None,
            )
        letter = None
        if a.letter_number:
            letter = LetterOut(
                number=a.letter_number, verification_url=a.letter_verification_url or ""
            )
        return cls(
            id=a.id,
            number=a.number,
            status=a.status,
            desa_code=a.desa_code,
            letter_type=a.letter_type,
            purpose=a.purpose,
            fields=d.fields,
            attachments=[AttachmentOut.of(x) for x in d.attachments],
            current_step=current_step,
            deadline=deadline,
            status_reason=SIGNING_BLOCKED_TEXT
            if a.status == ApplicationStatus.SIGNING_BLOCKED
            else a.status_reason,
            timeline=[TimelineEntryOut.of(t) for t in d.timeline],
            letter=letter,
            created_at=as_utc(a.created_at),
            submitted_at=as_utc(a.submitted_at) if a.submitted_at else None,
            channel=a.channel,
            register_fields=sorted(register_field_names(a)),
            subject_id=a.subject_resident_id,
            letter_type_version=a.letter_type_version,
        )


class SubmitOut(BaseModel):
    id: str
    status: str


class UploadCreate(BaseModel):
    """A resumable upload of one syarat document: what it is for and how big it is."""

    kind: str = Field(max_length=40, examples=["KTP"])
    filename: str = Field(default="", max_length=1000, examples=["ktp.jpg"])
    size_bytes: int = Field(examples=[2_600_000])
    content_type: str = Field(default="", max_length=200, examples=["image/jpeg"])


class UploadOut(BaseModel):
    id: str
    application_id: str
    kind: str
    filename: str
    size_bytes: int
    offset: int  # bytes the server holds; the next chunk starts here
    chunk_size: int  # how much to send per request
    complete: bool
    attachment: AttachmentOut | None  # once complete (while the attachment is still there)
    upload_url: str
    expires_at: datetime
