"""What the desa's population register holds about the signed-in resident, their requests to
correct it, the members of their KK (for a letter about one of them), and the KTP and KK
photos kept on their record, and everything held about them (`/me/data`, UU 27/2022 PDP). The
use cases are `register_corrections`, `register_data`, `kept_documents` and `data_rights`,
which the portal's pages call too."""

from datetime import datetime

from fastapi import APIRouter, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from common.domain.errors import Invalid, NotFound
from services.intake import data_rights, register_corrections, register_data, resident_actions
from services.intake.api.deps import CurrentResident, RuntimeDep, SessionDep
from services.intake.api.schemas import AttachmentOut
from services.intake.file_safety import MAX_ATTACHMENT_BYTES
from services.intake.kept_documents import kept_documents, use_kept
from services.intake.uploads import UploadRejected, receive_multipart

router = APIRouter(tags=["data penduduk"])

PURPOSE_FAMILY = "warga memilih anggota keluarga untuk surat"


class RegisterEntryOut(BaseModel):
    field: str  # the letter forms' field name, e.g. "tanggal_lahir"
    label: str
    value: str


class OwnRegisterOut(BaseModel):
    desa_code: str
    fields: list[RegisterEntryOut]


class CorrectionOut(BaseModel):
    id: str
    field_label: str
    current_value: str
    proposed_value: str
    note: str
    status: str  # menunggu | diterima | ditolak
    status_label: str
    decline_reason: str
    accepted_value: str
    has_document: bool
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, c: register_corrections.Correction) -> "CorrectionOut":
        return cls(**c.__dict__)


class MemberOut(BaseModel):
    id: str  # pass as `subject_id` when creating an application about this member
    name: str
    relation: str
    sex: str
    birth_date: str
    living: bool


class FamilyOut(BaseModel):
    desa_code: str  # the desa whose register holds the KK
    members: list[MemberOut]


class KeptDocumentOut(BaseModel):
    id: str
    kind: str  # KTP or KK
    content_type: str
    size_bytes: int
    created_at: datetime
    expires_at: datetime


class UseKeptIn(BaseModel):
    kind: str = Field(max_length=40, examples=["KTP"])


@router.get("/me/register")
async def own_register(
    session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> OwnRegisterOut:
    """The register-held fields of the resident's own record, as letters print them; 404 when
    no desa's register holds them."""
    found = await register_corrections.own_register(runtime, session, resident.subject)
    if found is None:
        raise NotFound("not-registered", register_corrections.NOT_REGISTERED)
    return OwnRegisterOut(
        desa_code=found.desa_code,
        fields=[
            RegisterEntryOut(field=e.name, label=e.label, value=e.value) for e in found.entries
        ],
    )


@router.get("/me/data")
async def own_data(session: SessionDep, runtime: RuntimeDep, resident: CurrentResident) -> Response:
    """Everything the service holds about the resident (UU 27/2022 PDP), as the archive's
    data.json: register record, corrections, applications with their files and timeline, kept
    documents, complaints, messages sent, and the staff access log (roles and offices only).
    A part another service cannot give now is left out and named in `belum_dapat_dibaca`."""
    data = await data_rights.own_data(runtime, session, resident.subject)
    return Response(
        data_rights.as_json(data_rights.as_document(data)),
        media_type="application/json",
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/me/data/archive.zip")
async def own_archive(
    session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> Response:
    """All of it as one ZIP (data.json, the files, the letters), built within the request;
    503 when any service cannot give its part (never a partial archive)."""
    content = await data_rights.archive(runtime, session, resident.subject)
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="data-saya-smart-desa.zip"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/register-corrections")
async def list_corrections(
    session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> list[CorrectionOut]:
    """The resident's correction requests, newest first, with the operator's answer."""
    found = await register_corrections.corrections_of(runtime, session, resident.subject)
    return [CorrectionOut.of(c) for c in found]


_CORRECTION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["field", "proposed_value"],
                    "properties": {
                        "field": {"type": "string", "description": "mis. tanggal_lahir"},
                        "proposed_value": {"type": "string", "maxLength": 200},
                        "note": {"type": "string", "maxLength": 500},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/register-corrections",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_CORRECTION_BODY,
)
async def request_correction(
    request: Request, session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> CorrectionOut:
    """ "Data tidak sesuai? Ajukan perbaikan" (multipart): `field` is a register-held field of
    the letter forms (nama, tempat_lahir, tanggal_lahir, jenis_kelamin, agama, pekerjaan,
    status_perkawinan, alamat, rt, rw); `file` an optional photo or PDF of the document."""
    await session.commit()  # no transaction stays open while the phone sends the photo
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # Without a photo a plain form will do.
        plain = await request.form()
        made = await register_corrections.request_correction(
            runtime,
            session,
            resident.subject,
            str(plain.get("field", ""))[:40],
            str(plain.get("proposed_value", ""))[:200],
            str(plain.get("note", ""))[:500],
        )
        return CorrectionOut.of(made)
    try:
        form = await receive_multipart(
            request,
            file_field="file",
            temp_dir=register_corrections.correction_temp_dir(runtime.settings.intake_dir),
            max_file_bytes=MAX_ATTACHMENT_BYTES,
        )
    except UploadRejected as exc:
        raise Invalid(exc.code, exc.detail, field="file") from exc
    document = await register_corrections.document_of(form)
    made = await register_corrections.request_correction(
        runtime,
        session,
        resident.subject,
        form.fields.get("field", ""),
        form.fields.get("proposed_value", "")[:200],
        form.fields.get("note", "")[:500],
        document,
    )
    return CorrectionOut.of(made)


@router.get("/family")
async def own_family(
    session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> FamilyOut:
    """The members of the resident's own KK in the register, the head of the family first
    (empty when no register holds them)."""
    desa_code, members = await register_data.family(
        runtime.population,
        await resident_actions.nik_of(session, resident.subject),
        PURPOSE_FAMILY,
        register_data.actor(resident.subject),
    )
    return FamilyOut(desa_code=desa_code, members=[MemberOut(**m.__dict__) for m in members])


@router.get("/documents")
async def own_documents(
    session: SessionDep, runtime: RuntimeDep, resident: CurrentResident
) -> list[KeptDocumentOut]:
    """The KTP and KK photos kept on the resident's record, still valid."""
    kept = await kept_documents(
        session,
        runtime.settings.attachments_dir,
        resident.subject,
        runtime.settings.intake_kept_document_days,
    )
    return [
        KeptDocumentOut(
            id=k.document.id,
            kind=k.document.kind,
            content_type=k.document.content_type,
            size_bytes=k.document.size_bytes,
            created_at=k.document.created_at,
            expires_at=k.expires_at,
        )
        for k in kept
    ]


@router.post("/applications/{application_id}/attachments/kept", status_code=status.HTTP_201_CREATED)
async def attach_kept(
    application_id: str,
    body: UseKeptIn,
    session: SessionDep,
    runtime: RuntimeDep,
    resident: CurrentResident,
) -> AttachmentOut:
    """ "Pakai KTP yang tersimpan": the kept document of `kind` becomes the application's
    attachment for that syarat, as if uploaded again."""
    application = await resident_actions.owned(session, resident.subject, application_id)
    attachment = await use_kept(
        session,
        runtime.settings.attachments_dir,
        application,
        await runtime.catalogue.of(application),
        body.kind,
        runtime.settings.intake_kept_document_days,
    )
    return AttachmentOut.of(attachment)
