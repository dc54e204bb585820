"""Attachments (syarat documents): what a file really is, and storing it without half-writes.

The type is decided by the first bytes of the content, never by the name or the type the client
claims. Files live at `<root>/<application_id>/<attachment_id>`; the database row is written
only after the file is in place, and the file is removed again if the row cannot be written.
"""

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.http import Problem
from services.intake.applications import EDITABLE_STATUSES, letter_type_of
from services.intake.letter_types import LetterType
from services.intake.models import Attachment, LetterApplication
from services.intake.uploads import ReceivedFile, ReceivedForm

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
ACCEPTED_TYPES = tuple(ct for _, ct in _SIGNATURES)


def sniff_content_type(head: bytes) -> str | None:
    """JPEG, PNG or PDF by signature; None for anything else."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


class InvalidAttachment(ValueError):
    """`str(exc)` is the Indonesian message; `status`, `code` and `field` say how to answer."""

    def __init__(self, message: str, *, status: int, code: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field


def too_large_message(max_bytes: int = MAX_ATTACHMENT_BYTES) -> str:
    return f"Berkas terlalu besar: paling besar {max_bytes // (1024 * 1024)} MB."


def normalized_kind(kind: str) -> str:
    return kind.strip().upper()


def check_kind(letter_type: LetterType, kind: str) -> str:
    """The requirement code `kind` names for this letter type, or InvalidAttachment."""
    kind = normalized_kind(kind)
    codes = letter_type.requirement_codes
    if kind not in codes:
        raise InvalidAttachment(
            f"Jenis berkas harus salah satu dari: {', '.join(codes)}.",
            status=422,
            code="invalid-kind",
            field="kind",
        )
    return kind


WRONG_TYPE = "Berkas harus berupa gambar JPEG, PNG, atau dokumen PDF."
LOCKED = "Berkas tidak dapat diubah setelah permohonan diajukan."


def check_content(size: int, head: bytes) -> str:
    """The content type of a file of `size` bytes starting with `head` (what the resident API,
    the resumable uploads and a walk-in accept alike), or InvalidAttachment."""
    if size > MAX_ATTACHMENT_BYTES:
        raise InvalidAttachment(too_large_message(), status=413, code="too-large", field="file")
    content_type = sniff_content_type(head)
    if content_type is None:
        raise InvalidAttachment(WRONG_TYPE, status=415, code="file-type", field="file")
    return content_type


# The same checks as HTTP problems, for the resident's API and pages.


def as_problem(exc: InvalidAttachment) -> Problem:
    return Problem(exc.status, str(exc), code=exc.code, field=exc.field)


def require_editable(application: LetterApplication) -> None:
    """Documents change only while the resident holds the application."""
    if application.status not in EDITABLE_STATUSES:
        raise Problem(409, LOCKED, code="locked")


def checked_kind(application: LetterApplication, kind: str) -> str:
    """The requirement code (KTP, KK …) of the application's letter type, or 422."""
    try:
        return check_kind(letter_type_of(application), kind)
    except InvalidAttachment as exc:
        raise as_problem(exc) from exc


def checked_content_type(head: bytes, size: int = 0) -> str:
    """JPEG, PNG or PDF by the content's first bytes (and within the size limit), or 413/415."""
    try:
        return check_content(size, head)
    except InvalidAttachment as exc:
        raise as_problem(exc) from exc


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
    """The checks every received file passes (what it is by content, the application still the
    resident's to change), then stores it. Shared by the one-shot upload, the portal's plain
    form and the resumable uploads; the caller removes `received` when this refuses it."""
    content_type = checked_content_type(received.head, received.size)
    # The application may have been submitted while the file was uploading.
    await session.refresh(application)
    require_editable(application)
    return await store_attachment(
        session,
        root,
        application.id,
        kind,
        received,
        content_type,
        attachment_id=attachment_id,
        same_transaction=same_transaction,
    )


async def accept_form(
    session: AsyncSession, root: Path, application: LetterApplication, form: ReceivedForm
) -> Attachment:
    """A multipart upload (fields `kind` and `file`) after it was received: checked and stored;
    the temporary file is removed whatever happens."""
    try:
        kind = checked_kind(application, form.fields.get("kind", ""))
        if form.file is None:
            raise Problem(422, "Berkas wajib dilampirkan.", code="missing-file", field="file")
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
