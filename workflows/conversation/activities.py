"""The conversation's activities: the register (who writes, their data), intake (the desa's
letter types, a field's check, filing the application, its status) and the chat line
(notification's number lookup, sending, media). A NIK is read here and passed on to intake,
never returned to the workflow: it stays out of Temporal's history."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import grpc
from smartdesa.v1 import (
    directory_pb2,
    directory_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    population_pb2,
    population_pb2_grpc,
)
from temporalio import activity

from common.nik import is_valid_nik
from common.register_fields import REGISTER_FIELDS, register_values
from common.rpc import MAX_SCANS_PER_MESSAGE
from workflows.conversation import (
    ACTIVITY_CANCEL_APPLICATION,
    ACTIVITY_CANCELLABLE,
    ACTIVITY_CHECK_FIELD,
    ACTIVITY_CORRECTABLE,
    ACTIVITY_DROP_MEDIA,
    ACTIVITY_EXPECT_SECRET,
    ACTIVITY_FETCH_MEDIA,
    ACTIVITY_IDENTIFY,
    ACTIVITY_KEPT,
    ACTIVITY_LETTER_TYPES,
    ACTIVITY_LINK,
    ACTIVITY_REGISTER_SUMMARY,
    ACTIVITY_REQUEST_CORRECTION,
    ACTIVITY_REVISABLE,
    ACTIVITY_REVISE,
    ACTIVITY_SEND,
    ACTIVITY_STATUS,
    ACTIVITY_SUBMIT,
    ACTIVITY_TO_OFFICE,
)
from workflows.conversation import wording as w
from workflows.conversation.models import (
    KEPT,
    AppRef,
    CancelRequest,
    CorrectionRequest,
    ExpectSecret,
    FieldAnswer,
    FieldCheck,
    Holder,
    LetterForm,
    LinkRequest,
    LinkResult,
    MediaRequest,
    MediaResult,
    OfficeMessage,
    Option,
    Question,
    RegisterRequest,
    RegisterSummary,
    Reply,
    Requirement,
    Revisable,
    ReviseRequest,
    Submission,
    Submitted,
)

_CALL_TIMEOUT_S = 20.0
NO_PHONE = population_pb2.CheckSignInResponse.PhoneOnRecord.NONE
ACTOR = "notification:whatsapp"
WHATSAPP_CHANNEL = "whatsapp"
CANCELLABLE = frozenset({"in_review", "revision_requested"})
STATUS_WORDS = {
    "draft": "belum dikirim",
    "in_review": "sedang diperiksa",
    "revision_requested": "perlu diperbaiki",
    "signing_blocked": "menunggu tanda tangan",
    "rejected": "ditolak",
    "cancelled": "dibatalkan",
    "expired": "kedaluwarsa",
    "issued": "selesai, surat terbit",
}


class ChatLine(Protocol):
    async def phone_of(self, key: str) -> str: ...

    async def send(self, reply: Reply, now: datetime | None = None) -> None: ...

    async def fetch_media(self, request: MediaRequest) -> MediaResult: ...

    async def staged(self, key: str, ref: str) -> tuple[bytes, str] | None: ...

    async def drop_staged(self, key: str, refs: list[str]) -> None: ...

    async def to_office(self, message: OfficeMessage) -> None: ...

    async def expect_secret(self, key: str, on: bool) -> None: ...

    async def take_secrets(self, key: str, refs: list[str]) -> list[str]: ...

    async def link_locked(self, key: str) -> bool: ...

    async def record_link(self, key: str, resident_id: str | None, desa_code: str = "") -> bool: ...

    async def linked_resident(self, key: str) -> str | None: ...

    async def linked_elsewhere(self, key: str, resident_id: str) -> bool: ...


def _purpose(key: str) -> str:
    return f"whatsapp:{key[:16]}"


def _masked(nik: str) -> str:
    return f"{nik[:4]}{'•' * 8}{nik[-4:]}" if len(nik) == 16 else "•" * len(nik)


class ConversationActivities:
    def __init__(
        self,
        line: ChatLine,
        intake_channel: grpc.aio.Channel,
        verification_channel: grpc.aio.Channel,
    ) -> None:
        self._line = line
        self._intake = intake_pb2_grpc.IntakeServiceStub(intake_channel)
        self._population = population_pb2_grpc.PopulationServiceStub(verification_channel)
        self._directory = directory_pb2_grpc.DirectoryServiceStub(verification_channel)

    async def _resident(self, key: str, resident_id: str) -> population_pb2.Resident:
        answer: population_pb2.Resident = await self._population.GetResident(
            population_pb2.GetResidentRequest(
                resident_id=resident_id, purpose=_purpose(key), actor=ACTOR
            ),
            timeout=_CALL_TIMEOUT_S,
        )
        return answer

    @activity.defn(name=ACTIVITY_IDENTIFY)
    async def identify(self, key: str) -> list[Holder]:
        """Whom the register holds this number for; else whom the number linked itself to."""
        phone = await self._line.phone_of(key)
        found: population_pb2.FindByPhoneResponse = await self._population.FindByPhone(
            population_pb2.FindByPhoneRequest(phone=phone, purpose=_purpose(key), actor=ACTOR),
            timeout=_CALL_TIMEOUT_S,
        )
        holders = [
            Holder(resident_id=h.resident_id, name=h.name, desa_code=h.desa_code)
            for h in found.holders
        ]
        linked = None if holders else await self._line.linked_resident(key)
        if linked:
            try:
                r = await self._resident(key, linked)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in (
                    grpc.StatusCode.NOT_FOUND,
                    grpc.StatusCode.FAILED_PRECONDITION,
                ):
                    raise
            else:
                holders = [Holder(resident_id=r.id, name=r.name, desa_code=r.desa_code)]
        return holders

    @activity.defn(name=ACTIVITY_EXPECT_SECRET)
    async def expect_secret(self, request: ExpectSecret) -> None:
        await self._line.expect_secret(request.key, request.on)

    @activity.defn(name=ACTIVITY_LINK)
    async def link(self, request: LinkRequest) -> LinkResult:
        """The portal's first sign-in check: the NIK of a living resident whose register holds
        no phone, its KK number and the mother's name. Any failure answers the same (nothing is
        learnt about a NIK that was not proven); three failures lock linking for a day."""
        answers = await self._line.take_secrets(request.key, request.refs)
        await self._line.expect_secret(request.key, False)  # and drops any other answer
        if await self._line.link_locked(request.key):
            return LinkResult(locked=True)
        if len(answers) != 3:
            return LinkResult()
        nik, kk_number, mother = (" ".join(a.split()) for a in answers)
        nik = nik.replace(" ", "")
        phone = await self._line.phone_of(request.key)
        resident = None
        if is_valid_nik(nik):
            sign_in: population_pb2.CheckSignInResponse = await self._population.CheckSignIn(
                population_pb2.CheckSignInRequest(nik=nik, phone=phone), timeout=_CALL_TIMEOUT_S
            )
            knows: population_pb2.VerifyFamilyKnowledgeResponse = (
                await self._population.VerifyFamilyKnowledge(
                    population_pb2.VerifyFamilyKnowledgeRequest(
                        nik=nik, kk_number=kk_number, mother_name=mother
                    ),
                    timeout=_CALL_TIMEOUT_S,
                )
            )
            # As at the portal: only when the register holds no phone for the NIK (else the
            # register's phone is the way in).
            if sign_in.registered and sign_in.phone_on_record == NO_PHONE and knows.match:
                found = await self._population.GetResident(
                    population_pb2.GetResidentRequest(
                        nik=nik, purpose=_purpose(request.key), actor=ACTOR
                    ),
                    timeout=_CALL_TIMEOUT_S,
                )
                if not await self._line.linked_elsewhere(request.key, found.id):
                    resident = found
        locked = await self._line.record_link(
            request.key,
            resident.id if resident is not None else None,
            resident.desa_code if resident is not None else "",
        )
        if resident is None:
            return LinkResult(locked=locked)
        return LinkResult(
            holder=Holder(resident_id=resident.id, name=resident.name, desa_code=resident.desa_code)
        )

    @activity.defn(name=ACTIVITY_LETTER_TYPES)
    async def letter_types(self, desa_code: str) -> list[LetterForm]:
        """What the desa offers (verification), as intake describes it (its catalogue)."""
        offered: directory_pb2.ListOfferedLetterTypesResponse = (
            await self._directory.ListOfferedLetterTypes(
                directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code),
                timeout=_CALL_TIMEOUT_S,
            )
        )
        catalogue: intake_pb2.LetterTypeCatalogue = await self._intake.ListLetterTypes(
            intake_pb2.ListLetterTypesRequest(), timeout=_CALL_TIMEOUT_S
        )
        by_code = {lt.code: lt for lt in catalogue.letter_types}
        return [
            LetterForm(
                code=lt.code,
                name=lt.name,
                questions=[
                    Question(
                        name=f.name,
                        label=f.label,
                        required=f.required,
                        kind=f.kind,
                        max_length=f.max_length,
                        choices=list(f.choices),
                    )
                    for f in lt.fields
                ],
                requirements=[Requirement(code=r.code, name=r.name) for r in lt.requirements],
                optional=[Requirement(code=r.code, name=r.name) for r in lt.optional_syarat],
                originals=[r.name for r in lt.bring_originals],
                max_scans=MAX_SCANS_PER_MESSAGE,
            )
            for code in offered.letter_types
            if (lt := by_code.get(code)) is not None
        ]

    @activity.defn(name=ACTIVITY_REGISTER_SUMMARY)
    async def register_summary(self, request: RegisterRequest) -> RegisterSummary:
        """The register's data to confirm, in a few lines; the NIK masked (a shared phone's
        other holders may read the chat). With the form fields the register fills for this
        resident: intake takes those from the register, so the chat does not ask them."""
        r = await self._resident(request.key, request.resident_id)
        place = ", ".join(
            p
            for p in (
                r.address,
                f"RT {r.rt}/RW {r.rw}" if r.rt or r.rw else "",
                f"Dusun {r.dusun}" if r.dusun else "",
            )
            if p
        )
        lines = [
            f"Nama: {r.name}",
            f"NIK: {_masked(r.nik)}",
            f"Tempat/tgl lahir: {r.birth_place or '-'}, {r.birth_date or '-'}",
            f"Alamat: {place or '-'}",
        ]
        filled = list(register_values(list(REGISTER_FIELDS), r))
        return RegisterSummary(text="\n".join(lines), filled=filled)

    @activity.defn(name=ACTIVITY_CORRECTABLE)
    async def correctable(self, request: RegisterRequest) -> list[Option]:
        """The register's fields a resident may ask to correct (the portal's list), each with
        the value held now: the rows of "Data mana yang salah?"."""
        r = await self._resident(request.key, request.resident_id)
        return [
            Option(name, label[:24], (REGISTER_FIELDS[name](r).strip() or "-")[:72])
            for name, label in w.CORRECTABLE_FIELDS.items()
        ]

    @activity.defn(name=ACTIVITY_REQUEST_CORRECTION)
    async def request_correction(self, request: CorrectionRequest) -> str:
        """Intake's register correction request (RequestRegisterCorrectionOfResident, the
        portal's use case). "" when filed, else intake's Indonesian message."""
        resident = await self._resident(request.key, request.resident_id)
        try:
            await self._intake.RequestRegisterCorrectionOfResident(
                intake_pb2.RequestRegisterCorrectionOfResidentRequest(
                    nik=resident.nik, field=request.field, proposed_value=request.value
                ),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION,
            ):
                return exc.details() or "Permintaan perbaikan tidak dapat dikirim."
            raise
        return ""

    @activity.defn(name=ACTIVITY_CHECK_FIELD)
    async def check_field(self, check: FieldCheck) -> FieldAnswer:
        answer: intake_pb2.CheckLetterFieldResponse = await self._intake.CheckLetterField(
            intake_pb2.CheckLetterFieldRequest(
                letter_type=check.letter_type, name=check.name, value=check.value
            ),
            timeout=_CALL_TIMEOUT_S,
        )
        return FieldAnswer(value=answer.value, error=answer.error)

    @activity.defn(name=ACTIVITY_FETCH_MEDIA)
    async def fetch_media(self, request: MediaRequest) -> MediaResult:
        return await self._line.fetch_media(request)

    @activity.defn(name=ACTIVITY_SUBMIT)
    async def submit(self, submission: Submission) -> Submitted:
        """The same filing as a walk-in (intake's FileWalkIn, its checks and workflow), with
        channel "whatsapp"; idempotent per request id."""
        resident = await self._resident(submission.key, submission.resident_id)
        phone = await self._line.phone_of(submission.key)
        attachments = []
        for code, ref in submission.attachments.items():
            if ref == KEPT:
                attachments.append(intake_pb2.WalkInAttachment(kind=code, from_kept=True))
                continue
            staged = await self._line.staged(submission.key, ref)
            if staged is None:
                return Submitted(problem="Berkas yang dikirim sudah tidak tersimpan. Ketik batal.")
            content, content_type = staged
            extension = {"application/pdf": "pdf", "image/png": "png"}.get(content_type, "jpg")
            attachments.append(
                intake_pb2.WalkInAttachment(
                    kind=code, content=content, filename=f"whatsapp-{code.lower()}.{extension}"
                )
            )
        try:
            filed: intake_pb2.FileWalkInResponse = await self._intake.FileWalkIn(
                intake_pb2.FileWalkInRequest(
                    request_id=submission.request_id,
                    desa_code=submission.desa_code,
                    nik=resident.nik,
                    phone=phone,
                    letter_type=submission.letter_type,
                    purpose=submission.purpose,
                    fields=submission.fields,
                    attachments=attachments,
                    channel=WHATSAPP_CHANNEL,
                ),
                timeout=_CALL_TIMEOUT_S * 3,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.FAILED_PRECONDITION,
            ):
                # Intake's Indonesian message, naming no person.
                return Submitted(problem=exc.details() or "Permohonan tidak dapat dikirim.")
            raise
        staged_refs = [ref for ref in submission.attachments.values() if ref != KEPT]
        await self._line.drop_staged(submission.key, staged_refs)
        return Submitted(application_id=filed.application_id)

    @activity.defn(name=ACTIVITY_KEPT)
    async def kept_documents(self, request: RegisterRequest) -> list[str]:
        """The syarat (KTP, KK) intake keeps on file for this resident, still valid."""
        resident = await self._resident(request.key, request.resident_id)
        kept: intake_pb2.ListKeptDocumentsResponse = await self._intake.ListKeptDocuments(
            intake_pb2.ListKeptDocumentsRequest(nik=resident.nik), timeout=_CALL_TIMEOUT_S
        )
        return list(kept.kinds)

    @activity.defn(name=ACTIVITY_CANCELLABLE)
    async def cancellable(self, request: RegisterRequest) -> list[AppRef]:
        """The resident's applications that may still be withdrawn."""
        resident = await self._resident(request.key, request.resident_id)
        listed: intake_pb2.ListApplicationsOfResidentResponse = (
            await self._intake.ListApplicationsOfResident(
                intake_pb2.ListApplicationsOfResidentRequest(nik=resident.nik, open_only=True),
                timeout=_CALL_TIMEOUT_S,
            )
        )
        return [
            AppRef(id=a.id, number=a.number, name=a.letter_type_name)
            for a in listed.applications
            if a.status in CANCELLABLE
        ]

    @activity.defn(name=ACTIVITY_CANCEL_APPLICATION)
    async def cancel_application(self, request: CancelRequest) -> str:
        """Intake's cancel of the resident's own application; "" when done, else intake's
        Indonesian message."""
        resident = await self._resident(request.key, request.resident_id)
        try:
            await self._intake.CancelApplicationOfResident(
                intake_pb2.CancelApplicationOfResidentRequest(
                    nik=resident.nik, application_id=request.application_id
                ),
                timeout=_CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                return exc.details() or "Permohonan ini tidak dapat dibatalkan."
            raise
        return ""

    @activity.defn(name=ACTIVITY_REVISABLE)
    async def revisable(self, request: RegisterRequest) -> list[Revisable]:
        """The resident's applications returned for revision, with their letter's syarat."""
        resident = await self._resident(request.key, request.resident_id)
        listed: intake_pb2.ListApplicationsOfResidentResponse = (
            await self._intake.ListApplicationsOfResident(
                intake_pb2.ListApplicationsOfResidentRequest(nik=resident.nik, open_only=True),
                timeout=_CALL_TIMEOUT_S,
            )
        )
        returned = [a for a in listed.applications if a.status == "revision_requested"]
        if not returned:
            return []
        catalogue: intake_pb2.LetterTypeCatalogue = await self._intake.ListLetterTypes(
            intake_pb2.ListLetterTypesRequest(), timeout=_CALL_TIMEOUT_S
        )
        by_code = {lt.code: lt for lt in catalogue.letter_types}
        return [
            Revisable(
                id=a.id,
                number=a.number,
                name=a.letter_type_name,
                requirements=[
                    Requirement(code=r.code, name=r.name)
                    for r in (
                        by_code[a.letter_type].requirements if a.letter_type in by_code else []
                    )
                ],
            )
            for a in returned
        ]

    @activity.defn(name=ACTIVITY_REVISE)
    async def revise(self, request: ReviseRequest) -> str:
        """The staged file replaces that syarat and the application is resubmitted (intake's
        ReviseApplicationOfResident, the portal's revise). "" when done, else intake's
        Indonesian message. A retry after it went through gets the same answer."""
        resident = await self._resident(request.key, request.resident_id)
        staged = await self._line.staged(request.key, request.ref)
        if staged is None:
            return "Berkas yang dikirim sudah tidak tersimpan. Kirim lagi fotonya."
        content, content_type = staged
        extension = {"application/pdf": "pdf", "image/png": "png"}.get(content_type, "jpg")
        try:
            await self._intake.ReviseApplicationOfResident(
                intake_pb2.ReviseApplicationOfResidentRequest(
                    nik=resident.nik,
                    application_id=request.application_id,
                    kind=request.kind,
                    content=content,
                    filename=f"whatsapp-{request.kind.lower()}.{extension}",
                ),
                timeout=_CALL_TIMEOUT_S * 3,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.FAILED_PRECONDITION,
            ):
                return exc.details() or "Berkas tidak dapat dipakai untuk perbaikan."
            raise
        await self._line.drop_staged(request.key, [request.ref])
        return ""

    @activity.defn(name=ACTIVITY_DROP_MEDIA)
    async def drop_media(self, request: MediaRequest) -> None:
        """A staged file the resident decided not to use."""
        await self._line.drop_staged(request.key, [request.media_id])

    @activity.defn(name=ACTIVITY_STATUS)
    async def status(self, request: RegisterRequest) -> str:
        resident = await self._resident(request.key, request.resident_id)
        listed: intake_pb2.ListApplicationsOfResidentResponse = (
            await self._intake.ListApplicationsOfResident(
                intake_pb2.ListApplicationsOfResidentRequest(nik=resident.nik, open_only=True),
                timeout=_CALL_TIMEOUT_S,
            )
        )
        if not listed.applications:
            return "Tidak ada permohonan yang sedang berjalan."
        lines = ["Permohonan Anda:"]
        for a in listed.applications:
            state = STATUS_WORDS.get(a.status, a.status)
            lines.append(f"• {a.number or '-'} {a.letter_type_name}: {state}")
        return "\n".join(lines)

    @activity.defn(name=ACTIVITY_SEND)
    async def send(self, reply: Reply) -> None:
        # The workflow's clock decides the 24-hour window (the same as the wall clock in
        # production; skipped ahead in tests).
        await self._line.send(reply, activity.info().current_attempt_scheduled_time)

    @activity.defn(name=ACTIVITY_TO_OFFICE)
    async def to_office(self, message: OfficeMessage) -> None:
        await self._line.to_office(message)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.identify,
            self.letter_types,
            self.register_summary,
            self.check_field,
            self.fetch_media,
            self.submit,
            self.status,
            self.send,
            self.to_office,
            self.expect_secret,
            self.link,
            self.kept_documents,
            self.cancellable,
            self.cancel_application,
            self.revisable,
            self.revise,
            self.drop_media,
            self.correctable,
            self.request_correction,
        ]
