"""A resident's rights over their data (UU 27/2022 PDP, issue 19 item 5): everything the service
holds about the signed-in resident on one page ("Data saya"), who among the staff read it and
why, and all of it as one archive (ZIP: a JSON file plus the files) within the request.

What is gathered, and from whom (each service keeps its own; nothing is copied here):
- intake (here): the resident's sign-in identity, applications with their timeline, the
  attachments and the kept KTP/KK documents, and complaints filed while signed in;
- verification: the register's record (PopulationService.GetResident, as "Data saya" always
  read it), the correction requests, and the access log (ListDataAccess);
- signing: the signed letters' PDFs (archive only; the page links to each letter);
- notification: every message sent to the resident (ListMessages).

The page shows what it can and says which part could not be read; the archive is all or
nothing (a partial archive would claim to be everything while it is not). Survey answers are
anonymous (no link to the resident is stored), so there is nothing of them to show.
"""

import asyncio
import io
import json
import logging
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import notification_pb2, population_pb2
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain import role_label
from common.domain.errors import NotFound, Unavailable
from common.wilayah import Desa, all_desa, find_desa
from services.intake import register_corrections
from services.intake.attachments import read_attachment
from services.intake.duties_models import Complaint
from services.intake.kept_documents import kept_path
from services.intake.models import (
    Attachment,
    KeptDocument,
    LetterApplication,
    Resident,
    TimelineEntry,
)
from services.intake.register_data import LOOKUP_TIMEOUT_SECONDS, RegisterUnavailable
from services.intake.resident_actions import signed_letter
from services.intake.runtime import Runtime

log = logging.getLogger(__name__)

ARCHIVE_UNAVAILABLE = (
    "Arsip data Anda belum dapat dibuat karena sebagian layanan sedang tidak dapat dihubungi. "
    "Silakan coba lagi beberapa saat lagi."
)
KIND_LABELS = {
    "register": "membuka data penduduk Anda",
    "application": "membuka permohonan Anda",
    "attachment": "membuka berkas lampiran Anda",
    "letter_preview": "melihat pratinjau surat Anda",
    "inbox": "melihat nama Anda di kotak masuk tugas",
    "walk_in": "mencetak tanda terima permohonan Anda",
    "complaint": "membuka pengaduan Anda",
    "complaint_attachment": "mengunduh lampiran pengaduan Anda",
}
CHANNEL_LABELS = {
    "in_app": "Kotak pesan aplikasi",
    "whatsapp": "WhatsApp",
    "sms": "SMS",
    "email": "Email",
}


@dataclass(frozen=True)
class OwnFile:
    id: str
    kind: str  # syarat code, e.g. KTP
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime
    application_id: str = ""  # "" for a kept document


@dataclass(frozen=True)
class OwnApplication:
    id: str
    number: str
    letter_type: str
    letter_type_name: str
    desa_code: str
    purpose: str
    fields: dict[str, str]
    status: str
    status_reason: str
    channel: str
    created_at: datetime
    submitted_at: datetime | None
    letter_number: str
    letter_verification_url: str
    attachments: list[OwnFile]
    timeline: list[dict[str, Any]]


@dataclass(frozen=True)
class AccessEntry:
    at: datetime
    what: str  # e.g. "membuka permohonan Anda"
    role: str  # e.g. "Kasi Pemerintahan"
    office: str  # e.g. "Desa Pamanukan" or "Kabupaten Subang"
    purpose: str  # the application's number, or "daftar penduduk"


@dataclass(frozen=True)
class SentMessage:
    at: datetime
    channel: str
    title: str
    body: str
    status: str
    to_address: str


@dataclass
class OwnData:
    nik: str
    phone: str
    signed_up_at: datetime
    register: register_corrections.OwnRegister | None = None
    corrections: list[register_corrections.Correction] = field(default_factory=list)
    applications: list[OwnApplication] = field(default_factory=list)
    kept_documents: list[OwnFile] = field(default_factory=list)
    complaints: list[dict[str, Any]] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    accesses: list[AccessEntry] = field(default_factory=list)
    # The parts another service could not give now (the page says so; the archive refuses).
    missing: list[str] = field(default_factory=list)


def _time(value: Timestamp) -> datetime:
    return as_utc(value.ToDatetime())


def office_of(desa_code: str, kabupaten_code: str) -> str:
    if desa_code:
        desa = find_desa(desa_code)
        return f"Desa {desa.name}" if desa else f"Desa {desa_code}"
    # A kabupaten account: name the kabupaten by any of its desa.
    names = {d.kabupaten for d in _desa_of_kabupaten(kabupaten_code)}
    return f"Kabupaten {names.pop() if len(names) == 1 else kabupaten_code}"


def _desa_of_kabupaten(kabupaten_code: str) -> list[Desa]:
    return [d for d in all_desa().values() if d.kabupaten_code == kabupaten_code]


def access_entry(entry: population_pb2.DataAccess) -> AccessEntry:
    return AccessEntry(
        at=_time(entry.at),
        what=KIND_LABELS.get(entry.kind, entry.kind),
        role=role_label(entry.reader_role),
        office=office_of(entry.reader_desa_code, entry.reader_kabupaten_code),
        purpose=entry.purpose,
    )


async def _applications(session: AsyncSession, resident_id: str) -> list[OwnApplication]:
    apps = (
        await session.exec(
            select(LetterApplication)
            .where(LetterApplication.resident_id == resident_id)
            .order_by(col(LetterApplication.created_at).desc())
        )
    ).all()
    ids = [a.id for a in apps]
    files = (
        (
            await session.exec(
                select(Attachment)
                .where(col(Attachment.application_id).in_(ids))
                .order_by(col(Attachment.created_at))
            )
        ).all()
        if ids
        else []
    )
    steps = (
        (
            await session.exec(
                select(TimelineEntry)
                .where(col(TimelineEntry.application_id).in_(ids))
                .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
            )
        ).all()
        if ids
        else []
    )
    found = []
    for app in apps:
        found.append(
            OwnApplication(
                id=app.id,
                number=app.number or "",
                letter_type=app.letter_type,
                # The name when it started, kept with it (no catalogue read for a download).
                letter_type_name=app.letter_type_name or app.letter_type,
                desa_code=app.desa_code,
                purpose=app.purpose,
                fields=json.loads(app.fields_json or "{}"),
                status=app.status,
                status_reason=app.status_reason,
                channel=app.channel,
                created_at=as_utc(app.created_at),
                submitted_at=as_utc(app.submitted_at) if app.submitted_at else None,
                letter_number=app.letter_number or "",
                letter_verification_url=app.letter_verification_url or "",
                attachments=[
                    OwnFile(
                        id=f.id,
                        kind=f.kind,
                        filename=f.filename or f"{f.kind}",
                        content_type=f.content_type,
                        size_bytes=f.size_bytes,
                        created_at=as_utc(f.created_at),
                        application_id=app.id,
                    )
                    for f in files
                    if f.application_id == app.id
                ],
                # What the resident's own progress page shows; never a staff username.
                timeline=[
                    {
                        "at": as_utc(s.at).isoformat(),
                        "event": s.event,
                        "status": s.status,
                        "step_role": role_label(s.step_role) if s.step_role else "",
                        "decision": s.decision,
                        "reason": s.reason,
                    }
                    for s in steps
                    if s.application_id == app.id
                ],
            )
        )
    return found


async def _kept(session: AsyncSession, resident_id: str) -> list[OwnFile]:
    rows = (
        await session.exec(select(KeptDocument).where(KeptDocument.resident_id == resident_id))
    ).all()
    return [
        OwnFile(
            id=r.id,
            kind=r.kind,
            filename=r.filename or r.kind,
            content_type=r.content_type,
            size_bytes=r.size_bytes,
            created_at=as_utc(r.created_at),
        )
        for r in rows
    ]


async def _complaints(session: AsyncSession, resident_id: str) -> list[dict[str, Any]]:
    rows = (
        await session.exec(
            select(Complaint)
            .where(Complaint.resident_id == resident_id)
            .order_by(col(Complaint.filed_at).desc())
        )
    ).all()
    return [
        {
            "id": c.id,
            "tracking_number": c.tracking_number,
            "desa_code": c.desa_code,
            "subject": c.subject,
            "letter_type": c.letter_type,
            "application_reference": c.application_reference,
            "body": c.body,
            "status": c.status,
            "filed_at": as_utc(c.filed_at).isoformat(),
            "has_attachment": bool(c.attachment_name),
        }
        for c in rows
    ]


async def _messages(runtime: Runtime, resident_id: str) -> list[SentMessage]:
    answer = await runtime.notifications.ListMessages(
        notification_pb2.ListMessagesRequest(resident_id=resident_id),
        timeout=LOOKUP_TIMEOUT_SECONDS,
    )
    return [
        SentMessage(
            at=_time(m.at),
            channel=CHANNEL_LABELS.get(m.channel, m.channel),
            title=m.title,
            body=m.body,
            status=m.status,
            to_address=m.to_address,
        )
        for m in answer.messages
    ]


async def _accesses(
    runtime: Runtime, nik: str, application_ids: list[str], complaint_ids: list[str]
) -> list[AccessEntry]:
    answer = await runtime.population.ListDataAccess(
        population_pb2.ListDataAccessRequest(
            nik=nik, application_ids=application_ids, complaint_ids=complaint_ids
        ),
        timeout=LOOKUP_TIMEOUT_SECONDS,
    )
    return [access_entry(e) for e in answer.entries]


async def own_data(runtime: Runtime, session: AsyncSession, resident_id: str) -> OwnData:
    """Everything held about the resident. Another service not answering leaves its part
    out and names it in `missing`."""
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise NotFound("not-found", "Data Anda tidak ditemukan.")
    data = OwnData(nik=resident.nik, phone=resident.phone, signed_up_at=as_utc(resident.created_at))
    data.applications = await _applications(session, resident_id)
    data.kept_documents = await _kept(session, resident_id)
    data.complaints = await _complaints(session, resident_id)
    try:
        data.register = await register_corrections.own_register(runtime, session, resident_id)
        data.corrections = await register_corrections.corrections_of(runtime, session, resident_id)
    except RegisterUnavailable:
        data.missing.append("data penduduk")
    # Close the read transaction before waiting on other services (SQLite holds no lock then).
    await session.commit()
    messages, accesses = await asyncio.gather(
        _messages(runtime, resident_id),
        _accesses(
            runtime,
            resident.nik,
            [a.id for a in data.applications],
            [c["id"] for c in data.complaints],
        ),
        return_exceptions=True,
    )
    if isinstance(messages, grpc.aio.AioRpcError):
        log.warning("notification ListMessages failed: %s", messages.code().name)
        data.missing.append("pesan yang dikirim kepada Anda")
    elif isinstance(messages, BaseException):
        raise messages
    else:
        data.messages = messages
    if isinstance(accesses, grpc.aio.AioRpcError):
        log.warning("verification ListDataAccess failed: %s", accesses.code().name)
        data.missing.append("catatan akses petugas")
    elif isinstance(accesses, BaseException):
        raise accesses
    else:
        data.accesses = accesses
    return data


async def own_attachment(
    session: AsyncSession, resident_id: str, attachment_id: str
) -> Attachment | KeptDocument:
    """One of the resident's own files (an attachment of their application, or a kept
    document); another resident's is as unknown as a missing one."""
    attachment = await session.get(Attachment, attachment_id)
    if attachment is not None:
        app = await session.get(LetterApplication, attachment.application_id)
        if app is not None and app.resident_id == resident_id:
            return attachment
    kept = await session.get(KeptDocument, attachment_id)
    if kept is not None and kept.resident_id == resident_id:
        return kept
    raise NotFound("not-found", "Berkas tidak ditemukan.")


async def file_bytes(runtime: Runtime, file: Attachment | KeptDocument) -> bytes:
    root = runtime.settings.attachments_dir
    try:
        if isinstance(file, Attachment):
            return await read_attachment(root, file)
        return await asyncio.to_thread(kept_path(root, file).read_bytes)
    except FileNotFoundError as exc:
        raise NotFound("not-found", "Berkas tidak ditemukan.") from exc


_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


def extension_of(content_type: str) -> str:
    return _EXTENSIONS.get(content_type, "bin")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(type(value).__name__)


README = """Arsip data Anda dari layanan Smart Desa (UU 27/2022 tentang Pelindungan Data Pribadi).

data.json      semua data yang disimpan tentang Anda: identitas masuk, data penduduk desa,
               permintaan perbaikan, permohonan surat beserta riwayatnya, berkas, pengaduan,
               pesan yang dikirim kepada Anda, dan catatan petugas yang membuka data Anda.
berkas/        berkas syarat yang Anda kirim, per nomor permohonan.
dokumen/       KTP/KK yang disimpan untuk permohonan berikutnya.
surat/         surat yang sudah terbit (PDF bertanda tangan elektronik).

Jawaban survei kepuasan bersifat anonim: tidak disimpan kaitannya dengan Anda.
Data tidak sesuai? Ajukan perbaikan di halaman Data saya.
"""


def as_document(data: OwnData) -> dict[str, Any]:
    """What data.json holds (and the resident API answers), keys in Indonesian as the resident
    reads them."""
    return {
        "dibuat": utcnow().isoformat(),
        "identitas": {"nik": data.nik, "nomor_hp": data.phone, "terdaftar": data.signed_up_at},
        "data_penduduk": asdict(data.register) if data.register else None,
        "permintaan_perbaikan": [asdict(c) for c in data.corrections],
        "permohonan": [asdict(a) for a in data.applications],
        "dokumen_tersimpan": [asdict(d) for d in data.kept_documents],
        "pengaduan": data.complaints,
        "pesan": [asdict(m) for m in data.messages],
        "akses_petugas": [asdict(a) for a in data.accesses],
        "belum_dapat_dibaca": data.missing,
    }


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, default=_json_default)


async def archive(runtime: Runtime, session: AsyncSession, resident_id: str) -> bytes:
    """All of it as one ZIP, built within the request: data.json, the files, the letters.
    Any part that cannot be read now refuses the whole (Unavailable), never a partial one."""
    data = await own_data(runtime, session, resident_id)
    if data.missing:
        raise Unavailable("archive-unavailable", ARCHIVE_UNAVAILABLE)
    entries: list[tuple[str, bytes]] = []
    listed: dict[str, Any] = {"berkas": [], "dokumen": [], "surat": []}
    for app in data.applications:
        folder = app.number or app.id
        for f in app.attachments:
            row = await session.get(Attachment, f.id)
            if row is None:
                continue
            name = f"berkas/{folder}/{f.kind}-{f.id[:8]}.{extension_of(f.content_type)}"
            entries.append((name, await file_bytes(runtime, row)))
            listed["berkas"].append({"application_id": app.id, "attachment_id": f.id, "file": name})
        if app.status == "issued":
            row_app = await session.get(LetterApplication, app.id)
            assert row_app is not None
            try:
                letter = await signed_letter(
                    runtime, row_app, NotFound("letter-missing", "Berkas surat tidak ditemukan.")
                )
            except NotFound:
                continue  # a letter signing has no PDF of: its number and link are in data.json
            except Unavailable as exc:
                raise Unavailable("archive-unavailable", ARCHIVE_UNAVAILABLE) from exc
            name = f"surat/{letter.filename}"
            entries.append((name, letter.content))
            listed["surat"].append({"application_id": app.id, "file": name})
    for f in data.kept_documents:
        kept = await session.get(KeptDocument, f.id)
        if kept is None:
            continue
        name = f"dokumen/{f.kind}-{f.id[:8]}.{extension_of(f.content_type)}"
        entries.append((name, await file_bytes(runtime, kept)))
        listed["dokumen"].append({"document_id": f.id, "file": name})
    document = {**as_document(data), "berkas_dalam_arsip": listed}
    body = as_json(document)
    return await asyncio.to_thread(_zip, [("README.txt", README.encode()), *entries], body)


def _zip(entries: list[tuple[str, bytes]], body: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive_file:
        archive_file.writestr("data.json", body.encode())
        for name, content in entries:
            archive_file.writestr(name, content)
    return out.getvalue()
