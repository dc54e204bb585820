"""Walk-in: desa staff file an application for a resident who came to the desa office, with the
documents scanned there (gRPC FileWalkIn, called by verification's staff client).

Everything is checked with the resident API's own functions (NIK, phone, desa, letter type,
purpose, fields; each scan's kind, size and content, and its clean copy made by
`file_safety.make_safe` as for any upload) before anything is written; then the resident (when
new), the application and its attachments are written in one transaction, the clean copies
moved into place first and removed again if it fails. So a refusal leaves nothing.

The application belongs to the resident identity the OTP sign-in uses (`Resident`, one per
NIK): a NIK seen for the first time is bound to the phone given here, exactly as a first sign-in
would bind it, and the resident then signs in with that NIK and phone. A NIK already bound to
another phone is refused: the office must not rebind a resident's sign-in (that would hand the
account to whoever holds the new number); the resident changes nothing here and follows the
application with the number they registered, or files with that number.

For a resident the desa's population register holds, the letter's identity fields are the
register's (services/intake/register_data.py, as for an application made in the portal): read
once as the walk-in is filed, which is also when it is submitted, so the application keeps that
snapshot and its register version, and the letter prints it. Values the operator sent for those
fields do not override it. If the register cannot be asked, nothing is filed
(RegisterUnavailable).

A request id makes filing idempotent: a retry (a double click, a timeout) returns the
application the first call filed, and finishes its submission if the workflow could not be
started the first time.
"""

import asyncio
import hashlib
import hmac
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from smartdesa.v1 import population_pb2_grpc
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.nik import InvalidNik, is_valid_nik, parse_nik
from common.phone import InvalidPhone, normalize_phone
from common.rpc import MAX_SCANS_PER_MESSAGE
from common.temporal_client import TemporalConnection
from services.intake import register_data, submission
from services.intake.applications import (
    WALK_IN,
    WHATSAPP,
    InvalidApplication,
    missing_requirements_message,
    new_application,
)
from services.intake.attachments import (
    attachment_dir,
    attachment_path,
    check_kind,
    normalized_kind,
)
from services.intake.catalogue import Catalogue
from services.intake.file_safety import (
    HEAD_BYTES,
    InvalidAttachment,
    SafeFile,
    check_content,
    make_safe,
)
from services.intake.letter_types import LetterType
from services.intake.models import Attachment, LetterApplication, Resident
from services.intake.uploads import clean_filename

log = logging.getLogger(__name__)

REQUEST_ID_MAX_LENGTH = 64
STAFF_MAX_LENGTH = 64


class WalkInRefused(ValueError):
    """Input that cannot be filed. `str(exc)` is the Indonesian message, `field` the input
    (nik, phone, letter_type, purpose, fields.<name>, attachments.<KIND>, request_id …)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class PhoneMismatch(WalkInRefused):
    """The NIK is already bound to another phone number."""


class WalkInUnavailable(Exception):
    """The application is filed (a complete draft) but its workflow could not be started; a
    retry with the same request id submits it."""

    def __init__(self, application_id: str) -> None:
        super().__init__(application_id)
        self.application_id = application_id


@dataclass(frozen=True)
class Scan:
    kind: str
    content: bytes
    filename: str = ""  # the scan's file name at the counter; personal data, never logged


@dataclass(frozen=True)
class WalkIn:
    request_id: str
    desa_code: str
    nik: str
    phone: str
    letter_type: str
    purpose: str
    fields: dict[str, str]
    scans: Sequence[Scan]
    filed_by: str
    # WALK_IN (at the desa office, by filed_by) or WHATSAPP (the resident, by chat: no staff
    # member files it; notification sends the register's NIK for the number that wrote).
    channel: str = WALK_IN


@dataclass(frozen=True)
class Filed:
    application: LetterApplication
    created: bool  # False: this request id had filed it before


PHONE_MISMATCH = (
    "NIK ini sudah terdaftar dengan nomor HP lain. Isi nomor HP yang didaftarkan warga saat "
    "pertama kali masuk ke Smart Desa (nomor tidak dapat diganti dari kantor desa)."
)


async def _filled(
    population: population_pb2_grpc.PopulationServiceStub | None,
    walk_in: WalkIn,
    letter_type: LetterType | None,
) -> register_data.Filled:
    """The walk-in's fields with the register's values in place (register_data.fill), read
    for the filing staff member; as typed when the NIK is not valid (refused later with its
    message) or there is no register to ask."""
    nik = walk_in.nik.strip()
    if population is None or not is_valid_nik(nik):
        return register_data.Filled(dict(walk_in.fields), (), None)
    by_chat = walk_in.channel == WHATSAPP
    record = await register_data.lookup(
        population,
        nik,
        walk_in.desa_code,
        register_data.PURPOSE_WHATSAPP if by_chat else register_data.PURPOSE_WALK_IN,
        "intake:whatsapp" if by_chat else register_data.walk_in_actor(walk_in.filed_by),
    )
    return register_data.fill(letter_type, walk_in.fields, record)


def _checked(
    walk_in: WalkIn, filled: register_data.Filled, current: LetterType | None
) -> tuple[str, str, LetterApplication, list[tuple[str, bytes]]]:
    """(nik, phone, draft, [(kind, content)]) or WalkInRefused: everything that needs no
    decoding (the scans' clean copies are made after, by `_clean_scans`)."""
    request_id = walk_in.request_id.strip()
    if not request_id or len(request_id) > REQUEST_ID_MAX_LENGTH:
        raise WalkInRefused(
            "Permintaan tidak sah: request_id wajib (paling panjang 64).", "request_id"
        )
    if walk_in.channel not in (WALK_IN, WHATSAPP):
        raise WalkInRefused("Permintaan tidak sah: saluran tidak dikenal.", "channel")
    if walk_in.channel == WHATSAPP:
        if walk_in.filed_by:
            raise WalkInRefused("Permohonan lewat WhatsApp tidak diisi petugas.", "filed_by")
    elif not walk_in.filed_by or len(walk_in.filed_by) > STAFF_MAX_LENGTH:
        raise WalkInRefused("Petugas yang mendaftarkan wajib disebut.", "filed_by")
    nik = walk_in.nik.strip()
    try:
        parse_nik(nik)
    except InvalidNik as exc:
        raise WalkInRefused(str(exc), "nik") from exc
    try:
        phone = normalize_phone(walk_in.phone)
    except InvalidPhone as exc:
        raise WalkInRefused(str(exc), "phone") from exc
    try:
        draft = new_application(
            "",
            walk_in.desa_code,
            walk_in.letter_type,
            walk_in.purpose,
            filled.fields,
            filled.version,
            filled.from_register,
            letter_type=current,
        )
    except InvalidApplication as exc:
        raise WalkInRefused(str(exc), exc.field) from exc
    assert current is not None  # new_application refuses an unknown type
    letter_type = current
    files: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    if len(walk_in.scans) > MAX_SCANS_PER_MESSAGE:
        # The catalogue keeps the wajib ones within this; optional scans fill the rest.
        raise WalkInRefused(
            f"Paling banyak {MAX_SCANS_PER_MESSAGE} berkas pindaian per permohonan.",
            "attachments",
        )
    for scan in walk_in.scans:
        try:
            kind = check_kind(letter_type, scan.kind)
        except InvalidAttachment as exc:
            raise WalkInRefused(str(exc), "attachments") from exc
        if kind in seen:
            raise WalkInRefused(
                f"Berkas {kind} dikirim lebih dari satu kali.", f"attachments.{kind}"
            )
        seen.add(kind)
        try:
            check_content(len(scan.content), scan.content[:HEAD_BYTES])
        except InvalidAttachment as exc:
            raise WalkInRefused(str(exc), f"attachments.{kind}") from exc
        files.append((kind, scan.content))
    missing = [code for code in letter_type.requirement_codes if code not in seen]
    if missing:
        raise WalkInRefused(
            missing_requirements_message(letter_type, missing), f"attachments.{missing[0]}"
        )
    return nik, phone, draft, files


async def _clean_scans(files: list[tuple[str, bytes]]) -> list[tuple[str, SafeFile]]:
    """Each scan's clean copy (what is stored), or WalkInRefused naming the scan."""
    cleaned: list[tuple[str, SafeFile]] = []
    for kind, content in files:
        try:
            cleaned.append((kind, await make_safe(content)))
        except InvalidAttachment as exc:
            raise WalkInRefused(f"Berkas {kind}: {exc}", f"attachments.{kind}") from exc
    return cleaned


async def _by_request_id(session: AsyncSession, request_id: str) -> LetterApplication | None:
    return (
        await session.exec(
            select(LetterApplication).where(LetterApplication.walk_in_request_id == request_id)
        )
    ).first()


def _write_files(
    root: Path, application_id: str, attachments: list[tuple[Attachment, bytes]]
) -> None:
    """Each file to a temporary name, then renamed into place (a reader never sees half)."""
    directory = attachment_dir(root, application_id)
    directory.mkdir(parents=True, exist_ok=True)
    for attachment, content in attachments:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".walk-in-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(name, attachment_path(root, application_id, attachment.id))


def _remove_files(root: Path, application_id: str) -> None:
    shutil.rmtree(attachment_dir(root, application_id), ignore_errors=True)


async def _write(
    session: AsyncSession,
    root: Path,
    walk_in: WalkIn,
    filled: register_data.Filled,
    letter_type: LetterType | None,
) -> Filed:
    nik, phone, draft, scans = _checked(walk_in, filled, letter_type)
    files = await _clean_scans(scans)
    resident = (await session.exec(select(Resident).where(Resident.nik == nik))).first()
    if resident is not None and not hmac.compare_digest(resident.phone, phone):
        raise PhoneMismatch(PHONE_MISMATCH, "phone")
    new_resident = resident is None
    if resident is None:
        resident = Resident(nik=nik, phone=phone)
    draft.resident_id = resident.id
    draft.channel = walk_in.channel
    draft.filed_by = walk_in.filed_by
    draft.walk_in_request_id = walk_in.request_id.strip()
    names = {normalized_kind(s.kind): clean_filename(s.filename) for s in walk_in.scans}
    attachments = [
        (
            Attachment(
                application_id=draft.id,
                kind=kind,
                content_type=safe.content_type,
                size_bytes=len(safe.content),
                sha256=hashlib.sha256(safe.content).hexdigest(),
                filename=names.get(kind) or None,
            ),
            safe.content,
        )
        for kind, safe in files
    ]
    await asyncio.to_thread(_write_files, root, draft.id, attachments)
    try:
        # Flushed parent first (the rows have no ORM relationships to order them by).
        if new_resident:
            session.add(resident)
            await session.flush()
        session.add(draft)
        await session.flush()
        for attachment, _ in attachments:
            session.add(attachment)
        await session.commit()
    except BaseException:
        await asyncio.to_thread(_remove_files, root, draft.id)
        raise
    # Not the filing staff member's username: it may be a person's name.
    log.info("walk-in application %s filed with %d attachments", draft.id, len(attachments))
    return Filed(application=draft, created=True)


async def file_walk_in(
    session: AsyncSession,
    root: Path,
    temporal: TemporalConnection,
    task_queue: str,
    walk_in: WalkIn,
    *,
    catalogue: Catalogue,
    population: population_pb2_grpc.PopulationServiceStub | None = None,
    retried: bool = False,
) -> Filed:
    """Files and submits the walk-in; see the module's description. Raises WalkInRefused
    (PhoneMismatch), register_data.RegisterUnavailable or CatalogueUnavailable with nothing
    written, or WalkInUnavailable with the draft kept. The application keeps the catalogue's
    current version of its type, as a resident's own does."""
    existing = await _by_request_id(session, walk_in.request_id.strip())
    if existing is not None:
        if existing.desa_code != walk_in.desa_code or existing.filed_by != walk_in.filed_by:
            raise WalkInRefused("Permintaan tidak sah: request_id sudah dipakai.", "request_id")
        filed = Filed(application=existing, created=False)
    else:
        current = await catalogue.worded(
            await catalogue.find(walk_in.letter_type), walk_in.desa_code
        )
        filled = await _filled(population, walk_in, current)
        try:
            filed = await _write(session, root, walk_in, filled, current)
        except IntegrityError:
            # The same request id, or a first sign-in for this NIK, at the same moment: once
            # more, now finding theirs.
            await session.rollback()
            if retried:
                raise
            return await file_walk_in(
                session,
                root,
                temporal,
                task_queue,
                walk_in,
                catalogue=catalogue,
                population=population,
                retried=True,
            )
    application = filed.application
    letter_type = await catalogue.of(application)
    try:
        # As the resident's own submission (the documents were checked before filing).
        await submission.submit(session, temporal, task_queue, application, letter_type)
    except submission.ApprovalUnavailable as exc:
        raise WalkInUnavailable(application.id) from exc
    return Filed(application=application, created=filed.created)
