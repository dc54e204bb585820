"""Attachments (syarat documents): which requirement a file answers, and storing its clean
copy without half-writes.

What a file is and its clean copy come from `file_safety` (by content, never by the name or
the type the client claims; images re-encoded, PDFs checked and rewritten). Files live at
`<root>/<application_id>/<attachment_id>`; the database row is written only after the file is
in place, and the file is removed again if the row cannot be written.
"""

import asyncio
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain.errors import Conflict, DomainError, Invalid, TooLarge, UnsupportedType
from services.intake.applications import EDITABLE_STATUSES
from services.intake.file_safety import HEAD_BYTES, InvalidAttachment, check_content, make_safe
from services.intake.letter_types import LetterType
from services.intake.models import Attachment, LetterApplication
from services.intake.uploads import ReceivedFile, ReceivedForm

log = logging.getLogger(__name__)


def normalized_kind(kind: str) -> str:
    return kind.strip().upper()


def check_kind(letter_type: LetterType, kind: str) -> str:
    """The syarat code `kind` names for this letter type, wajib or opsional (never required
    here: submission checks the wajib ones), or InvalidAttachment: a syarat whose original is
    brought to the office, or one the type does not have."""
    kind = normalized_kind(kind)
    brought = next((r for r in letter_type.to_bring if r.code == kind), None)
    if brought is not None:
        raise InvalidAttachment(
            f"{brought.name} tidak diunggah: bawa berkas aslinya ke kantor desa.",
            status=422,
            code="bring-original",
            field="kind",
        )
    codes = tuple(r.code for r in letter_type.uploadable)
    if kind not in codes:
        raise InvalidAttachment(
            f"Jenis berkas harus salah satu dari: {', '.join(codes)}.",
            status=422,
            code="invalid-kind",
            field="kind",
        )
    return kind


LOCKED = "Berkas tidak dapat diubah setelah permohonan diajukan."


# The same checks as domain refusals, for the resident's API and pages.
_REFUSAL_KINDS: dict[int, type[DomainError]] = {413: TooLarge, 415: UnsupportedType}


def as_refusal(exc: InvalidAttachment) -> DomainError:
    kind = _REFUSAL_KINDS.get(exc.status, Invalid)
    return kind(exc.code, str(exc), field=exc.field)


def require_editable(application: LetterApplication) -> None:
    """Documents change only while the resident holds the application."""
    if application.status not in EDITABLE_STATUSES:
        raise Conflict("locked", LOCKED)


def checked_kind(letter_type: LetterType, kind: str) -> str:
    """The requirement code (KTP, KK …) of the application's letter type (the version it
    started with, `Catalogue.of`), or 422."""
    try:
        return check_kind(letter_type, kind)
    except InvalidAttachment as exc:
        raise as_refusal(exc) from exc


def checked_content_type(head: bytes, size: int = 0) -> str:
    """JPEG, PNG or PDF by the content's first bytes (and within the size limit), or 413/415."""
    try:
        return check_content(size, head)
    except InvalidAttachment as exc:
        raise as_refusal(exc) from exc


def attachment_dir(root: Path, application_id: str) -> Path:
    return root / application_id


def attachment_path(root: Path, application_id: str, attachment_id: str) -> Path:
    return attachment_dir(root, application_id) / attachment_id


async def accept_file(
    session: AsyncSession,
    root: Path,
    application: LetterApplication,
    kind: str,
    received: ReceivedFile,
    *,
    attachment_id: str | None = None,
    same_transaction: Sequence[SQLModel] = (),
) -> Attachment:
    """The checks every received file passes (what it is by content, its clean copy, the
    application still the resident's to change), then stores the clean copy in its place.
    Shared by the one-shot upload, the portal's plain form and the resumable uploads; the
    caller removes `received` when this refuses it."""
    checked_content_type(received.head, received.size)  # before reading it: cheap refusals
    try:
        safe = await make_safe(await asyncio.to_thread(received.path.read_bytes))
    except InvalidAttachment as exc:
        raise as_refusal(exc) from exc
    cleaned = await asyncio.to_thread(_replace_content, received, safe.content)
    # The application may have been submitted while the file was uploading.
    await session.refresh(application)
    require_editable(application)
    attachment = await store_attachment(
        session,
        root,
        application.id,
        kind,
        cleaned,
        safe.content_type,
        attachment_id=attachment_id,
        same_transaction=same_transaction,
    )
    # A KTP or KK is kept on the resident's record for their next application. Imported here:
    # kept_documents stores through this module.
    from services.intake.kept_documents import keep

    await keep(session, root, application.resident_id, attachment)
    return attachment


def _replace_content(received: ReceivedFile, content: bytes) -> ReceivedFile:
    """`received` with its bytes replaced by `content` (in a worker thread): the original is
    not kept anywhere."""
    received.path.write_bytes(content)
    return ReceivedFile(
        path=received.path,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        head=content[:HEAD_BYTES],
        filename=received.filename,
    )


async def accept_form(
    session: AsyncSession,
    root: Path,
    application: LetterApplication,
    letter_type: LetterType,
    form: ReceivedForm,
) -> Attachment:
    """A multipart upload (fields `kind` and `file`) after it was received: checked and stored;
    the temporary file is removed whatever happens."""
    try:
        kind = checked_kind(letter_type, form.fields.get("kind", ""))
        if form.file is None:
            raise Invalid("missing-file", "Berkas wajib dilampirkan.", field="file")
        return await accept_file(session, root, application, kind, form.file)
    finally:
        form.discard()  # no-op once the file has been moved into place


async def store_attachment(
    session: AsyncSession,
    root: Path,
    application_id: str,
    kind: str,
    received: ReceivedFile,
    content_type: str,
    *,
    attachment_id: str | None = None,
    same_transaction: Sequence[SQLModel] = (),
) -> Attachment:
    """Moves the received file into place and records it, replacing an older file of the same
    kind. The caller's session must hold no other pending changes; `same_transaction` rows
    are written with the attachment or not at all."""
    attachment = Attachment(
        application_id=application_id,
        kind=kind,
        content_type=content_type,
        size_bytes=received.size,
        sha256=received.sha256,
        filename=received.filename or None,
    )
    if attachment_id is not None:
        attachment.id = attachment_id
    final = attachment_path(root, application_id, attachment.id)
    os.replace(received.path, final)  # atomic: same directory
    try:
        replaced = (
            await session.exec(
                select(Attachment)
                .where(Attachment.application_id == application_id)
                .where(Attachment.kind == kind)
            )
        ).all()
        for old in replaced:
            await session.delete(old)
        session.add(attachment)
        for row in same_transaction:
            session.add(row)
        await session.commit()
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    for old in replaced:
        attachment_path(root, application_id, old.id).unlink(missing_ok=True)
    log.info("attachment %s (%s) stored for application %s", attachment.id, kind, application_id)
    return attachment


async def read_attachment(root: Path, attachment: Attachment) -> bytes:
    path = attachment_path(root, attachment.application_id, attachment.id)
    return await asyncio.to_thread(path.read_bytes)
