"""Documents kept once: a resident's KTP and KK photos are kept on their record after they
upload them to an application, and offered again for their next application ("Pakai KTP yang
tersimpan"), until a newer upload of that kind replaces them or they expire
(`intake_kept_document_days` after the upload, 365 by default: a KK changes with births,
marriages and deaths, and a year-old KTP photo may show an old address).

Choosing a kept document copies it into the application as an ordinary attachment
(`attachments.store_attachment`): staff, signing and verification read it from the new
application exactly as an uploaded one, and replacing or expiring the kept copy never changes
an application that used it. Files live at `<intake data>/documents/<resident_id>/<id>`,
beside the attachments folder; the row is written only after its file is in place.
"""

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import as_utc, utcnow
from common.domain.errors import NotFound
from services.intake.attachments import (
    attachment_dir,
    attachment_path,
    checked_kind,
    require_editable,
    store_attachment,
)
from services.intake.file_safety import HEAD_BYTES
from services.intake.letter_types import LetterType
from services.intake.models import Attachment, KeptDocument, LetterApplication, new_id
from services.intake.uploads import ReceivedFile

log = logging.getLogger(__name__)

# The documents that are the resident's own whatever the letter: kept for the next one.
KEPT_KINDS = ("KTP", "KK")
KIND_NAMES = {"KTP": "KTP", "KK": "Kartu Keluarga"}


def kept_root(attachments_root: Path) -> Path:
    """Beside the attachments folder, on the same volume (deploy/k8s: the intake data PVC)."""
    return attachments_root.parent / "documents"


def kept_path(attachments_root: Path, document: KeptDocument) -> Path:
    return kept_root(attachments_root) / document.resident_id / document.id


@dataclass(frozen=True)
class Kept:
    document: KeptDocument
    expires_at: datetime

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.document.kind, self.document.kind)


def expiry_of(document: KeptDocument, days: int) -> datetime:
    return as_utc(document.created_at) + timedelta(days=days)


async def keep(
    session: AsyncSession, attachments_root: Path, resident_id: str, attachment: Attachment
) -> None:
    """After a resident's KTP or KK upload was stored: keep a copy on their record, replacing
    the one kept before. The upload stands whatever happens here (it was committed); a copy
    that cannot be kept is logged, and the older one is offered no more."""
    if attachment.kind not in KEPT_KINDS:
        return
    document = KeptDocument(
        resident_id=resident_id,
        kind=attachment.kind,
        content_type=attachment.content_type,
        size_bytes=attachment.size_bytes,
        sha256=attachment.sha256,
        filename=attachment.filename,
    )
    source = attachment_path(attachments_root, attachment.application_id, attachment.id)
    target = kept_path(attachments_root, document)
    try:
        await asyncio.to_thread(_copy, source, target)
        older = (
            await session.exec(
                select(KeptDocument).where(
                    KeptDocument.resident_id == resident_id, KeptDocument.kind == attachment.kind
                )
            )
        ).all()
        for old in older:
            await session.delete(old)
        session.add(document)
        await session.commit()
    except Exception:
        await session.rollback()
        target.unlink(missing_ok=True)
        log.exception("could not keep %s of resident %s", attachment.kind, resident_id)
        await _forget(session, attachments_root, resident_id, attachment.kind)
        return
    for old in older:
        kept_path(attachments_root, old).unlink(missing_ok=True)
    log.info("kept %s %s for resident %s", attachment.kind, document.id, resident_id)


async def _forget(
    session: AsyncSession, attachments_root: Path, resident_id: str, kind: str
) -> None:
    """Drops the kept documents of a kind (its file too): one that was replaced, or expired."""
    try:
        rows = (
            await session.exec(
                select(KeptDocument).where(
                    KeptDocument.resident_id == resident_id, KeptDocument.kind == kind
                )
            )
        ).all()
        for row in rows:
            await session.delete(row)
        await session.commit()
    except Exception:
        await session.rollback()
        log.exception("could not forget kept %s of resident %s", kind, resident_id)
        return
    for row in rows:
        kept_path(attachments_root, row).unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    """A full copy under a temporary name, then renamed: a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


async def kept_documents(
    session: AsyncSession, attachments_root: Path, resident_id: str, days: int
) -> list[Kept]:
    """The resident's kept documents still valid, KTP first. Expired ones are removed now."""
    rows = (
        await session.exec(
            select(KeptDocument)
            .where(KeptDocument.resident_id == resident_id)
            .order_by(col(KeptDocument.kind).desc())
        )
    ).all()
    now = utcnow()
    valid: list[Kept] = []
    for row in rows:
        expires_at = expiry_of(row, days)
        if expires_at <= now:
            await _forget(session, attachments_root, resident_id, row.kind)
        else:
            valid.append(Kept(row, expires_at))
    return valid


async def use_kept(
    session: AsyncSession,
    attachments_root: Path,
    application: LetterApplication,
    letter_type: LetterType,
    kind: str,
    days: int,
) -> Attachment:
    """`Pakai KTP yang tersimpan`: the kept document of `kind` becomes the application's
    attachment for that syarat (a copy: an ordinary attachment), replacing one uploaded
    before. NotFound when nothing valid is kept; the application must be the resident's to
    change."""
    kind = checked_kind(letter_type, kind)
    require_editable(application)
    kept = {
        k.document.kind: k.document
        for k in await kept_documents(session, attachments_root, application.resident_id, days)
    }
    document = kept.get(kind)
    if document is None:
        raise NotFound(
            "no-kept-document",
            f"Tidak ada {KIND_NAMES.get(kind, kind)} tersimpan yang masih berlaku; unggah berkasnya.",
        )
    folder = attachment_dir(attachments_root, application.id)
    temporary = folder / f"kept-{new_id()}"
    head = await asyncio.to_thread(_copy_for, kept_path(attachments_root, document), temporary)
    received = ReceivedFile(
        path=temporary,
        size=document.size_bytes,
        sha256=document.sha256,
        head=head,
        filename=document.filename or "",
    )
    try:
        await session.refresh(application)  # submitted meanwhile?
        require_editable(application)
        attachment = await store_attachment(
            session, attachments_root, application.id, kind, received, document.content_type
        )
    finally:
        received.discard()  # no-op once moved into place
    log.info("kept %s %s used for application %s", kind, document.id, application.id)
    return attachment


def _copy_for(source: Path, target: Path) -> bytes:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    with target.open("rb") as f:
        return f.read(HEAD_BYTES)
