"""Issuing a letter: number, render, sign, record. Idempotent per application.

Two short transactions around the slow part:
1. reserve: take the number and insert the Letter row as "issuing" (together, so a number is
   never lost or given twice);
2. render + sign off the event loop, write the PDF once (temp file + link), then mark the row
   "valid" with the file's SHA-256.
A retry after a crash between the two finds the "issuing" row and finishes it with the same
number; if the PDF had already been written it is reused, not signed again.
"""

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain import Role, SignerKind
from common.domain.letter_versions import parse_pinned
from common.files import write_once
from common.metrics import LETTERS_ISSUED
from common.wib import WIB, indonesian_date
from common.wilayah import find_desa
from services.signing import rendering
from services.signing.catalogue import store as catalogue
from services.signing.catalogue.definition import LetterTypeDef as LetterType
from services.signing.composition import (
    Composition,
    ProfileIncomplete,
    SignerInfo,
    addressee_for,
    check_profile,
    kode_for,
    logo_path,
    signature_for,
)
from services.signing.models import DesaProfile, Letter, LetterStatus, as_utc, utcnow
from services.signing.numbering import (
    allocate_kecamatan_register,
    allocate_number,
    format_number,
    format_placeholder,
)
from services.signing.pades import ApprovalStamp, StampText
from services.signing.register import initials, mask_nik
from services.signing.signer_install import printed_name
from services.signing.signers import (
    ApprovalJob,
    LetterSigner,
    SignatureJob,
    SignedLetter,
    SignerSet,
    SigningFailed,
)

log = logging.getLogger(__name__)

# 20 random bytes = 160 bits, URL-safe: unguessable, and unrelated to any id.
VERIFICATION_CODE_BYTES = 20


def new_verification_code() -> str:
    return secrets.token_urlsafe(VERIFICATION_CODE_BYTES)


class IssueRefused(Exception):
    """The request cannot be issued as asked. `reason` tells the caller why (Indonesian)."""

    def __init__(self, reason: str, *, precondition: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # True: the request is well-formed but the system is not set up for it yet.
        self.precondition = precondition


@dataclass(frozen=True)
class IssueRequest:
    application_id: str
    desa_code: str
    letter_type: str
    purpose: str
    nik: str
    signer_role: str
    fields: Mapping[str, str] = field(default_factory=dict)
    signer_username: str = ""
    on_behalf_of_role: str = ""  # "a.n.": the role the signer signs for (e.g. kades)
    signer_is_plt: bool = False
    # The catalogue version the application started with ("SKD-v2"); "": the current one.
    letter_type_version: str = ""
    # For signers that ask per signature (BSrE); never stored or logged.
    passphrase: str | None = field(default=None, repr=False)
    # The letter goes through the kecamatan (its route has kecamatan steps): the certification
    # reserves the camat's signature field (pades.PadesEngine.sign).
    kecamatan_code: str = ""
    # The camat's, when the kecamatan signs through BSrE (verification, with the camat's own
    # approval or signature request); never stored or logged. Without it such a letter is
    # refused before it is numbered.
    camat_passphrase: str | None = field(default=None, repr=False)
    # The camat account's printed name (verification's), for a camat certificate installed
    # without one (PKCS#11, BSrE, the dev PKI).
    camat_name: str = ""
    # The desa signer and the camat both sign through BSrE, each in their own call: this one
    # (the desa signer's, without the camat's passphrase) only certifies, with the camat's
    # field reserved; the camat's call adds the register number and the "mengetahui".
    camat_signs_later: bool = False


@dataclass(frozen=True)
class KecamatanApproval:
    """The camat's "mengetahui" on the letter of one application."""

    application_id: str
    kecamatan_code: str
    kecamatan_name: str
    camat_name: str = ""
    # For a camat who signs through BSrE; never stored or logged.
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Plan:
    letter_type: LetterType
    profile: DesaProfile
    signer: LetterSigner
    composition: Composition


async def _letter_type_for(session: AsyncSession, req: IssueRequest) -> LetterType:
    if not req.letter_type_version:
        found = await catalogue.current(session, req.letter_type)
        if found is None:
            raise IssueRefused(f"Jenis surat {req.letter_type!r} tidak dikenal.")
        return found
    # Only `<code>-v<n>`, with the desa's wording or not: the old template names letters
    # recorded are not an application's.
    pinned = parse_pinned(req.letter_type_version)
    found = await catalogue.get_version(session, pinned.code, pinned.version) if pinned else None
    if (
        pinned is None
        or found is None
        or found.code != req.letter_type
        or (pinned.desa and pinned.desa != req.desa_code)
    ):
        raise IssueRefused(
            f"Versi jenis surat {req.letter_type_version!r} tidak ada di katalog untuk "
            f"{req.letter_type!r}."
        )
    return found


class LetterIssuer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signers: SignerSet,
        letters_dir: Path,
        public_verification_url: str,
    ) -> None:
        self._sessions = sessions
        self._signers = signers
        # Timings of the last letters issued by this process (for the benchmark).
        self.last_signed: SignedLetter | None = None
        self._letters_dir = letters_dir
        letters_dir.mkdir(parents=True, exist_ok=True)
        # Desa logos for the kop surat (DesaProfile.logo_file is relative to it).
        self.assets_dir = letters_dir.parent / "assets"
        self._base_url = public_verification_url.rstrip("/")

    @property
    def signers(self) -> SignerSet:
        return self._signers

    def signer_kind(self, desa_code: str) -> SignerKind | None:
        """How the desa's letters are signed (None: the desa has no signer)."""
        signer = self._signers.for_desa(desa_code)
        return signer.kind if signer is not None else None

    def verification_url(self, code: str) -> str:
        return f"{self._base_url}/verifikasi/{code}"

    def pdf_path(self, letter: Letter) -> Path:
        if letter.kecamatan_approved_at is not None:
            return self._approved_path(letter)
        return self._letters_dir / f"{letter.id}.pdf"

    def _approved_path(self, letter: Letter) -> Path:
        return self._letters_dir / f"{letter.id}.mengetahui.pdf"

    async def approve_at_kecamatan(self, req: KecamatanApproval) -> Letter:
        """The camat's "mengetahui" on an issued letter: the kecamatan's register number (its
        own sequence), then an approval signature over the Kades' certified PDF. Idempotent:
        a retry reuses the number taken and the PDF written; a letter approved is returned."""
        letter = await self._find(req.application_id)
        if letter is None or letter.status == LetterStatus.ISSUING.value:
            raise IssueRefused("Surat belum terbit; camat belum dapat menandatangani.")
        if letter.status != LetterStatus.VALID.value:
            raise IssueRefused("Surat sudah dicabut.")
        if not letter.desa_code.startswith(req.kecamatan_code + "."):
            raise IssueRefused("Desa surat ini tidak termasuk kecamatan tersebut.")
        if letter.kecamatan_code != req.kecamatan_code:
            # Issued without the camat's field: its certification permits no new one.
            raise IssueRefused("Surat ini diterbitkan tanpa langkah kecamatan.")
        if letter.kecamatan_approved_at is not None:
            return letter
        signer = self._camat_signer(req.kecamatan_code, req.passphrase)
        if not letter.kecamatan_register:
            async with self._sessions() as session:
                # The counter first (SQLite's write lock), the letter in the same transaction.
                register = await allocate_kecamatan_register(session, req.kecamatan_code, utcnow())
                result = await session.exec(
                    update(Letter)
                    .where(col(Letter.id) == letter.id, col(Letter.kecamatan_register) == "")
                    .values(kecamatan_register=register)
                )
                if result.rowcount:
                    await session.commit()
                else:  # a concurrent call took one first: give ours back, use theirs
                    await session.rollback()
                fresh = await session.get(Letter, letter.id, populate_existing=True)
                assert fresh is not None
                letter = fresh
        path = self._approved_path(letter)
        if not path.exists():
            signed_at = utcnow().astimezone(WIB)
            job = ApprovalJob(
                pdf=await asyncio.to_thread((self._letters_dir / f"{letter.id}.pdf").read_bytes),
                kecamatan_code=req.kecamatan_code,
                location=f"Kecamatan {req.kecamatan_name}",
                stamp=ApprovalStamp(
                    signer_line=f"Camat {req.kecamatan_name}",
                    signer_name=req.camat_name,
                    register_number=letter.kecamatan_register,
                    signed_at_wib=f"{indonesian_date(signed_at.date())}, {signed_at:%H.%M} WIB",
                    verification_url=self.verification_url(letter.verification_code),
                ),
                passphrase=req.passphrase,
            )
            try:
                signed = await signer.approve(job)
            except SigningFailed as exc:
                # The certification and both numbers stay as they are: the camat's next try
                # (e.g. with the right passphrase) reuses them; until then the letter is not
                # issued (Letter.issued).
                raise IssueRefused(
                    f'Tanda tangan "Mengetahui" Camat belum dibubuhkan: {exc.reason}',
                    precondition=True,
                ) from exc
            await asyncio.to_thread(write_once, path, signed)
        digest = hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest()
        async with self._sessions() as session:
            await session.exec(
                update(Letter)
                .where(col(Letter.id) == letter.id, col(Letter.kecamatan_approved_at).is_(None))
                .values(
                    kecamatan_approved_at=utcnow(),
                    sha256=digest,
                    pdf_path=str(path.relative_to(self._letters_dir.parent)),
                )
            )
            await session.commit()
            approved = await session.get(Letter, letter.id, populate_existing=True)
        assert approved is not None
        log.info("letter %s approved at the kecamatan", letter.id)
        return approved

    def _camat_signer(
        self, kecamatan_code: str, passphrase: str | None, later: bool = False
    ) -> LetterSigner:
        """The kecamatan's signer (local keys, PKCS#11 or BSrE, as configured for its code),
        if it holds the camat's key; IssueRefused (a precondition) otherwise. A remote camat
        needs their passphrase now unless they sign `later`, in a call of their own."""
        signer = self._signers.for_kecamatan(kecamatan_code)
        if signer is None or not signer.can_sign(kecamatan_code, Role.CAMAT):
            raise IssueRefused(
                f"Belum ada sertifikat camat untuk kecamatan {kecamatan_code}.",
                precondition=True,
            )
        if signer.kind.remote and not passphrase and not later:
            raise IssueRefused(
                "Camat menandatangani melalui BSrE: passphrase TTE camat wajib diisi.",
                precondition=True,
            )
        return signer

    async def issue(self, req: IssueRequest) -> Letter:
        camat_later = False
        if req.kecamatan_code:
            # Before the number is taken: a letter the camat cannot approve is not certified.
            # A camat key installed, or a camat marked for BSrE, meanwhile counts.
            await self._signers.refresh()
            camat = self._camat_signer(
                req.kecamatan_code, req.camat_passphrase, later=req.camat_signs_later
            )
            # A BSrE desa in a BSrE kecamatan: the desa signer's call certifies only; the
            # letter is not issued (Letter.issued) until the camat's own call approves it.
            camat_later = camat.kind.remote and not req.camat_passphrase
        letter = await self._issue_certified(req)
        if req.kecamatan_code and letter.kecamatan_approved_at is None and not camat_later:
            # The route's kecamatan steps were approved before issuing: the camat's
            # "mengetahui" follows the certification at once (a retry finishes it).
            area = find_desa(letter.desa_code)
            letter = await self.approve_at_kecamatan(
                KecamatanApproval(
                    req.application_id,
                    req.kecamatan_code,
                    area.kecamatan if area is not None else req.kecamatan_code,
                    # The camat's name as the operator installed their certificate with it;
                    # else the camat account's (a token or BSrE key has no installed record).
                    camat_name=await printed_name(self._sessions, req.kecamatan_code, Role.CAMAT)
                    or req.camat_name,
                    passphrase=req.camat_passphrase,
                )
            )
        return letter

    async def _issue_certified(self, req: IssueRequest) -> Letter:
        existing = await self._find(req.application_id)
        if existing is not None and existing.status != LetterStatus.ISSUING.value:
            return existing
        plan = await self._plan(req)
        letter = existing or await self._reserve(req, plan)
        if letter.status != LetterStatus.ISSUING.value:  # a concurrent call finished it
            return letter
        return await self._finish(letter, req, plan)

    async def find_issued(self, application_id: str) -> Letter | None:
        """The application's letter once every signature it needs is on it (Letter.issued)."""
        letter = await self._find(application_id)
        if letter is None or not letter.issued:
            return None
        return letter

    async def read_pdf(self, letter: Letter) -> bytes:
        return await asyncio.to_thread(self.pdf_path(letter).read_bytes)

    async def _find(self, application_id: str) -> Letter | None:
        async with self._sessions() as session:
            query = select(Letter).where(col(Letter.application_id) == application_id)
            return (await session.exec(query)).first()

    async def preview(self, req: IssueRequest) -> bytes:
        """The letter as `issue` would render it now, unsigned, unnumbered and watermarked.
        Takes no number and stores nothing."""
        composition = await self._compose(req)
        lt, profile = composition.letter_type, composition.profile
        now = utcnow()
        number = format_placeholder(
            profile.number_format, kode_for(profile, lt), profile.code, now, lt.code
        )
        content = composition.content(number, now, self.verification_url(""), preview=True)
        return await self._signers.render(content)

    async def _compose(self, req: IssueRequest) -> Composition:
        if not req.application_id:
            raise IssueRefused("application_id wajib diisi.")
        signer = SignerInfo(
            req.signer_role, req.signer_username, req.on_behalf_of_role, req.signer_is_plt
        )
        async with self._sessions() as session:
            # The version the application started with (an application in progress keeps it
            # when a newer one is published), else the type's current one; the letter records
            # which it was.
            letter_type = await _letter_type_for(session, req)
            # The desa's own wording of the body (kop surat and signature block stay the
            # kabupaten's): the one the application started with, which its version names
            # (none: the kabupaten's); the desa's current one for a request naming no
            # version. The letter records it with the version.
            if req.letter_type_version:
                letter_type = await catalogue.with_pinned_wording(
                    session, letter_type, req.letter_type_version
                )
            else:
                letter_type = await catalogue.for_desa(session, letter_type, req.desa_code)
            profile = await session.get(DesaProfile, req.desa_code)
            if profile is None:
                raise IssueRefused(f"Desa {req.desa_code} belum memiliki profil surat.")
            try:
                check_profile(profile)
                kode_for(profile, letter_type)  # a kode the catalogue left open must be set
                signature = await signature_for(session, profile, signer)
            except ProfileIncomplete as exc:
                raise IssueRefused(str(exc), precondition=True) from exc
        return Composition(
            letter_type=letter_type,
            profile=profile,
            signature=signature,
            fields=dict(req.fields),
            nik=req.nik,
            purpose=req.purpose.strip(),
            addressee=addressee_for(letter_type, profile, req.fields),
            logo=logo_path(profile, self.assets_dir),
        )

    async def _plan(self, req: IssueRequest) -> _Plan:
        composition = await self._compose(req)
        letter_type, profile = composition.letter_type, composition.profile
        await self._signers.refresh()
        signer = self._signers.for_desa(req.desa_code)
        if signer is None or not signer.roles_for(req.desa_code):
            raise IssueRefused(f"Desa {req.desa_code} belum memiliki penandatangan.")
        if not signer.can_sign(req.desa_code, req.signer_role):
            raise IssueRefused(
                f"Tidak ada sertifikat penandatangan untuk jabatan {req.signer_role!r} "
                f"di desa {req.desa_code}.",
                precondition=True,
            )
        if signer.kind == "bsre" and not req.passphrase:
            # Refused before a number is taken: the signer's passphrase comes only with a
            # staff member's own request (verification), never with the workflow's.
            raise IssueRefused(
                "Tanda tangan BSrE memerlukan passphrase penandatangan. Penandatangan "
                "memasukkan passphrase saat menyetujui atau saat menerbitkan ulang surat.",
                precondition=True,
            )
        return _Plan(letter_type, profile, signer, composition)

    async def _reserve(self, req: IssueRequest, plan: _Plan) -> Letter:
        lt, profile = plan.letter_type, plan.profile
        kode = kode_for(profile, lt)
        async with self._sessions() as session:
            now = utcnow()
            number = await allocate_number(session, req.desa_code, kode, now)
            letter = Letter(
                id=str(uuid.uuid4()),
                application_id=req.application_id,
                desa_code=req.desa_code,
                letter_type=lt.code,
                kode_klasifikasi=kode,
                year=number.year,
                sequence=number.sequence,
                number=format_number(number, profile.number_format, lt.code),
                verification_code=new_verification_code(),
                signer_role=req.signer_role,
                template_version=lt.template_version,
                purpose=plan.composition.purpose,
                addressee=plan.composition.addressee,
                status=LetterStatus.ISSUING.value,
                kecamatan_code=req.kecamatan_code,
                created_at=now,
                signer_username=req.signer_username,
                on_behalf_of_role=req.on_behalf_of_role,
                signer_is_plt=req.signer_is_plt,
                # As the signature block prints it (composition: officials, Plt, a.n.).
                signer_name=plan.composition.signature.signer_name,
                nik_masked=mask_nik(req.nik),
                # The resident (applicant or reporter) is the "nama" of every letter type.
                holder_initials=initials(req.fields.get("nama", "")),
            )
            session.add(letter)
            try:
                await session.commit()
            except IntegrityError:
                # A concurrent call for the same application won; our number rolls back with
                # this transaction, so no gap is left.
                await session.rollback()
            else:
                log.info(
                    "letter %s reserved number for application %s", letter.id, req.application_id
                )
                return letter
        winner = await self._find(req.application_id)
        if winner is None:
            raise RuntimeError("letter reservation failed without a concurrent winner")
        return winner

    def _content(self, letter: Letter, req: IssueRequest, plan: _Plan) -> rendering.LetterContent:
        # The date printed is the date the number was taken: they must agree.
        return plan.composition.content(
            letter.number,
            as_utc(letter.created_at),
            self.verification_url(letter.verification_code),
        )

    async def _finish(self, letter: Letter, req: IssueRequest, plan: _Plan) -> Letter:
        path = self.pdf_path(letter)
        data: bytes | None = None
        digest: str | None = None
        if not path.exists():
            signed_at = utcnow().astimezone(WIB)
            job = SignatureJob(
                content=self._content(letter, req, plan),
                desa_code=letter.desa_code,
                role=letter.signer_role,
                location=plan.profile.name,
                # The stamp says what the signature block around it says (a.n., Plt.).
                stamp=StampText(
                    signer_name=plan.composition.signature.signer_name,
                    signer_line=plan.composition.signature.jabatan(plan.profile.name),
                    signed_at_wib=f"{indonesian_date(signed_at.date())}, {signed_at:%H.%M} WIB",
                    verification_url=self.verification_url(letter.verification_code),
                ),
                passphrase=req.passphrase,
                output=path,
                approval_field=bool(req.kecamatan_code),
            )
            try:
                signed = await plan.signer.sign(job)
            except SigningFailed as exc:
                raise IssueRefused(exc.reason, precondition=True) from exc
            self.last_signed = signed
            if signed.stored:  # the signer wrote the file (in its worker, fsynced)
                digest = signed.sha256
            elif await asyncio.to_thread(write_once, path, signed.pdf):
                data = signed.pdf
        if digest is None:
            if data is None:  # signed before a crash, or by a concurrent call: its file counts
                data = await asyncio.to_thread(path.read_bytes)
            digest = hashlib.sha256(data).hexdigest()
        done = {
            "status": LetterStatus.VALID.value,
            "sha256": digest,
            "pdf_path": str(path.relative_to(self._letters_dir.parent)),
            "issued_at": utcnow(),
        }
        async with self._sessions() as session:
            # Only the first finisher sets it; all finishers saw the same file.
            result = await session.exec(
                update(Letter)
                .where(
                    col(Letter.id) == letter.id, col(Letter.status) == LetterStatus.ISSUING.value
                )
                .values(**done)
            )
            await session.commit()
            finished: Letter | None = letter
            if result.rowcount:  # ours: the row is the reserved one plus what we just set
                for name, value in done.items():
                    setattr(letter, name, value)
            else:  # another finisher's: read what it set
                finished = await session.get(Letter, letter.id, populate_existing=True)
        assert finished is not None
        if result.rowcount:
            LETTERS_ISSUED.labels(letter.letter_type).inc()
        log.info("letter %s issued", letter.id)
        return finished
