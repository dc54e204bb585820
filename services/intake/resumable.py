"""Resumable uploads: a phone on a weak connection sends a syarat document in chunks, learns
where the server stands after a dropped connection, and carries on from there.

An upload session (`UploadSession`) is opened for one requirement of one application with the
file's total size; its bytes go to a temporary file beside the application's attachments
(`<root>/<application_id>/.resumable-<upload_id>`). Each chunk must start exactly where the
server stands (`received_bytes`), otherwise it is refused with that offset. While one request
writes a chunk it holds the session (`writing_until`, a lease in the database, so replicas
agree); the offset advances only once the whole chunk is on disk. When the last byte arrives
the file passes the same checks as a one-shot upload (`attachments.accept_file`) and becomes
an attachment in the same transaction that marks the session complete. Sessions untouched for
`UPLOAD_TTL` expire: `expire_uploads` removes them and their temporary files.
"""

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, delete, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.background import BacklogLoop
from common.db import as_utc, utcnow
from common.domain.errors import (
    Conflict,
    DomainError,
    Invalid,
    Malformed,
    NotFound,
    TooLarge,
    UnsupportedType,
)
from common.numbers import parse_natural
from services.intake.attachments import (
    accept_file,
    attachment_dir,
    checked_content_type,
    checked_kind,
    require_editable,
)
from services.intake.file_safety import (
    ACCEPTED_TYPES,
    HEAD_BYTES,
    MAX_ATTACHMENT_BYTES,
    WRONG_TYPE,
    too_large_message,
)
from services.intake.letter_types import LetterType
from services.intake.models import Attachment, LetterApplication, UploadSession, new_id
from services.intake.uploads import ReceivedFile, clean_filename

log = logging.getLogger(__name__)

# What the client is told to send per request: small enough to get through a weak 2G/3G
# connection before it drops, big enough not to drown in round trips.
CHUNK_BYTES = 256 * 1024
# The most one request may carry (a client may send bigger chunks than advised).
MAX_CHUNK_BYTES = 1024 * 1024
# An upload nobody touched for this long is given up, with its temporary file.
UPLOAD_TTL = timedelta(hours=24)
# How long one request may hold an upload while writing a chunk (a crashed writer's hold
# lapses after this).
WRITE_LEASE = timedelta(minutes=2)
JANITOR_INTERVAL_SECONDS = 15 * 60
# Types a browser may claim for a file we could accept; the content decides in the end.
CLAIMABLE_TYPES = frozenset(
    {*ACCEPTED_TYPES, "image/jpg", "image/pjpeg", "application/octet-stream", ""}
)

NOT_FOUND = "Unggahan tidak ditemukan atau sudah kedaluwarsa."


def temp_path(root: Path, upload: UploadSession) -> Path:
    return attachment_dir(root, upload.application_id) / f".resumable-{upload.id}"


@dataclass(frozen=True)
class ChunkResult:
    upload: UploadSession
    attachment: Attachment | None  # the new attachment when this chunk completed the upload


def wrong_offset(offset: int) -> Conflict:
    return Conflict(
        "wrong-offset",
        f"Potongan berkas tidak berada di posisi yang diharapkan ({offset} bita).",
        offset=offset,  # also the Upload-Offset header (common.http)
    )


def not_found() -> NotFound:
    return NotFound("upload-not-found", NOT_FOUND)


# --- opening, finding ---------------------------------------------------------------------


async def start_upload(
    session: AsyncSession,
    root: Path,
    application: LetterApplication,
    resident_id: str,
    *,
    letter_type: LetterType,
    kind: str,
    filename: str,
    size_bytes: int,
    declared_type: str,
) -> UploadSession:
    """Opens an upload for one requirement of the resident's own application, checked as a
    one-shot upload is before its body is read. It replaces any unfinished upload of the same
    kind (so a phone cannot pile up half-written files)."""
    require_editable(application)
    kind = checked_kind(letter_type, kind)
    if size_bytes > MAX_ATTACHMENT_BYTES:
        raise TooLarge("too-large", too_large_message())
    if size_bytes <= 0:
        raise Invalid("empty", "Berkas kosong tidak dapat diunggah.", field="size_bytes")
    declared = declared_type.strip().lower()
    if declared not in CLAIMABLE_TYPES:
        raise UnsupportedType("file-type", WRONG_TYPE)
    now = utcnow()
    earlier = (
        await session.exec(
            select(UploadSession)
            .where(UploadSession.application_id == application.id)
            .where(UploadSession.kind == kind)
            .where(col(UploadSession.attachment_id).is_(None))
        )
    ).all()
    upload = UploadSession(
        id=new_id(),
        application_id=application.id,
        resident_id=resident_id,
        kind=kind,
        filename=clean_filename(filename),
        declared_type=declared,
        total_bytes=size_bytes,
        expires_at=now + UPLOAD_TTL,
        created_at=now,
    )
    path = temp_path(root, upload)
    await asyncio.to_thread(_create_empty, path)
    try:
        for old in earlier:
            await session.delete(old)
        session.add(upload)
        await session.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    for old in earlier:
        temp_path(root, old).unlink(missing_ok=True)
    log.info("upload %s (%s) opened for application %s", upload.id, kind, application.id)
    return upload


async def owned_upload(
    session: AsyncSession, root: Path, resident_id: str, upload_id: str
) -> UploadSession:
    """The resident's own upload, or 404 (also for another resident's, and an expired one,
    which is removed on the way)."""
    upload = await session.get(UploadSession, upload_id)
    if upload is None or upload.resident_id != resident_id:
        raise not_found()
    if as_utc(upload.expires_at) <= utcnow() and not _being_written(upload, utcnow()):
        await _remove(session, root, upload)
        raise not_found()
    return upload


def _being_written(upload: UploadSession, now: datetime) -> bool:
    return upload.writing_until is not None and as_utc(upload.writing_until) > now


async def _remove(session: AsyncSession, root: Path, upload: UploadSession) -> None:
    await _remove_by_id(session, upload.id, temp_path(root, upload))


async def _remove_by_id(session: AsyncSession, upload_id: str, path: Path) -> None:
    await session.exec(delete(UploadSession).where(col(UploadSession.id) == upload_id))
    await session.commit()
    await asyncio.to_thread(path.unlink, missing_ok=True)


async def abandon_upload(session: AsyncSession, root: Path, upload: UploadSession) -> None:
    """The resident gives the upload up (a completed one is only forgotten: its attachment
    stays)."""
    await _remove(session, root, upload)
    log.info("upload %s abandoned", upload.id)


# --- receiving a chunk --------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkPosition:
    offset: int
    length: int | None  # what Content-Range announces, if it was used


_CONTENT_RANGE = re.compile(r"^bytes ([0-9]+)-([0-9]+)/([0-9]+|\*)$", re.ASCII)


def chunk_position(
    upload_offset: str | None, content_range: str | None, total: int
) -> ChunkPosition:
    """Where a chunk goes: `Upload-Offset: <n>`, or `Content-Range: bytes <a>-<b>/<total>`."""
    if upload_offset is not None:
        offset = parse_natural(upload_offset)
        if offset is None:
            raise Malformed("bad-offset", "Upload-Offset harus bilangan bulat.")
        return ChunkPosition(offset, None)
    if content_range is not None:
        match = _CONTENT_RANGE.match(content_range.strip())
        if match is None:
            raise Malformed("bad-offset", "Content-Range tidak dapat dibaca.")
        start, end = parse_natural(match[1]), parse_natural(match[2])
        size = None if match[3] == "*" else parse_natural(match[3])
        if start is None or end is None or end < start or (match[3] != "*" and size != total):
            raise Malformed("bad-offset", "Content-Range tidak cocok dengan unggahan ini.")
        return ChunkPosition(start, end - start + 1)
    raise Malformed("bad-offset", "Sebutkan posisi potongan (Upload-Offset atau Content-Range).")


async def receive_chunk(
    session: AsyncSession,
    root: Path,
    upload: UploadSession,
    position: ChunkPosition,
    declared_length: int | None,
    body: AsyncIterable[bytes],
) -> ChunkResult:
    """Writes one chunk at its offset and, with the last byte, turns the upload into an
    attachment. Refusals leave the offset where it was; a refused file leaves nothing behind.
    """
    if upload.attachment_id is not None or position.offset != upload.received_bytes:
        raise wrong_offset(upload.received_bytes)
    room = upload.total_bytes - upload.received_bytes
    limit = min(room, MAX_CHUNK_BYTES)
    announced = position.length if position.length is not None else declared_length
    if announced is not None and announced > limit:
        raise _chunk_too_large(room)
    application = await session.get(LetterApplication, upload.application_id)
    if application is None:
        raise not_found()
    try:
        require_editable(application)
    except DomainError:
        await _remove(session, root, upload)
        raise
    async with _writing(session, upload) as claimed:
        data = await _read_limited(body, limit, room)
        if position.length is not None and len(data) != position.length:
            raise Malformed("bad-length", "Panjang potongan tidak sesuai dengan Content-Range.")
        if not data:
            return ChunkResult(upload=claimed, attachment=None)
        offset = claimed.received_bytes
        if offset == 0 and (len(data) >= HEAD_BYTES or len(data) == claimed.total_bytes):
            # Refuse a file that is not what we accept at its first chunk, not after 10 MB.
            try:
                checked_content_type(bytes(data[:HEAD_BYTES]))
            except DomainError:
                await _remove(session, root, claimed)
                raise
        path = temp_path(root, claimed)
        try:
            await asyncio.to_thread(_write_at, path, offset, bytes(data))
        except FileNotFoundError as exc:  # replaced by a newer upload meanwhile
            raise not_found() from exc
        reached = offset + len(data)
        if reached < claimed.total_bytes:
            advanced = await session.exec(
                update(UploadSession)
                .where(col(UploadSession.id) == claimed.id)
                .where(col(UploadSession.received_bytes) == offset)
                .values(
                    received_bytes=reached, writing_until=None, expires_at=utcnow() + UPLOAD_TTL
                )
            )
            await session.commit()
            if advanced.rowcount == 0:
                raise not_found()
            await session.refresh(claimed)
            return ChunkResult(upload=claimed, attachment=None)
        attachment = await _complete(session, root, application, claimed)
        return ChunkResult(upload=claimed, attachment=attachment)


def _chunk_too_large(room: int) -> TooLarge:
    if room < MAX_CHUNK_BYTES:
        return TooLarge("too-large", "Potongan melewati ukuran berkas yang disebutkan di awal.")
    return TooLarge(
        "chunk-too-large",
        f"Potongan terlalu besar: paling besar {MAX_CHUNK_BYTES // 1024} KB per kiriman.",
    )


async def _read_limited(body: AsyncIterable[bytes], limit: int, room: int) -> bytearray:
    data = bytearray()
    async for piece in body:
        if len(data) + len(piece) > limit:
            raise _chunk_too_large(room)
        data += piece
    return data


@asynccontextmanager
async def _writing(session: AsyncSession, upload: UploadSession) -> AsyncIterator[UploadSession]:
    """Holds the upload for this request while it writes at the current offset; another
    request meanwhile gets the offset (409). The hold is let go however the block ends."""
    upload_id = upload.id  # readable after a rollback expired the object
    now = utcnow()
    claimed = await session.exec(
        update(UploadSession)
        .where(col(UploadSession.id) == upload.id)
        .where(col(UploadSession.received_bytes) == upload.received_bytes)
        .where(col(UploadSession.attachment_id).is_(None))
        .where(
            or_(
                col(UploadSession.writing_until).is_(None),
                col(UploadSession.writing_until) < now,
            )
        )
        .values(writing_until=now + WRITE_LEASE)
    )
    await session.commit()  # no transaction stays open while the phone sends the chunk
    if claimed.rowcount == 0:
        current = await session.get(UploadSession, upload.id, populate_existing=True)
        if current is None:
            raise not_found()
        raise wrong_offset(current.received_bytes)
    await session.refresh(upload)
    try:
        yield upload
    except BaseException:
        with suppress(Exception):
            await session.rollback()
        raise
    finally:
        with suppress(Exception):
            await session.exec(
                update(UploadSession)
                .where(col(UploadSession.id) == upload_id)
                .where(col(UploadSession.writing_until).is_not(None))
                .values(writing_until=None)
            )
            await session.commit()


async def _complete(
    session: AsyncSession, root: Path, application: LetterApplication, upload: UploadSession
) -> Attachment:
    upload_id = upload.id
    path = temp_path(root, upload)
    try:
        sha256, head = await asyncio.to_thread(_finish_file, path, upload.total_bytes)
    except FileNotFoundError as exc:
        raise not_found() from exc
    received = ReceivedFile(
        path=path, size=upload.total_bytes, sha256=sha256, head=head, filename=upload.filename
    )
    attachment_id = new_id()
    upload.received_bytes = upload.total_bytes
    upload.attachment_id = attachment_id
    upload.writing_until = None
    upload.expires_at = utcnow() + UPLOAD_TTL  # kept a while to answer a repeated last chunk
    try:
        attachment = await accept_file(
            session,
            root,
            application,
            upload.kind,  # checked when the upload started, against the pinned version
            received,
            attachment_id=attachment_id,
            same_transaction=[upload],
        )
    except StaleDataError as exc:  # replaced by a newer upload meanwhile
        await session.rollback()
        path.unlink(missing_ok=True)
        raise not_found() from exc
    except DomainError:
        await session.rollback()
        await _remove_by_id(session, upload_id, path)  # nothing of a refused file is kept
        raise
    log.info("upload %s completed as attachment %s", upload.id, attachment.id)
    return attachment


# --- files (in a worker thread) -----------------------------------------------------------


def _create_empty(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=False)


def _write_at(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def _finish_file(path: Path, total: int) -> tuple[str, bytes]:
    """Cuts off whatever a broken chunk left past the end; the file's digest and first bytes."""
    digest = hashlib.sha256()
    with path.open("r+b") as f:
        f.truncate(total)
        head = f.read(HEAD_BYTES)
        f.seek(0)
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest(), head


# --- expiry -------------------------------------------------------------------------------


async def expire_uploads(
    sessions: async_sessionmaker[AsyncSession], root: Path, now: datetime | None = None
) -> int:
    """Removes uploads untouched for UPLOAD_TTL, with their temporary files. How many."""
    now = now or utcnow()
    async with sessions() as session:
        expired = (
            await session.exec(
                select(UploadSession)
                .where(col(UploadSession.expires_at) <= now)
                .where(
                    or_(
                        col(UploadSession.writing_until).is_(None),
                        col(UploadSession.writing_until) <= now,
                    )
                )
            )
        ).all()
        for upload in expired:
            await session.delete(upload)
        await session.commit()
    for upload in expired:
        temp_path(root, upload).unlink(missing_ok=True)
    if expired:
        log.info("%d unfinished upload(s) expired", len(expired))
    return len(expired)


def upload_janitor(sessions: async_sessionmaker[AsyncSession], root: Path) -> BacklogLoop:
    """Expires unfinished uploads now and then while the service runs."""

    async def expire() -> bool:
        await expire_uploads(sessions, root)
        return False  # nothing waits right away: the next pass is an interval later

    return BacklogLoop("upload-janitor", expire, JANITOR_INTERVAL_SECONDS)
